"""The application benchmark (bench/apps.py) end to end on stock asyncio
and casyncio: its servers start, serve their load generator and report
which loop ran them.  Pass/fail only, no speed is asserted."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import PACKAGE_PARENT

BENCH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "bench")


def run_apps(rows):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [PACKAGE_PARENT] + [p for p in [env.get("PYTHONPATH")] if p])
    p = subprocess.run(
        [sys.executable, os.path.join(BENCH, "apps.py"), "--rows", rows,
         "--impl", "asyncio,casyncio", "--rounds", "1", "--warmup", "0.2",
         "--duration", "1", "--server-cpu", "-1"],
        capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stdout + p.stderr[-2000:]
    assert ("casyncio=casyncio._loop.Loop from "
            + os.path.join(PACKAGE_PARENT, "casyncio")) in p.stdout
    assert "asyncio=asyncio.unix_events." in p.stdout
    for row in rows.split(","):
        line = [x for x in p.stdout.splitlines() if x.startswith(row + " ")]
        assert len(line) == 1 and " - " not in line[0], p.stdout


def test_websockets_row():
    pytest.importorskip("websockets", reason="websockets is in the test "
                        "extra")
    run_apps("websockets")


@pytest.mark.skipif(shutil.which("wrk") is None,
                    reason="the HTTP rows need wrk (apt-get install wrk)")
def test_uvicorn_rows():
    pytest.importorskip("uvicorn", reason="uvicorn is in the test extra")
    run_apps("starlette,asgi")


@pytest.mark.skipif(shutil.which("wrk") is None,
                    reason="the HTTP rows need wrk (apt-get install wrk)")
def test_aiohttp_row():
    pytest.importorskip("aiohttp", reason="aiohttp is in the test extra")
    run_apps("aiohttp")
