#!/usr/bin/env python3
"""Networking benchmarks: stock asyncio vs uvloop vs casyncio (vs plain C).

    python bench/net.py echo [--rounds N] [--sizes 1,10,100] [--kinds ...]
    python bench/net.py http [--rounds N] [--conns 50]

echo: echo servers (net_servers.py: Protocol, BufferedProtocol, streams,
sock_recv/sock_sendall) on each loop, plus the plain-C epoll server
echo_floor.c, under the C load generator echo_load.c (N connections, each
a ping-pong of fixed-size messages).  http: aiohttp's hello world under
wrk (app_servers.py's aiohttp server; apps.py --rows aiohttp is the same
measurement next to the other application servers).  The server is pinned to one CPU, the load generator to the other.

Per measurement: a fresh server process, a warm-up, then a window in which
the load generator counts completed round trips (requests for http) and
the server's user+sys CPU time is read from /proc/PID/stat at both ends.
Reported: messages/s and the server's CPU time per message (the robust
number: it holds when the load generator, or a neighbour on the machine,
is the limit).  Rounds interleave every implementation on every row, the
order rotated between rounds; the table shows medians over rounds.
"""

import argparse
import datetime
import json
import os
import platform
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import IMPLS, child_env, cpu_model, fmt_rate, summarize  # noqa: E402

ECHO_KINDS = ["protocol", "buffered", "streams", "sock"]
FLOOR = "floor"
FLOOR_URING = "floor_uring"     # echo_floor_uring.c: the io_uring floor
FLOORS = (FLOOR, FLOOR_URING)
# casyncio with its io_uring receive path (CASYNCIO_IO_URING=1)
CASYNCIO_URING = "casyncio_uring"


# ---- processes ----

def pinned(cpu):
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def build_c(outdir):
    """Compile echo_load.c, echo_floor.c and echo_floor_uring.c with
    cc -O2; their paths (the io_uring floor's only where it compiles: it
    needs <linux/io_uring.h>)."""
    paths = {}
    for name in ("echo_load", "echo_floor", "echo_floor_uring"):
        out = os.path.join(outdir, name)
        p = subprocess.run(["cc", "-O2", "-o", out,
                            os.path.join(HERE, name + ".c")],
                           capture_output=True, text=True)
        if p.returncode == 0:
            paths[name] = out
        elif name == "echo_floor_uring":
            paths[name] = None
        else:
            raise RuntimeError(f"cc {name}.c failed: {p.stderr.strip()}")
    return paths


