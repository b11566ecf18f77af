#!/usr/bin/env python3
"""Where an application server's CPU goes, per request: casyncio's C, the
event loop's Python (asyncio's or casyncio's package), the framework (its
Python and its C extensions), the interpreter and the kernel.

    python bench/perf_split.py ROW [--impl casyncio,asyncio,uvloop]
                               [--seconds 4] [--top 25]

ROW: one of apps.py's rows (aiohttp, starlette, asgi, websockets).  The
server (app_servers.py) runs pinned to CPU 0 with `-X perf` (CPython 3.12+:
each Python function gets a trampoline that perf can name), its load on
CPU 1 (`wrk -t1 -c50`, or ws_load.py's 10 connections x 8 messages); after
a warm-up, `perf record --call-graph dwarf` samples the server while the
load counts requests (messages).  Each sample is put in one bucket by the code
it was in: the kernel; casyncio's _core; uvloop; a framework's C extension;
else (the interpreter, libc) by the innermost Python function on its stack,
by that function's file: asyncio/, casyncio/, the framework's packages, the
rest of the standard library.  Reported: each bucket's share and its
microseconds per request (share x the server's CPU per request while
perf records: perf's own stack copies inflate that by ~1.5x, so compare
shares, or apply them to apps.py's CPU per request).
Needs perf and permission to profile (root, or perf_event_paranoid <= 1).
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from net import Server, app_server_argv, pinned, run_wrk  # noqa: E402
from run import child_env  # noqa: E402

FRAMEWORK = ("aiohttp", "uvicorn", "starlette", "httptools", "websockets",
             "multidict", "yarl", "propcache", "frozenlist", "aiosignal",
             "anyio", "h11", "sniffio", "click")
PY_FRAME = re.compile(r"py::(\S+?):(\S+)")


def bucket_of_dso(dso):
    base = os.path.basename(dso)
    if dso.startswith("[kernel") or dso == "[vdso]":
        return "kernel"
    if base.startswith("_core.") and "casyncio" in dso:
        return "casyncio C (_core)"
    if "uvloop" in dso:
        return "uvloop C"
    if base.startswith("_asyncio."):
        return "stdlib _asyncio C (Task, Future)"
    if any(f"/{f}/" in dso for f in FRAMEWORK):
        return "framework C extensions"
    return None


def bucket_of_file(path):
    parts = path.split("/")
    if "casyncio" in parts:
        return "casyncio Python (python/casyncio)"
    if any(f in parts for f in FRAMEWORK):
        return "framework Python"      # before asyncio: websockets/asyncio/
    if "asyncio" in parts:
        return "asyncio Python (stdlib asyncio/)"
    return "other Python (stdlib, bench)"


def classify(stack):
    """stack: [(sym, dso)], innermost first."""
    sym, dso = stack[0]
    b = bucket_of_dso(dso)
    if b:
        return b
    for sym, dso in stack:
        m = PY_FRAME.search(sym)
        if m:
            return bucket_of_file(m.group(2))
        b = bucket_of_dso(dso)
        if b in ("casyncio C (_core)", "uvloop C",
                 "stdlib _asyncio C (Task, Future)"):
            # The interpreter doing what the loop asked (calling a
            # callback's C parts, refcounts): the loop's cost.
            return b + ", in the interpreter"
    return "interpreter, no Python frame"


def parse(script_out):
    samples = []
    stack = []
    for line in script_out.splitlines():
        if not line.strip():
            if stack:
                samples.append(stack)
            stack = []
            continue
        if line[0] in " \t":
            # "\t    7f... sym+0x12 (/path/dso)"
            parts = line.strip().split(None, 1)
            if len(parts) < 2:
                continue
            rest = parts[1]
            dso = rest[rest.rfind("(") + 1:-1] if rest.endswith(")") else ""
            sym = rest[:rest.rfind("(")].strip() if "(" in rest else rest
            stack.append((sym, dso))
    if stack:
        samples.append(stack)
    return samples


def profile(args, env, impl):
    env = dict(env, PYTHONPERFSUPPORT="1")
    srv = Server(app_server_argv(impl, args.row), env, args.server_cpu)
    tmp = tempfile.mkdtemp(prefix="perf-split-")
    data = os.path.join(tmp, "perf.data")
    try:
        if args.row == "websockets":
            # ws_load's own warm-up (1 s) and window cover perf's.
            load = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "ws_load.py"),
                 "127.0.0.1", str(srv.port), "10", "32", "8", "1",
                 str(round(args.seconds) + 2), str(srv.proc.pid)],
                stdout=subprocess.PIPE, text=True, env=env,
                preexec_fn=pinned(args.client_cpu))
            time.sleep(1.0)
        else:
            run_wrk(args, srv.port, 1)
            load = subprocess.Popen(
                ["wrk", "-t1", f"-c{args.conns}",
                 f"-d{round(args.seconds) + 2}s",
                 f"http://127.0.0.1:{srv.port}/"], stdout=subprocess.PIPE,
                text=True, preexec_fn=pinned(args.client_cpu))
        time.sleep(0.5)
        cpu0 = srv.cpu()
        perf = subprocess.run(
            ["perf", "record", "-q", "-F", str(args.freq), "--call-graph",
             "dwarf,16384", "-p", str(srv.proc.pid), "-o", data, "--",
             "sleep", str(args.seconds)], capture_output=True, text=True)
        cpu1 = srv.cpu()
        out = load.communicate()[0]
        if perf.returncode != 0:
            raise RuntimeError(perf.stderr.strip()[-300:])
        if args.row == "websockets":
            r = json.loads(out)
            rate = r["msgs"] / r["secs"] if r["msgs"] else None
        else:
            m = re.search(r"Requests/sec:\s+([\d.]+)", out)
            rate = float(m.group(1)) if m else None
        script = subprocess.run(
            ["perf", "script", "-i", data, "-F", "ip,sym,dso",
             "--no-inline"], capture_output=True, text=True)
        if not script.stdout:
            raise RuntimeError("perf script: " + script.stderr[-300:])
        script = script.stdout
    finally:
        srv.stop()
        subprocess.run(["rm", "-rf", tmp])
    samples = parse(script)
    # CPU per request over the perf window, from the load's average rate.
    cpu_per = (cpu1 - cpu0) / (rate * args.seconds) if rate else None
    return samples, cpu_per, rate


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("row", choices=["aiohttp", "starlette", "asgi",
                                    "websockets"])
    ap.add_argument("--impl", default="casyncio")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--freq", type=int, default=999)
    ap.add_argument("--conns", type=int, default=50)
    ap.add_argument("--top", type=int, default=20,
                    help="also list the N hottest symbols (0: none)")
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    ap.add_argument("--casyncio-path", metavar="DIR")
    args = ap.parse_args(argv)
    if sys.version_info < (3, 12):
        print("perf_split.py: CPython 3.11 has no -X perf: Python time is "
              "'interpreter, no Python frame'", file=sys.stderr)
    env = child_env(args)
    for impl in args.impl.split(","):
        samples, cpu_per, rate = profile(args, env, impl)
        counts = collections.Counter(classify(s) for s in samples)
        n = sum(counts.values())
        print(f"\n{args.row} on {impl}, CPython "
              f"{sys.version.split()[0]}: {n} samples, "
              f"{rate or 0:.0f} req/s, "
              f"{(cpu_per or 0) * 1e6:.1f} us CPU/req")
        print("| bucket | share | us/req under perf |\n|---|---:|---:|")
        for b, c in counts.most_common():
            us = f"{c / n * cpu_per * 1e6:.1f}" if cpu_per else "-"
            print(f"| {b} | {c / n:.1%} | {us} |")
        if args.top:
            funcs = collections.Counter()
            for st in samples:
                b = classify(st)
                if "Python" in b:
                    f = next(PY_FRAME.search(sym) for sym, _ in st
                             if PY_FRAME.search(sym))
                    funcs[f"{f.group(1)} ({b.split()[0]}: "
                          f"{os.path.basename(f.group(2))})"] += 1
            print(f"\nhottest Python functions (innermost frame), {impl}:")
            for fn, c in funcs.most_common(args.top):
                print(f"  {c / n:6.1%}  {fn[:110]}")
            syms = collections.Counter(
                f"{s[0][0]} ({os.path.basename(s[0][1])})" for s in samples)
            print(f"\nhottest symbols (self), {impl}:")
            for sym, c in syms.most_common(args.top):
                print(f"  {c / n:6.1%}  {sym[:110]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
