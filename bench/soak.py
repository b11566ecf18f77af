#!/usr/bin/env python3
"""Soak: uvicorn + starlette on one loop under wrk for minutes, with
keep-alive connections and connection churn at once; the server's resident
memory and open fds sampled, wrk's errors counted.

    PYTHONPATH=python python bench/soak.py [--minutes 10] [--impl casyncio]
                                           [--warmup-minutes 1] [--json F]

The server is app_servers.py's `starlette` (the real uvicorn.Server,
httptools, one plain-text route), pinned to CPU 0.  Two wrk processes on
CPU 1 run the whole time: `wrk -t1 -c50` (keep-alive: 50 connections kept
open) and `wrk -t1 -c10 -H "Connection: close"` (churn: every request on
a new connection, which the server closes after answering).  Every
--interval seconds: the server's VmRSS and number of open fds
(/proc/PID/status, /proc/PID/fd) and CPU time.

Verdict: after the warm-up, resident memory must stay within --rss-slack
(default 2 MiB) of its level at the end of the warm-up, the open fds
within the connections wrk can hold open at a sample (60 + the listening
socket and the process's own), no wrk socket error or non-2xx response,
and the server alive.  Exit status 1 otherwise.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from net import Server, pinned  # noqa: E402
from run import child_env  # noqa: E402

WRK_REQS = re.compile(r"(\d+) requests in ([\d.]+)(m?s)")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def nfds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def start_wrk(port, seconds, conns, extra, cpu):
    return subprocess.Popen(
        ["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s",
         *extra, f"http://127.0.0.1:{port}/"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=pinned(cpu))


def wrk_result(p):
    out, err = p.communicate()
    m = WRK_REQS.search(out)
    errors = []
    if p.returncode != 0 or m is None:
        errors.append(f"wrk failed: {(err or out).strip()[-200:]}")
    for bad in ("Non-2xx or 3xx responses", "Socket errors"):
        if bad in out:
            errors.append(f"{bad}: {out.split(bad, 1)[1].splitlines()[0].strip(': ')}")
    return (int(m.group(1)) if m else 0), errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--impl", default="casyncio")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--warmup-minutes", type=float, default=1)
    ap.add_argument("--interval", type=float, default=10)
    ap.add_argument("--rss-slack", type=float, default=2.0, help="MiB")
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--client-cpu", type=int, default=1)
    ap.add_argument("--casyncio-path")
    ap.add_argument("--json")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        ap.error("wrk not found (apt-get install -y wrk)")
    env = child_env(args)
    srv = Server([sys.executable, os.path.join(HERE, "app_servers.py"),
                  args.impl, "starlette"], env, args.server_cpu)
    pid = srv.proc.pid
    seconds = round(args.minutes * 60)
    samples = []
    try:
        keep = start_wrk(srv.port, seconds, 50, [], args.client_cpu)
        churn = start_wrk(srv.port, seconds, 10, ["-H", "Connection: close"],
                          args.client_cpu)
        t0 = time.monotonic()
        while keep.poll() is None or churn.poll() is None:
            time.sleep(args.interval)
            if not srv.alive():
                break
            samples.append({"t": round(time.monotonic() - t0),
                            "rss_mib": rss_kib(pid) / 1024, "fds": nfds(pid),
                            "cpu_s": srv.cpu()})
            s = samples[-1]
            print(f"{s['t']:5d} s  rss {s['rss_mib']:7.2f} MiB  fds {s['fds']:4d}"
                  f"  cpu {s['cpu_s']:7.1f} s", file=sys.stderr)
        n_keep, err_keep = wrk_result(keep)
        n_churn, err_churn = wrk_result(churn)
        alive = srv.alive()
    finally:
        srv.stop()
    warm = [s for s in samples if s["t"] >= args.warmup_minutes * 60]
    problems = err_keep + err_churn + ([] if alive else ["server died"])
    if len(warm) < 2:
        problems.append("too few samples after the warm-up")
        base = last = {"rss_mib": 0, "fds": 0}
        rss_max = fds_max = 0
    else:
        base, last = warm[0], warm[-1]
        rss_max = max(s["rss_mib"] for s in warm)
        fds_max = max(s["fds"] for s in warm)
        if rss_max - base["rss_mib"] > args.rss_slack:
            problems.append(f"resident memory grew {rss_max - base['rss_mib']:.2f} MiB "
                            "after the warm-up")
        if fds_max > base["fds"] + 60:
            problems.append(f"open fds grew from {base['fds']} to {fds_max}")
    summary = {
        "impl": args.impl, "python": sys.version.split()[0],
        "minutes": args.minutes, "loop_class": srv.loop_class,
        "requests_keepalive": n_keep, "requests_churn": n_churn,
        "rss_mib_after_warmup": round(base["rss_mib"], 2),
        "rss_mib_max": round(rss_max, 2), "rss_mib_end": round(last["rss_mib"], 2),
        "fds_after_warmup": base["fds"], "fds_max": fds_max, "fds_end": last["fds"],
        "server_cpu_s": round(samples[-1]["cpu_s"], 1) if samples else None,
        "problems": problems,
    }
    for k, v in summary.items():
        print(f"{k}: {v}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"summary": summary, "samples": samples}, f, indent=1)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
