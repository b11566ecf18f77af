#!/usr/bin/env python3
"""Application benchmarks: real servers users run, on stock asyncio, uvloop
and casyncio in the same run.

    python bench/apps.py [--rows aiohttp,starlette,asgi,websockets]
                         [--rounds N]

aiohttp: aiohttp.web's hello world, under wrk (net.py http's server and
measurement).  starlette: uvicorn + starlette, one plain-text route, under
wrk.  asgi:
uvicorn + a raw ASGI callable (no framework), under wrk.  websockets: the
websockets library's echo server under bench/ws_load.py (CONNS connections,
each with DEPTH 32-byte text messages in flight).  The servers are in
bench/app_servers.py.

As bench/net.py: a fresh server process per measurement, pinned to one
CPU with the load generator on the other; a warm-up, then a window in
which the load generator counts requests (messages) and the server's
user+sys CPU time is read from /proc.  Reported: requests (messages) per
second and the server's CPU time per request (the robust number: it holds
when the load generator or a neighbour on the machine is the limit);
medians over rounds that interleave the implementations.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from net import (Server, app_server_argv, build_rows, fmt_us,  # noqa
                 measure_wrk, pinned, report, server_env)
from run import IMPLS, child_env, cpu_model, fmt_rate  # noqa: E402

HTTP_ROWS = ["aiohttp", "starlette", "asgi"]
WS_ROWS = ["websockets"]


def measure_http(args, env, impl, kind):
    return measure_wrk(args, app_server_argv(impl, kind),
                       server_env(env, impl))


def measure_ws(args, env, impl, kind):
    srv = Server(app_server_argv(impl, kind), server_env(env, impl),
                 args.server_cpu)
    try:
        p = subprocess.run(
            [sys.executable, os.path.join(HERE, "ws_load.py"), "127.0.0.1",
             str(srv.port), str(args.ws_conns), str(args.ws_size),
             str(args.ws_depth), str(args.warmup), str(args.duration),
             str(srv.proc.pid)],
            capture_output=True, text=True, env=env,
            preexec_fn=pinned(args.client_cpu),
            timeout=args.warmup + args.duration + 60)
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", default=",".join(HTTP_ROWS + WS_ROWS))
    ap.add_argument("--impl", default=",".join(IMPLS))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--conns", type=int, default=50,
                    help="wrk connections (default 50)")
    ap.add_argument("--ws-conns", type=int, default=10)
    ap.add_argument("--ws-depth", type=int, default=8,
                    help="messages in flight per connection (default 8)")
    ap.add_argument("--ws-size", type=int, default=32)
    ap.add_argument("--warmup", type=float, default=1.0, help="seconds")
    ap.add_argument("--duration", type=float, default=3.0, help="seconds")
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    ap.add_argument("--casyncio-path", metavar="DIR")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    if args.server_cpu < 0 or args.client_cpu < 0:
        args.server_cpu = args.client_cpu = None
    rows = args.rows.split(",")
    for r in rows:
        if r not in HTTP_ROWS + WS_ROWS:
            ap.error(f"unknown row {r!r}")
    if set(rows) & set(HTTP_ROWS) and shutil.which("wrk") is None:
        ap.error("wrk not found (apt-get install -y wrk)")
    impls = args.impl.split(",")
    env = child_env(args)
    started = time.time()
    load0 = os.getloadavg()[0]
    results, errors, loop_classes = {}, [], {}
    for r in range(args.rounds):
        for kind in rows:
            k = r % len(impls)
            for impl in impls[k:] + impls[:k]:
                measure = measure_ws if kind in WS_ROWS else measure_http
                try:
                    res = measure(args, env, impl, kind)
                    loop_classes[impl] = res["loop_class"]
                except Exception as e:
                    res = {"error": f"{type(e).__name__}: {e}"}
                    errors.append((kind, impl, r, res["error"]))
                results.setdefault(((kind,), impl), []).append(res)
                print(f"round {r + 1}/{args.rounds} {kind} {impl}: "
                      + (res.get("error") or
                         f"{fmt_rate(res['rate'])}/s "
                         f"{fmt_us(res['cpu_per'])} us"),
                      file=sys.stderr, flush=True)
    table = build_rows([(k,) for k in rows], impls, results)
    versions = []
    for mod in ("aiohttp", "uvicorn", "starlette", "httptools", "websockets",
                "uvloop"):
        try:
            from importlib.metadata import version
            versions.append(f"{mod} {version(mod)}")
        except Exception:
            pass
    header = {
        "date": datetime.datetime.now(datetime.timezone.utc)
                .strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu_model()} ({os.cpu_count()} CPUs)",
        "python": f"{platform.python_implementation()} "
                  f"{platform.python_version()}",
        "packages": ", ".join(versions),
        "loops": ", ".join(f"{k}={v}" for k, v in loop_classes.items()),
        "method": f"median of {args.rounds} rounds; http rows: wrk -t1 "
                  f"-c{args.conns}; websockets: {args.ws_conns} connections"
                  f" x {args.ws_depth} x {args.ws_size}-byte messages in "
                  f"flight; {args.warmup}s warm-up + {args.duration}s "
                  f"window, server on CPU {args.server_cpu}, load on CPU "
                  f"{args.client_cpu}, fresh server per measurement",
        "load average": f"{load0:.2f} at start, "
                        f"{os.getloadavg()[0]:.2f} at end",
        "wall_seconds": round(time.time() - started, 1),
    }
    return report(args, header,
                  "rows: aiohttp, starlette, asgi = req (HTTP request), "
                  "websockets = msg (message echoed); CPU = server user+sys "
                  "per req/msg",
                  table, impls, "req", results, errors)


if __name__ == "__main__":
    sys.exit(main())
