#!/usr/bin/env python3
"""Benchmark stock asyncio vs uvloop vs casyncio.

    python bench/run.py [--quick] [--only PATTERN[,..]] [--impl asyncio,uvloop,casyncio]
                        [--rounds N] [--json FILE] [--markdown] [--casyncio-path DIR]

Method
------
* Every measurement runs in a FRESH SUBPROCESS per (implementation, workload,
  round). Reasons: (1) a segfault/hang in the C extension under test becomes an
  ERROR cell instead of killing the harness; (2) no implementation inherits
  another one's heap, GC generations, freelists or imported modules; (3) each
  measurement gets a fresh event loop made by the implementation's factory.
* Inside the subprocess the workload runs once as an untimed warm-up (about a
  tenth of the size, on its own loop), then ``--reps`` times (default 3) timed,
  each on a NEW loop via ``asyncio.Runner(loop_factory=FACTORY)`` where FACTORY
  is ``asyncio.new_event_loop`` / ``uvloop.new_event_loop`` /
  ``casyncio.new_event_loop``. The subprocess reports the best of those reps
  (as timeit does: on a shared VM, interference only ever slows a run down).
  Only the hot part is timed (perf_counter inside the coroutine); loop
  creation and teardown are not.
* Measurements are interleaved: for each round, for each workload, every
  implementation runs once, with the implementation order rotated between
  rounds so drift in machine state (thermal, noisy neighbours) hits all
  implementations alike. The table shows the MEDIAN over the rounds of those
  per-process bests, and ``±`` half their min-max spread relative to the median.
* Every workload verifies its result; a wrong result, exception, crash or
  timeout shows as ERROR in that cell (details listed under the table).

casyncio is imported from the normal ``sys.path`` of the child processes: put
its package directory on PYTHONPATH (``PYTHONPATH=/work/main/python``) or pass
``--casyncio-path DIR`` (prepended to the children's PYTHONPATH). If it cannot
be imported or has no ``new_event_loop`` yet, it is skipped with a message.
"""

import argparse
import asyncio
import datetime
import fnmatch
import gc
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import workloads as W  # noqa: E402

IMPLS = ["asyncio", "uvloop", "casyncio"]
RESULT_TAG = "BENCH_RESULT "


# ==========================================================================
# Child side: load one implementation, run one workload, print JSON.
# ==========================================================================

class Unavailable(Exception):
    pass


def load_impl(name):
    """Return (module, loop_factory, native_lib_or_None) for an implementation.

    native_lib holds the implementation's own sleep/gather (falling back to
    asyncio's for whichever is missing); None when it has neither."""
    if name == "asyncio":
        return asyncio, asyncio.new_event_loop, None
    if name == "uvloop":
        try:
            import uvloop
        except ImportError as e:
            raise Unavailable(f"uvloop not installed ({e}); pip install uvloop")
        return uvloop, uvloop.new_event_loop, None
    if name == "casyncio":
        try:
            import casyncio
        except ImportError as e:
            raise Unavailable(f"cannot import casyncio ({e}); set PYTHONPATH or --casyncio-path")
        factory = getattr(casyncio, "new_event_loop", None)
        if factory is None:
            raise Unavailable(f"casyncio at {getattr(casyncio, '__file__', '?')} has no "
                              "new_event_loop (placeholder build?)")
        own_sleep = getattr(casyncio, "sleep", None)
        own_gather = getattr(casyncio, "gather", None)
        native = None
        if own_sleep is not None or own_gather is not None:
            native = types.SimpleNamespace(
                sleep=own_sleep or asyncio.sleep,
                gather=own_gather or asyncio.gather,
                has_sleep=own_sleep is not None,
                has_gather=own_gather is not None)
        return casyncio, factory, native
    raise Unavailable(f"unknown implementation {name!r}")


# What a [native] row needs from the implementation.
NATIVE_NEEDS = {"sleep0[native]": "has_sleep",
                "task_gather[native]": "has_gather",
                "async_tree_none[native]": "has_gather"}


def native_ok(native, wname):
    return native is not None and getattr(native, NATIVE_NEEDS.get(wname, "has_gather"), False)


def child_probe(impl):
    info = {"impl": impl}
    try:
        mod, factory, native = load_impl(impl)
    except Unavailable as e:
        info.update(available=False, reason=str(e))
        return info
    except Exception as e:  # broken import
        info.update(available=False, reason=f"import failed: {type(e).__name__}: {e}")
        return info
    info.update(available=True,
                version=getattr(mod, "__version__", None) or (platform.python_version() if impl == "asyncio" else None),
                file=getattr(mod, "__file__", None),
                native={w: native_ok(native, w) for w in NATIVE_NEEDS})
    try:
        loop = factory()
        info["loop_class"] = f"{type(loop).__module__}.{type(loop).__qualname__}"
        loop.close()
    except Exception as e:
        info["loop_class"] = f"ERROR creating loop: {type(e).__name__}: {e}"
    return info


