"""The networking benchmark (bench/net.py) as an end-to-end check: every
echo server kind (Protocol, BufferedProtocol, streams, sock_recv/sendall)
on stock asyncio, casyncio and casyncio on io_uring (CASYNCIO_IO_URING=1),
and the C floors (epoll, io_uring), serve 10 connections of ping-pong
messages that echo_load checks byte for byte (1 KiB, and 100 KiB which
arrives in several reads).  Pass/fail only, no speed is asserted."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import PACKAGE_PARENT, new_uring_loop


def io_uring_available():
    try:
        new_uring_loop().close()
    except pytest.skip.Exception:
        return False
    return True

BENCH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "bench")


@pytest.mark.skipif(shutil.which("cc") is None,
                    reason="needs a C compiler for echo_load.c")
def test_echo_servers_echo_correctly():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [PACKAGE_PARENT] + [p for p in [env.get("PYTHONPATH")] if p])
    impls = "asyncio,casyncio,floor"
    uring = io_uring_available()
    if uring:
        impls += ",casyncio_uring,floor_uring"
    p = subprocess.run(
        [sys.executable, os.path.join(BENCH, "net.py"), "echo",
         "--impl", impls, "--rounds", "1",
         "--warmup", "0.1", "--duration", "0.3", "--sizes", "1,100",
         "--server-cpu", "-1"],
        capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stdout + p.stderr[-2000:]
    assert ("casyncio=casyncio._loop.Loop from "
            + os.path.join(PACKAGE_PARENT, "casyncio")) in p.stdout
    if uring:   # the server's loop said it was on its ring
        assert ("casyncio_uring=casyncio._loop.Loop+io_uring from "
                + os.path.join(PACKAGE_PARENT, "casyncio")) in p.stdout
    for kind in ("protocol", "buffered", "streams", "sock"):
        for size in (1, 100):
            row = [line for line in p.stdout.splitlines()
                   if line.startswith(f"{kind}/{size} ")]
            assert len(row) == 1 and " - " not in row[0], p.stdout
