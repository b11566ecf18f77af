#!/usr/bin/env python3
"""The floor under bench/instr.py's scheduling rows: what the interpreter
spends per op on the workload's own Python, which no event loop removes.

    python bench/floor.py [--only ROW[,..]] [--casyncio-path DIR]

Each row runs the bytecode of bench/workloads.py's workload of the same name
(the same function bodies, copied below), but with the loop's part replaced
by the cheapest thing that lets that bytecode run:

  sleep0            100 coroutines `for _ in range(m): await sleep(0)`,
                    each resumed by a C driver (`deque(map(coro.send...))`:
                    no Python in the driver, no task, no ready queue), with
                    asyncio's own sleep() (`sleep0`) and with casyncio's
                    (`sleep0[casyncio]`: the C one-yield awaitable).
  call_soon         the workload's callback, with `loop.call_soon` a bound
                    `list.append` and the callbacks run by a C driver
                    (`deque(map(operator.call, list))` over the list as it
                    grows).
  future_roundtrip  the workload's loop body, with `loop.create_future()`
                    returning an already-done casyncio Future (so `await
                    fut` does not suspend) and `loop.call_soon(f, i)` a
                    no-op C call: what remains is the body's own bytecode,
                    the bound `fut.set_result` it makes and the await's
                    protocol on a done future.

Counted as bench/instr.py counts (callgrind, two sizes, the difference of
the totals over the difference of the op counts), so the numbers compare
with its table.  A loop's count minus the floor is what the loop (and the
package's Python) costs per op; no change to the loop can take a row below
its floor.
"""
import argparse
import collections
import operator
import os
import re
import subprocess
import sys
import tempfile
import types
from itertools import repeat

RESULT_TAG = "FLOOR_RESULT "
SLEEP_TASKS = 100

# row -> (small n, large n)
SIZES = {
    "sleep0": (6_000, 12_000),
    "sleep0[casyncio]": (6_000, 12_000),
    "call_soon": (20_000, 40_000),
    "future_roundtrip": (20_000, 40_000),
}


def floor_sleep0(n, sleep):
    m = n // SLEEP_TASKS

    async def worker(k):            # bench/workloads.py's sleep0 worker
        for _ in range(m):
            await sleep(0)
        return k

    coros = [worker(k) for k in range(SLEEP_TASKS)]
    send = type(coros[0]).send
    sink = collections.deque(maxlen=0)
    for _ in range(m):
        sink.extend(map(send, coros, repeat(None)))
    for c in coros:
        c.close()
    return m * SLEEP_TASKS


def floor_call_soon(n):
    queue = []
    loop = types.SimpleNamespace(call_soon=queue.append)
    done = types.SimpleNamespace(set_result=queue.append)
    count = 0

    def cb():                       # bench/workloads.py's call_soon_chain cb
        nonlocal count
        count += 1
        if count < n:
            loop.call_soon(cb)
        else:
            done.set_result(count)

    loop.call_soon(cb)
    # map walks the list as it grows: a C driver, one call per callback;
    # it stops at done.set_result's item, an int, which is not callable.
    try:
        collections.deque(map(operator.call, queue), maxlen=0)
    except TypeError:
        pass
    assert count == n
    return n


async def _future_roundtrip_body(loop, n):
    total = 0                       # bench/workloads.py's future_roundtrip
    for i in range(n):
        fut = loop.create_future()
        loop.call_soon(fut.set_result, i)
        total += await fut
    return total


def floor_future_roundtrip(n):
    # A done future of casyncio's type, made once: `await fut` returns its
    # result at once.
    import casyncio
    lp = casyncio.new_event_loop()
    fut = lp.create_future()
    fut.set_result(1)
    loop = types.SimpleNamespace(create_future=repeat(fut).__next__,
                                 call_soon=operator.is_)
    coro = _future_roundtrip_body(loop, n)
    try:
        coro.send(None)
    except StopIteration as e:
        assert e.value == n, e.value
    else:
        raise AssertionError("the floor's future_roundtrip suspended")
    lp.close()
    return n


def child(row, n):
    if row == "sleep0":
        import asyncio
        ops = floor_sleep0(n, asyncio.sleep)
    elif row == "sleep0[casyncio]":
        from casyncio import _tasks
        ops = floor_sleep0(n, _tasks.sleep)
    elif row == "call_soon":
        ops = floor_call_soon(n)
    elif row == "future_roundtrip":
        ops = floor_future_roundtrip(n)
    else:
        raise SystemExit(f"unknown row {row}")
    print(RESULT_TAG + str(ops), flush=True)


def count(row, n, env):
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["valgrind", "--tool=callgrind",
               f"--callgrind-out-file={tmp}/cg.out",
               sys.executable, os.path.abspath(__file__), "--child", row,
               str(n)]
        p = subprocess.run(cmd, env=env, capture_output=True, text=True,
                           timeout=1800)
    m = re.search(r"Collected : (\d+)", p.stderr)
    ops = [int(line[len(RESULT_TAG):]) for line in p.stdout.splitlines()
           if line.startswith(RESULT_TAG)]
    if m is None or not ops:
        raise SystemExit(f"{row} {n}: {p.stderr.strip()[-500:]}")
    return int(m.group(1)), ops[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="rows, comma list")
    ap.add_argument("--casyncio-path", metavar="DIR")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]))
        return 0
    env = dict(os.environ, PYTHONHASHSEED="0")
    if args.casyncio_path:
        env["PYTHONPATH"] = os.pathsep.join(
            [os.path.abspath(args.casyncio_path)]
            + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    rows = args.only.split(",") if args.only else list(SIZES)
    version = ".".join(map(str, sys.version_info[:3]))
    print(f"CPython {version}, callgrind, floor instructions per op")
    for row in rows:
        small, large = SIZES[row]
        a, b = count(row, small, env), count(row, large, env)
        print(f"  {row:<20} {(b[0] - a[0]) / (b[1] - a[1]):8,.0f}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