def run_once(factory, func, lib, n):
    """Run func(lib, n) on a fresh loop; returns ((elapsed, ops), warning)."""
    runner = asyncio.Runner(loop_factory=factory)
    try:
        result = runner.run(func(lib, n))
    finally:
        try:
            runner.close()
            warning = None
        except Exception as e:  # measurement is valid, teardown is not
            warning = f"Runner.close() failed: {type(e).__name__}: {e}"
    return result, warning


def child_measure(impl, wname, n, warmup_n, reps, pin):
    if pin is not None:
        os.sched_setaffinity(0, {pin})
    _, factory, native = load_impl(impl)
    w = W.BY_NAME[wname]
    if w.native:
        if not native_ok(native, wname):
            return {"error": f"{impl} has no native primitive for {wname}"}
        lib = native
    else:
        lib = asyncio
    warnings = []
    if warmup_n:
        _, warn = run_once(factory, w.func, lib, warmup_n)
        if warn:
            warnings.append(warn)
    runs = []
    for _ in range(max(reps, 1)):
        gc.collect()
        (elapsed, ops), warn = run_once(factory, w.func, lib, n)
        if warn and warn not in warnings:
            warnings.append(warn)
        runs.append(elapsed)
    best = min(runs)
    return {"elapsed": best, "runs": runs, "ops": ops, "ops_per_s": ops / best, "warnings": warnings}


def child_main(args):
    if args.probe:
        out = child_probe(args.probe)
    else:
        impl, wname, n, warmup_n = args.child
        try:
            out = child_measure(impl, wname, int(n), int(warmup_n), args.reps, args.pin)
        except W.WorkloadError as e:
            out = {"error": f"wrong result: {e}"}
        except Exception as e:
            out = {"error": f"{type(e).__name__}: {e}"}
    sys.stdout.write(RESULT_TAG + json.dumps(out) + "\n")
    sys.stdout.flush()


# ==========================================================================
# Parent side: plan, run children, aggregate, print.
# ==========================================================================

def child_env(args):
    env = dict(os.environ)
    for var in ("PYTHONASYNCIODEBUG", "PYTHONDEVMODE", "PYTHONTRACEMALLOC", "PYTHONMALLOC"):
        env.pop(var, None)
    env["PYTHONHASHSEED"] = "0"
    if args.casyncio_path:
        parts = [os.path.abspath(args.casyncio_path)]
        if env.get("PYTHONPATH"):
            parts.append(env["PYTHONPATH"])
        env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


def spawn(argv, env, timeout):
    cmd = [sys.executable, os.path.abspath(__file__)] + argv
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"TIMEOUT after {timeout:.0f}s"}
    for line in p.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    tail = (p.stderr.strip().splitlines() or ["(no stderr)"])[-1]
    how = f"exit code {p.returncode}"
    if p.returncode < 0:
        try:
            how = f"killed by {signal.Signals(-p.returncode).name}"
        except ValueError:
            pass
    return {"error": f"child {how}, no result: {tail}"}


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def fmt_rate(x):
    if x is None:
        return "-"
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if x >= div:
            return f"{x / div:.3g}{suffix}" if x / div >= 100 else f"{x / div:.2f}{suffix}"
    return f"{x:.0f}"


def fmt_ratio(a, b):
    if a is None or b is None:
        return "-"
    return f"{a / b:.2f}x"


def summarize(samples):
    med = statistics.median(samples)
    spread = (max(samples) - min(samples)) / 2 / med if len(samples) > 1 else 0.0
    return med, spread


def build_rows(workloads, impls, results):
    """Rows of cells for the table; ratios use medians."""
    rows = []
    medians = {}
    for w in workloads:
        cells = {}
        for impl in impls:
            r = results[w.name].get(impl)
            if r is None:
                cells[impl] = "n/a" if w.native else "skip"
            elif r.get("error"):
                cells[impl] = "ERROR"
            elif r.get("samples"):
                med, spread = summarize(r["samples"])
                medians[(w.name, impl)] = med
                cells[impl] = f"{fmt_rate(med)} ±{spread * 100:.0f}%"
            else:
                cells[impl] = "-"
        base = w.base or w.name
        cas = medians.get((w.name, "casyncio"))
        aio = medians.get((base, "asyncio"))
        uv = medians.get((base, "uvloop"))
        uv_own = medians.get((w.name, "uvloop"))
        aio_own = medians.get((w.name, "asyncio"))
        rows.append({
            "workload": w.name, "op": w.op, "cells": cells,
            "cas/aio": fmt_ratio(cas, aio) + ("*" if w.native and cas and aio else ""),
            "cas/uv": fmt_ratio(cas, uv) + ("*" if w.native and cas and uv else ""),
            "uv/aio": fmt_ratio(uv_own, aio_own),
        })
    return rows