class Server:
    """A server process; .port and .loop_class once it is listening."""

    def __init__(self, argv, env, cpu, timeout=30):
        self.proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     preexec_fn=pinned(cpu))
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else ""  # PORT or EOF
        if not line.startswith("PORT "):
            if self.proc.poll() is None:
                self.proc.kill()
            err = self.proc.stderr.read().strip().splitlines()
            self.stop()
            raise RuntimeError("server did not start within "
                               f"{timeout}s: " + (err[-1] if err else
                                                 f"rc={self.proc.returncode}"))
        parts = line.split()
        self.port = int(parts[1])
        self.loop_class = (f"{parts[2]} from {parts[3]}" if len(parts) > 3
                           else parts[2] if len(parts) > 2 else "C epoll")

    def cpu(self):
        """user+sys CPU seconds so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


def server_argv(impl, kind, bins):
    if impl in FLOORS:
        if bins["echo_" + impl] is None:
            raise RuntimeError(f"echo_{impl}.c did not compile here")
        return [bins["echo_" + impl], "0"]
    if impl == CASYNCIO_URING:
        impl = "casyncio"
    return [sys.executable, os.path.join(HERE, "net_servers.py"), impl, kind]


def server_env(env, impl):
    """casyncio_uring: casyncio with CASYNCIO_IO_URING=1; casyncio: with
    it unset (the default, epoll)."""
    env = dict(env)
    env.pop("CASYNCIO_IO_URING", None)
    if impl == CASYNCIO_URING:
        env["CASYNCIO_IO_URING"] = "1"
    return env


def measure_echo(args, bins, env, impl, kind, size):
    srv = Server(server_argv(impl, kind, bins), server_env(env, impl),
                 args.server_cpu)
    try:
        p = subprocess.run(
            [bins["echo_load"], "127.0.0.1", str(srv.port), str(args.conns),
             str(size), str(args.warmup), str(args.duration),
             str(srv.proc.pid)],
            capture_output=True, text=True, preexec_fn=pinned(args.client_cpu),
            timeout=args.warmup + args.duration + 30)
        if p.returncode != 0 or not srv.alive():
            raise RuntimeError((p.stderr.strip() or "server died")
                               .splitlines()[-1])
        r = json.loads(p.stdout)
        if r["msgs"] == 0:
            raise RuntimeError("no message completed")
        return {"rate": r["msgs"] / r["secs"],
                "cpu_per": r["server_cpu"] / r["msgs"],
                "loop_class": srv.loop_class}
    finally:
        srv.stop()


WRK_REQS = re.compile(r"(\d+) requests in ([\d.]+)(m?s)")


def run_wrk(args, port, duration):
    duration = max(1, round(duration))     # wrk takes whole seconds
    p = subprocess.run(
        ["wrk", "-t1", f"-c{args.conns}", f"-d{duration}s",
         f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, preexec_fn=pinned(args.client_cpu),
        timeout=duration + 30)
    out = p.stdout
    m = WRK_REQS.search(out)
    if p.returncode != 0 or m is None:
        raise RuntimeError(f"wrk failed: {(p.stderr or out).strip()[-200:]}")
    for bad in ("Non-2xx or 3xx responses", "Socket errors"):
        if bad in out:
            raise RuntimeError(f"wrk: {bad}: "
                               + out.split(bad, 1)[1].splitlines()[0])
    return int(m.group(1))


def app_server_argv(impl, kind):
    if impl == CASYNCIO_URING:
        impl = "casyncio"
    return [sys.executable, os.path.join(HERE, "app_servers.py"), impl, kind]


def measure_wrk(args, argv, env):
    """Server *argv* under wrk: a warm-up run, then the measured one."""
    srv = Server(argv, env, args.server_cpu)
    try:
        run_wrk(args, srv.port, args.warmup)
        cpu0, t0 = srv.cpu(), time.perf_counter()
        n = run_wrk(args, srv.port, args.duration)
        cpu1, t1 = srv.cpu(), time.perf_counter()
        secs = max(1, round(args.duration))
        if not srv.alive():
            raise RuntimeError("server died")
        # wrk's own count over its own window; the CPU window (t1 - t0)
        # holds wrk's start-up too, a few ms.
        return {"rate": n / secs, "cpu_per": (cpu1 - cpu0) / n,
                "loop_class": srv.loop_class, "window": t1 - t0}
    finally:
        srv.stop()


def measure_http(args, bins, env, impl, kind, size):
    return measure_wrk(args, app_server_argv(impl, "aiohttp"),
                       server_env(env, impl))


# ---- table ----

def fmt_us(x):
    return "-" if x is None else f"{x * 1e6:.1f}"


def fmt_x(a, b):
    return "-" if a is None or b is None else f"{a / b:.2f}x"


def build_rows(rows, impls, results):
    out = []
    for row in rows:
        med = {}
        for impl in impls:
            s = results.get((row, impl), [])
            ok = [x for x in s if "error" not in x]
            if ok:
                rate, rs = summarize([x["rate"] for x in ok])
                cpu, cs = summarize([x["cpu_per"] for x in ok])
                med[impl] = (rate, rs, cpu, cs)
        out.append((row, med))
    return out


def render(table, impls, markdown, unit):
    head = (["row"] + [f"{i} {unit}/s" for i in impls]
            + [f"{i} CPU us/{unit}" for i in impls])
    ratios = []
    if "casyncio" in impls:
        ratios += [(f"cpu c/{b}", b)
                   for b in ("asyncio", "uvloop", CASYNCIO_URING) + FLOORS
                   if b in impls]
        if "uvloop" in impls:
            ratios.append((f"{unit}/s c/uvloop", "rate"))
    head += [r[0] for r in ratios]
    lines = []
    for row, med in table:
        name = "/".join(str(x) for x in row if x)
        cells = [f"`{name}`" if markdown else name]
        for impl in impls:
            m = med.get(impl)
            cells.append("-" if m is None else f"{fmt_rate(m[0])} ±{m[1]:.0%}")
        for impl in impls:
            m = med.get(impl)
            cells.append("-" if m is None else f"{fmt_us(m[2])} ±{m[3]:.0%}")
        c = med.get("casyncio")
        for _, base in ratios:
            if base == "rate":
                u = med.get("uvloop")
                cells.append(fmt_x(c and c[0], u and u[0]))
            else:
                b = med.get(base)
                cells.append(fmt_x(c and c[2], b and b[2]))
        lines.append(cells)
    if markdown:
        txt = ["| " + " | ".join(head) + " |",
               "|---|" + "---:|" * (len(head) - 1)]
        txt += ["| " + " | ".join(c) + " |" for c in lines]
        return "\n".join(txt)
    widths = [max(len(r[i]) for r in [head] + lines) for i in range(len(head))]
    return "\n".join("  ".join(c.rjust(w) if i else c.ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths)))
                     for r in [head] + lines)


# ---- main ----

def report(args, header, rows_note, table, impls, unit, results, errors):
    """Print the run's header, the table (rows_note above it) and the
    errors; write --json.  The exit status: 1 if a measurement failed."""
    for k, v in header.items():
        print(f"- **{k}**: {v}" if args.markdown else f"{k}: {v}")
    print()
    if rows_note:
        print(rows_note)
    print(render(table, impls, args.markdown, unit))
    for row, impl, r, err in errors:
        print(f"ERROR {row} {impl} round {r + 1}: {err}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"header": header,
                       "results": [{"row": list(row), "impl": impl,
                                    "samples": s}
                                   for (row, impl), s in results.items()]},
                      f, indent=1)
    return 1 if errors else 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bench", choices=["echo", "http"])
    ap.add_argument("--impl", default=None,
                    help="comma list; default asyncio,uvloop,casyncio"
                         " (+floor for echo); also floor_uring (the C"
                         " io_uring floor) and casyncio_uring (casyncio"
                         " with CASYNCIO_IO_URING=1)")
    ap.add_argument("--kinds", default=",".join(ECHO_KINDS),
                    help="echo servers to run (default: all)")
    ap.add_argument("--sizes", default="1,10,100",
                    help="echo message sizes in KiB (default 1,10,100)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--conns", type=int, default=None,
                    help="connections (default: 10 echo, 50 http)")
    ap.add_argument("--warmup", type=float, default=0.5, help="seconds")
    ap.add_argument("--duration", type=float, default=None,
                    help="measured seconds (default: 2 echo, 3 http)")
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    ap.add_argument("--casyncio-path", metavar="DIR")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    echo = args.bench == "echo"
    if args.conns is None:
        args.conns = 10 if echo else 50
    if args.duration is None:
        args.duration = 2.0 if echo else 3.0
    if args.server_cpu < 0 or args.client_cpu < 0:
        args.server_cpu = args.client_cpu = None
    impls = (args.impl.split(",") if args.impl
             else IMPLS + ([FLOOR] if echo else []))
    if not echo and set(FLOORS) & set(impls):
        ap.error("no C floor for http")
    if not echo and shutil.which("wrk") is None:
        ap.error("wrk not found (apt-get install -y wrk)")
    env = child_env(args)
    tmp = tempfile.mkdtemp(prefix="casyncio-net-")
    bins = build_c(tmp)
    if echo:
        rows = [(k, s) for s in map(int, args.sizes.split(","))
                for k in args.kinds.split(",")]
        measure = measure_echo
    else:
        rows = [("aiohttp", 0)]
        measure = measure_http

    def row_impls(row):
        # The floor has one row per size: the first kind of each size.
        return [i for i in impls
                if i not in FLOORS or row[0] == args.kinds.split(",")[0]]

    started = time.time()
    results, errors, loop_classes = {}, [], {}
    for r in range(args.rounds):
        for row in rows:
            its = row_impls(row)
            k = r % len(its)
            for impl in its[k:] + its[:k]:
                try:
                    res = measure(args, bins, env, impl, row[0],
                                  row[1] * 1024)
                    loop_classes[impl] = res["loop_class"]
                except Exception as e:
                    res = {"error": f"{type(e).__name__}: {e}"}
                    errors.append((row, impl, r, res["error"]))
                results.setdefault((row, impl), []).append(res)
                print(f"round {r + 1}/{args.rounds} {row[0]}/{row[1]} "
                      f"{impl}: " + (res.get("error") or
                                     f"{fmt_rate(res['rate'])}/s "
                                     f"{fmt_us(res['cpu_per'])} us"),
                      file=sys.stderr, flush=True)
    shutil.rmtree(tmp, ignore_errors=True)
    table = build_rows(rows, impls, results)
    if echo:
        # One floor measurement per size: show it on every row of that size.
        for fl in FLOORS:
            floors = {row[1]: med[fl] for row, med in table if fl in med}
            for row, med in table:
                if row[1] in floors:
                    med[fl] = floors[row[1]]
    header = {
        "date": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu_model()} ({os.cpu_count()} CPUs)",
        "python": f"{platform.python_implementation()} "
                  f"{platform.python_version()}",
        "loops": ", ".join(f"{k}={v}" for k, v in loop_classes.items()),
        "method": f"{args.bench}: median of {args.rounds} rounds, "
                  f"{args.conns} connections, {args.warmup}s warm-up + "
                  f"{args.duration}s window, server on CPU {args.server_cpu},"
                  f" load on CPU {args.client_cpu}, fresh server per "
                  f"measurement, interleaved",
        "wall_seconds": round(time.time() - started, 1),
    }
    rows_note = ("rows: KIND/SIZE_KiB; CPU = server user+sys per round trip"
                 if echo else None)
    return report(args, header, rows_note, table, impls,
                  "msg" if echo else "req", results, errors)


if __name__ == "__main__":
    sys.exit(main())
