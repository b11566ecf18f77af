#!/usr/bin/env python3
"""Instructions per HTTP request of the application servers
(bench/app_servers.py: aiohttp, starlette, asgi), counted with valgrind's
callgrind, for stock asyncio, uvloop and casyncio.

    python bench/app_instr.py [--rows aiohttp,starlette] [--requests 2000]
                              [--impl asyncio,uvloop,casyncio]
                              [--casyncio-path DIR] [--markdown]

apps.py's server CPU per request is the number that matters, but on a
shared 2-core VM it spreads by +-10-30 % between rounds; a callgrind count
of the same requests is repeatable to within a few instructions per
request, so a change of 1-2 % in the server's own work shows.  It counts
user-space instructions only: the kernel's share (27-32 % of the server's
CPU time, the same two syscalls per request on every loop) is not in it.

Each (row, implementation): a fresh server under callgrind (PYTHONHASHSEED
fixed); 10 keep-alive connections send 50 requests each (warm-up, not
counted), callgrind's counters are zeroed (callgrind_control -z), the
connections send --requests more, one request per connection at a time,
all 10 in flight; the counters are dumped (callgrind_control -d) and the
total divided by the requests.  About 1 minute per cell on this machine.
Needs valgrind (callgrind_control comes with it).
"""

import argparse
import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROWS = ["aiohttp", "starlette", "asgi"]
CONNS = 10
REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"


def read_response(sock):
    buf = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("server closed the connection")
        buf += chunk
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            continue
        m = re.search(rb"content-length: *(\d+)", buf[:end], re.I)
        if m is None:
            raise RuntimeError(f"no Content-Length in {buf[:end]!r}")
        if len(buf) >= end + 4 + int(m.group(1)):
            return


def burst(socks, rounds):
    for _ in range(rounds):
        for s in socks:
            s.sendall(REQUEST)
        for s in socks:
            read_response(s)


def callgrind_total(path):
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError(f"no totals in {path}")


def count(impl, row, requests, env, outdir):
    out = os.path.join(outdir, f"{row}.{impl}")
    proc = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p",
         sys.executable, os.path.join(HERE, "app_servers.py"), impl, row],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        text=True)
    try:
        line = proc.stdout.readline()
        if not line.startswith("PORT "):
            raise RuntimeError(f"{impl} {row}: server did not start")
        port = int(line.split()[1])
        socks = [socket.create_connection(("127.0.0.1", port))
                 for _ in range(CONNS)]
        burst(socks, 50)
        ctl = ["callgrind_control"]
        subprocess.run(ctl + ["-z", str(proc.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        rounds = max(1, requests // CONNS)
        burst(socks, rounds)
        subprocess.run(ctl + ["-d", str(proc.pid)], check=True,
                       stdout=subprocess.DEVNULL)
        for s in socks:
            s.close()
    finally:
        proc.terminate()
        proc.wait()
    dumps = sorted(glob.glob(f"{out}.{proc.pid}.*"),
                   key=lambda p: int(p.rsplit(".", 1)[1]))
    if not dumps:
        raise RuntimeError(f"{impl} {row}: no callgrind dump")
    return callgrind_total(dumps[-1]) / (rounds * CONNS)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", default="aiohttp")
    ap.add_argument("--impl", default="asyncio,uvloop,casyncio")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--casyncio-path", metavar="DIR")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed (apt-get install valgrind)")
    rows = args.rows.split(",")
    impls = args.impl.split(",")
    env = dict(os.environ, PYTHONHASHSEED="0")
    if args.casyncio_path:
        env["PYTHONPATH"] = os.pathsep.join(
            [args.casyncio_path] + [p for p in [env.get("PYTHONPATH")] if p])
    res = {}
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="app_instr.") as outdir:
        for row in rows:
            for impl in impls:
                res[row, impl] = count(impl, row, args.requests, env, outdir)
                print(f"{row} {impl}: {res[row, impl]:,.0f} instr/req",
                      file=sys.stderr, flush=True)
    print(f"Python {sys.version.split()[0]}, {args.requests} requests "
          f"over {CONNS} connections, {time.monotonic() - t0:.0f} s",
          file=sys.stderr)
    head = ["row"] + [f"{i} instr/req" for i in impls]
    ratios = [b for b in ("asyncio", "uvloop") if b in impls
              and "casyncio" in impls]
    head += [f"c/{b}" for b in ratios]
    lines = []
    for row in rows:
        cells = [row] + [f"{res[row, i]:,.0f}" for i in impls]
        cells += [f"{res[row, 'casyncio'] / res[row, b]:.3f}x"
                  for b in ratios]
        lines.append(cells)
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|---" + "|---:" * (len(head) - 1) + "|")
        for cells in lines:
            print("| " + " | ".join(cells) + " |")
    else:
        widths = [max(len(r[i]) for r in [head] + lines)
                  for i in range(len(head))]
        for cells in [head] + lines:
            print("  ".join(c.rjust(w) for c, w in zip(cells, widths)))


if __name__ == "__main__":
    main()