def render_text(rows, impls):
    head = ["workload", "op"] + [f"{i} ops/s" for i in impls] + ["cas/aio", "cas/uv", "uv/aio"]
    body = [[r["workload"], r["op"]] + [r["cells"][i] for i in impls]
            + [r["cas/aio"], r["cas/uv"], r["uv/aio"]] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    lines = []
    for k, row in enumerate([head] + body):
        cols = [str(c).ljust(widths[i]) if i < 2 else str(c).rjust(widths[i]) for i, c in enumerate(row)]
        lines.append("  ".join(cols).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_markdown(rows, impls):
    head = ["workload", "op"] + [f"{i} ops/s" for i in impls] + ["casyncio/asyncio", "casyncio/uvloop", "uvloop/asyncio"]
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join(["---", "---"] + ["---:"] * (len(head) - 2)) + "|"]
    for r in rows:
        cells = [f"`{r['workload']}`", r["op"]] + [r["cells"][i] for i in impls] + [r["cas/aio"], r["cas/uv"], r["uv/aio"]]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def select_workloads(only):
    if not only:
        return list(W.WORKLOADS)
    pats = [p.strip() for p in only.split(",") if p.strip()]
    chosen = [w for w in W.WORKLOADS
              if any(fnmatch.fnmatchcase(w.name, p) or w.name == p or w.base == p for p in pats)]
    if not chosen:
        sys.exit(f"--only {only!r} matches no workload; see --list")
    return chosen


def size_for(w, args):
    if w.size_is_depth:
        n = w.quick_n if args.quick else w.n
        return n, max(n - 2, 1)
    n = w.quick_n if args.quick else w.n
    n = max(int(n * args.scale), 1000)
    return n, max(n // 10, 100)


def parent_main(args):
    impls = [i.strip() for i in args.impl.split(",") if i.strip()]
    for i in impls:
        if i not in IMPLS:
            sys.exit(f"unknown implementation {i!r}; choose from {', '.join(IMPLS)}")
    workloads = select_workloads(args.only)
    rounds = args.rounds or (3 if args.quick else 5)
    reps = args.reps or (2 if args.quick else 3)
    env = child_env(args)
    log = sys.stderr

    # Probe implementations (in children, with the same environment).
    probes = {i: spawn(["--probe", i], env, 60) for i in impls}
    active = []
    for i in impls:
        p = probes[i]
        if p.get("available"):
            active.append(i)
            print(f"# {i}: {p.get('version') or ''} from {p.get('file')}; loop class {p.get('loop_class')}", file=log)
        else:
            print(f"# SKIPPING {i}: {p.get('reason') or p.get('error')}", file=log)
    if not active:
        sys.exit("no implementation available")

    results = {w.name: {} for w in workloads}
    for w in workloads:
        for i in active:
            if w.native and not probes[i].get("native", {}).get(w.name):
                continue  # row only for implementations with their own primitive
            results[w.name][i] = {"samples": [], "error": None}

    t_start = time.time()
    for rnd in range(rounds):
        for wi, w in enumerate(workloads):
            n, warm = size_for(w, args)
            order = [i for i in active if i in results[w.name]]
            if order:
                k = (rnd + wi) % len(order)
                order = order[k:] + order[:k]
            for impl in order:
                slot = results[w.name][impl]
                if slot["error"]:
                    continue  # already failed: don't waste time
                argv = ["--child", impl, w.name, str(n), str(0 if args.no_warmup else warm),
                        "--reps", str(reps)]
                if args.pin is not None:
                    argv += ["--pin", str(args.pin)]
                r = spawn(argv, env, args.timeout)
                if r.get("error"):
                    slot["error"] = r["error"]
                    print(f"  [{rnd + 1}/{rounds}] {w.name:24} {impl:9} ERROR: {r['error']}", file=log)
                    continue
                slot["samples"].append(r["ops_per_s"])
                slot.setdefault("elapsed", []).append(r["runs"])
                for warn in r.get("warnings", []):
                    slot.setdefault("warnings", set()).add(warn)
                print(f"  [{rnd + 1}/{rounds}] {w.name:24} {impl:9} {r['elapsed']:.3f}s "
                      f"{fmt_rate(r['ops_per_s'])} ops/s", file=log)
    wall = time.time() - t_start

    uv_version = probes.get("uvloop", {}).get("version") if probes.get("uvloop", {}).get("available") else None
    if uv_version is None:
        try:
            import uvloop
            uv_version = uvloop.__version__
        except ImportError:
            uv_version = "not installed"
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu_model()} ({os.cpu_count()} CPUs)",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "uvloop": uv_version,
        "casyncio": (probes["casyncio"].get("file") if probes.get("casyncio", {}).get("available")
                     else (probes.get("casyncio", {}).get("reason") if "casyncio" in probes else "not requested")),
        "method": (f"median of {rounds} rounds x best of {reps} runs; fresh subprocess per "
                   f"(impl, workload, round), fresh loop per run, interleaved; "
                   f"{'quick' if args.quick else 'full'} sizes"
                   + (f" x{args.scale}" if args.scale != 1 else "")),
        "wall_seconds": round(wall, 1),
    }

    rows = build_rows(workloads, impls, results)
    print()
    print("casyncio benchmark")
    for k, v in meta.items():
        print(f"  {k + ':':13} {v}")
    print()
    print(render_text(rows, impls))
    notes = table_notes(workloads, impls, results)
    if notes:
        print()
        print("\n".join(notes))

    if args.markdown:
        print()
        print("\n".join(f"- **{k}**: {v}" for k, v in meta.items()))
        print()
        print(render_markdown(rows, impls))

    if args.json:
        doc = {"meta": meta, "probes": probes,
               "workloads": {w.name: {"op": w.op, "doc": w.doc, "n": size_for(w, args)[0],
                                      "size_is_depth": w.size_is_depth, "base": w.base,
                                      "results": {i: {"samples_ops_per_s": r["samples"],
                                                      "run_seconds": r.get("elapsed", []),
                                                      "median_ops_per_s": (statistics.median(r["samples"])
                                                                           if r["samples"] else None),
                                                      "error": r["error"],
                                                      "warnings": sorted(r.get("warnings", ()))}
                                                  for i, r in results[w.name].items()}}
                             for w in workloads}}
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
        print(f"\nJSON written to {args.json}", file=log)

    any_error = any(r["error"] for per in results.values() for r in per.values())
    return 1 if any_error else 0


def table_notes(workloads, impls, results):
    notes = ["ops/s = median over rounds of each process's best run; ± = half the min-max spread of those. Ratios compare medians.",
             "op definitions: python bench/run.py --list"]
    if any(w.native for w in workloads):
        notes.append("[native] rows: casyncio with its own sleep/gather (casyncio.sleep, casyncio.gather);"
                     " ratios marked * compare it with the base row's asyncio/uvloop numbers (asyncio.sleep/gather).")
    for w in workloads:
        for i, r in results[w.name].items():
            if r["error"]:
                notes.append(f"ERROR {w.name} / {i}: {r['error']}")
            for warn in sorted(r.get("warnings", ())):
                notes.append(f"warning {w.name} / {i}: {warn}")
    return notes


def list_workloads():
    for w in W.WORKLOADS:
        size = (f"depth {w.n} (quick {w.quick_n})" if w.size_is_depth
                else f"n={w.n:,} (quick {w.quick_n:,})")
        print(f"{w.name}  [{size}]")
        print(f"    {w.doc}")
        if w.native:
            print(f"    Uses the implementation's own sleep/gather; only measured where it has them (casyncio).")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="~10x smaller workloads, 3 rounds by default")
    ap.add_argument("--only", metavar="PATTERN[,..]",
                    help="workloads to run: names or globs, e.g. 'sleep0*,timers' (a base name also selects its [native] row)")
    ap.add_argument("--impl", default=",".join(IMPLS), help="comma-separated subset of: " + ", ".join(IMPLS))
    ap.add_argument("--rounds", type=int, help="rounds per (impl, workload); default 5, 3 with --quick")
    ap.add_argument("--reps", type=int,
                    help="timed runs per subprocess (fresh loop each), best one counts; default 3, 2 with --quick")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply workload sizes (not tree depth)")
    ap.add_argument("--json", metavar="FILE", help="also write all samples and metadata as JSON")
    ap.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    ap.add_argument("--casyncio-path", metavar="DIR",
                    help="directory holding the casyncio package, prepended to the children's PYTHONPATH")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds before a measurement is an ERROR")
    ap.add_argument("--pin", type=int, metavar="CPU", help="pin measurement processes to this CPU")
    ap.add_argument("--no-warmup", action="store_true", help="skip the untimed warm-up run")
    ap.add_argument("--list", action="store_true", help="list workloads and what one op is")
    ap.add_argument("--child", nargs=4, metavar=("IMPL", "WORKLOAD", "N", "WARMUP_N"), help=argparse.SUPPRESS)
    ap.add_argument("--probe", metavar="IMPL", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child or args.probe:
        return child_main(args)
    if args.list:
        return list_workloads()
    return parent_main(args)


if __name__ == "__main__":
    sys.exit(main())
