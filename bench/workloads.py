"""Workloads for the casyncio benchmark suite.

Every workload is an ``async def`` taking ``(lib, n)`` and returning
``(elapsed_seconds, ops)``:

* ``lib`` is a namespace with ``sleep`` and ``gather``. For the main rows it
  is stock ``asyncio`` (what unchanged user programs call); for the
  "native" rows it holds the implementation's own ``sleep``/``gather``
  (e.g. ``casyncio.sleep``).
* ``n`` is the size parameter (the number of ops, or for ``async_tree`` the
  tree depth).
* The coroutine runs inside the loop under test (``asyncio.Runner`` with the
  implementation's ``loop_factory``), gets the loop with
  ``asyncio.get_running_loop()`` and times only the hot part with
  ``time.perf_counter()`` (loop creation/teardown is excluded).
* After timing, each workload verifies its result (callback counts, gathered
  values, which timers fired, ...) and raises ``WorkloadError`` if anything is
  off, so a broken implementation cannot report a fast number.

Each workload's docstring says what ONE op is; the harness reports ops/s.
"""

import asyncio
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

perf_counter = time.perf_counter


class WorkloadError(AssertionError):
    """The workload's result was wrong: the measurement is invalid."""


def check(cond, msg):
    if not cond:
        raise WorkloadError(msg)


# --------------------------------------------------------------------------
# 1. call_soon chains
# --------------------------------------------------------------------------

async def call_soon_chain(lib, n):
    """op = one callback run: a callback re-schedules itself with
    loop.call_soon() until it has run n times (a single chain)."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    count = 0

    def cb():
        nonlocal count
        count += 1
        if count < n:
            loop.call_soon(cb)
        else:
            done.set_result(count)

    t0 = perf_counter()
    loop.call_soon(cb)
    res = await done
    t1 = perf_counter()
    check(res == n and count == n, f"chain ran {count} callbacks, expected {n}")
    return t1 - t0, n


CHAINS = 16


async def call_soon_chains(lib, n):
    """op = one callback run: CHAINS (16) independent call_soon chains in
    parallel, each re-scheduling itself (with one positional argument) until
    the chains have run n callbacks in total. Keeps the ready queue ~16 deep."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    per_chain = n // CHAINS
    total = per_chain * CHAINS
    counts = [0] * CHAINS
    finished = 0

    def cb(i):
        nonlocal finished
        c = counts[i] = counts[i] + 1
        if c < per_chain:
            loop.call_soon(cb, i)
        else:
            finished += 1
            if finished == CHAINS:
                done.set_result(None)

    t0 = perf_counter()
    for i in range(CHAINS):
        loop.call_soon(cb, i)
    await done
    t1 = perf_counter()
    check(counts == [per_chain] * CHAINS, f"chain counts {counts}, expected {per_chain} each")
    return t1 - t0, total


# --------------------------------------------------------------------------
# 2. future round trip
# --------------------------------------------------------------------------

async def future_roundtrip(lib, n):
    """op = one future round trip: fut = loop.create_future();
    loop.call_soon(fut.set_result, i); await fut (the task suspends and is
    woken by the future's done callback)."""
    loop = asyncio.get_running_loop()
    total = 0
    t0 = perf_counter()
    for i in range(n):
        fut = loop.create_future()
        loop.call_soon(fut.set_result, i)
        total += await fut
    t1 = perf_counter()
    check(total == n * (n - 1) // 2, f"sum of results {total}, expected {n * (n - 1) // 2}")
    return t1 - t0, n


async def future_pingpong(lib, n):
    """op = one hand-off between two tasks: each task awaits a future in its
    own inbox, replaces the inbox with loop.create_future(), and sets the
    other task's inbox future to value + 1 (n hand-offs in total)."""
    loop = asyncio.get_running_loop()
    half = n // 2
    box = [loop.create_future(), loop.create_future()]

    async def player(me):
        other = 1 - me
        for i in range(half):
            v = await box[me]
            check(v == 2 * i + me, f"player {me} got {v}, expected {2 * i + me}")
            box[me] = loop.create_future()
            box[other].set_result(v + 1)
        return half

    t0 = perf_counter()
    p0 = loop.create_task(player(0))
    p1 = loop.create_task(player(1))
    box[0].set_result(0)
    r0 = await p0
    r1 = await p1
    t1 = perf_counter()
    check(r0 == half and r1 == half, f"hand-offs {r0}+{r1}, expected {half}+{half}")
    return t1 - t0, 2 * half


async def wait_for_roundtrip(lib, n):
    """op = future_roundtrip's round trip under `await asyncio.wait_for(fut,
    10)` (a timer armed and cancelled per op; on 3.12+ asyncio.timeout()
    inside)."""
    loop = asyncio.get_running_loop()
    total = 0
    t0 = perf_counter()
    for i in range(n):
        fut = loop.create_future()
        loop.call_soon(fut.set_result, i)
        total += await asyncio.wait_for(fut, 10)
    t1 = perf_counter()
    check(total == n * (n - 1) // 2, f"sum of results {total}, expected {n * (n - 1) // 2}")
    return t1 - t0, n


async def timeout_roundtrip(lib, n):
    """op = future_roundtrip's round trip inside `async with
    asyncio.timeout(10)` (3.11+)."""
    loop = asyncio.get_running_loop()
    total = 0
    timeout = asyncio.timeout
    t0 = perf_counter()
    for i in range(n):
        fut = loop.create_future()
        loop.call_soon(fut.set_result, i)
        async with timeout(10):
            total += await fut
    t1 = perf_counter()
    check(total == n * (n - 1) // 2, f"sum of results {total}, expected {n * (n - 1) // 2}")
    return t1 - t0, n


async def lock_handoff(lib, n):
    """op = one hand-off of an asyncio.Lock between two tasks: each holds
    it across a sleep(0), so the other waits in acquire() and is woken by
    release()."""
    lock = asyncio.Lock()
    half = n // 2
    held = []

    async def worker(me):
        for _ in range(half):
            async with lock:
                held.append(me)
                await lib.sleep(0)

    t0 = perf_counter()
    await lib.gather(worker(0), worker(1))
    t1 = perf_counter()
    check(len(held) == 2 * half, f"{len(held)} holds, expected {2 * half}")
    check(all(held[i] != held[i + 1] for i in range(len(held) - 1)),
          "the lock was not handed over at each release")
    return t1 - t0, 2 * half


async def queue_handoff(lib, n):
    """op = one item through an asyncio.Queue(maxsize=1) from a producer
    task to a consumer task (each put() or get() waits for the other)."""
    q = asyncio.Queue(maxsize=1)
    got = 0

    async def producer():
        for i in range(n):
            await q.put(i)
        await q.put(None)

    async def consumer():
        nonlocal got
        while (item := await q.get()) is not None:
            got += item

    t0 = perf_counter()
    await lib.gather(producer(), consumer())
    t1 = perf_counter()
    check(got == n * (n - 1) // 2, f"sum of items {got}, expected {n * (n - 1) // 2}")
    return t1 - t0, n


# --------------------------------------------------------------------------
# 3. sleep(0) switches
# --------------------------------------------------------------------------

SLEEP_TASKS = 100


async def sleep0(lib, n):
    """op = one `await lib.sleep(0)` (a task switch): SLEEP_TASKS (100) tasks
    each do n/100 sleep(0)s; they are started with loop.create_task and
    collected with lib.gather."""
    loop = asyncio.get_running_loop()
    m = n // SLEEP_TASKS
    sleep = lib.sleep

    async def worker(k):
        for _ in range(m):
            await sleep(0)
        return k

    t0 = perf_counter()
    tasks = [loop.create_task(worker(k)) for k in range(SLEEP_TASKS)]
    res = await lib.gather(*tasks)
    t1 = perf_counter()
    check(list(res) == list(range(SLEEP_TASKS)), "gather results out of order or wrong")
    return t1 - t0, m * SLEEP_TASKS


# --------------------------------------------------------------------------
# 4. create_task + gather
# --------------------------------------------------------------------------

GATHER_BATCH = 1000


async def _trivial(i):
    return i


async def create_task_gather(lib, n):
    """op = one task: loop.create_task(trivial_coro(i)) for a batch of 1000,
    then `await lib.gather(*tasks)`; repeated n/1000 times. Counts creating,
    running and collecting the task's result."""
    loop = asyncio.get_running_loop()
    batches = n // GATHER_BATCH
    gather = lib.gather
    create_task = loop.create_task
    expect = list(range(batches * GATHER_BATCH))
    total = 0
    t0 = perf_counter()
    for b in range(batches):
        base = b * GATHER_BATCH
        tasks = [create_task(_trivial(base + i)) for i in range(GATHER_BATCH)]
        res = await gather(*tasks)
        if res != expect[base:base + GATHER_BATCH]:  # order + values (C-speed compare)
            raise WorkloadError(f"batch {b}: gather returned wrong results/order ({type(res).__name__})")
        total += len(res)
    t1 = perf_counter()
    ops = batches * GATHER_BATCH
    check(total == ops, f"gathered {total} results, expected {ops}")
    return t1 - t0, ops


async def gather_coros(lib, n):
    """op = one coroutine passed to lib.gather(): `await lib.gather(*[coro(i)
    for i in batch])` for batches of 1000 (gather wraps each coroutine in a
    task itself), repeated n/1000 times."""
    batches = n // GATHER_BATCH
    gather = lib.gather
    expect = list(range(batches * GATHER_BATCH))
    total = 0
    t0 = perf_counter()
    for b in range(batches):
        base = b * GATHER_BATCH
        res = await gather(*[_trivial(base + i) for i in range(GATHER_BATCH)])
        if res != expect[base:base + GATHER_BATCH]:
            raise WorkloadError(f"batch {b}: gather returned wrong results/order ({type(res).__name__})")
        total += len(res)
    t1 = perf_counter()
    ops = batches * GATHER_BATCH
    check(total == ops, f"gathered {total} results, expected {ops}")
    return t1 - t0, ops


# --------------------------------------------------------------------------
# 5. timers
# --------------------------------------------------------------------------

TIMER_WINDOW = 0.002  # seconds: the delays of 30,000 timers fall in [0, 2 ms)
TIMER_WINDOW_N = 30_000  # fewer timers get a window as much smaller


def timer_delays(n, window):
    """n deterministic pseudo-random delays (an LCG) in [0, window), the
    same for every implementation."""
    delays = []
    x = 12345
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        delays.append((x % 1000) * (window / 1000))
    return delays


async def timers(lib, n):
    """op = one timer: n loop.call_later() timers with pseudo-random delays in
    a window of 2 ms per 30,000 timers are scheduled, every odd one is
    cancelled, and the loop runs until the n/2 remaining ones have fired.
    Scheduling n timers takes longer than the window (at --quick sizes too:
    the window shrinks with n), so the loop is never idle waiting for a
    deadline: this measures heap insert + cancel + expiry, not sleeping."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    expected = (n + 1) // 2
    fired = []
    append = fired.append

    def cb(i):
        append(i)
        if len(fired) == expected:
            done.set_result(None)

    window = TIMER_WINDOW * min(1.0, n / TIMER_WINDOW_N)
    delays = timer_delays(n, window)

    call_later = loop.call_later
    t0 = perf_counter()
    handles = [call_later(delays[i], cb, i) for i in range(n)]
    for h in handles[1::2]:
        h.cancel()
    await done
    t1 = perf_counter()
    # Nothing cancelled may fire, every kept timer fires exactly once.
    check(len(fired) == expected, f"{len(fired)} timers fired, expected {expected}")
    check(sorted(fired) == list(range(0, n, 2)), "wrong set of timers fired (cancelled one ran, or one ran twice)")
    # Let anything that would (wrongly) still fire have its chance.
    await asyncio.sleep(window * 2)
    check(len(fired) == expected, f"{len(fired) - expected} cancelled timers fired late")
    return t1 - t0, n


TIMER_BATCH = 2_000    # timers_batch: timers in the heap at once
TIMER_BATCH_WINDOW = 0.001  # their delays fall in [0, 1 ms)


async def timers_batch(lib, n):
    """op = one timer, as in `timers`, but in batches whose expiry does not
    depend on the speed of execution: each batch schedules 2,000
    loop.call_later() timers with pseudo-random delays in [0, 1 ms),
    cancels every odd one, sleeps (time.sleep, untimed) until all deadlines
    have passed, then awaits the last kept one.  The loop's next iteration
    finds every deadline due, so the same loop iterations run whatever the
    machine's speed (under valgrind too): bench/instr.py counts this row.
    The heap still holds 2,000 timers, sifted in pseudo-random order."""
    loop = asyncio.get_running_loop()
    batches = max(1, n // TIMER_BATCH)
    fired = []
    append = fired.append
    target = 0
    done = None

    def cb(i):
        append(i)
        if len(fired) == target:
            done.set_result(None)

    delays = timer_delays(TIMER_BATCH, TIMER_BATCH_WINDOW)

    call_later = loop.call_later
    sleep = time.sleep
    elapsed = 0.0
    for b in range(batches):
        ids = range(b * TIMER_BATCH, (b + 1) * TIMER_BATCH)
        target += TIMER_BATCH // 2
        done = loop.create_future()
        t0 = perf_counter()
        handles = [call_later(d, cb, i) for d, i in zip(delays, ids)]
        for h in handles[1::2]:
            h.cancel()
        t1 = perf_counter()
        sleep(TIMER_BATCH_WINDOW)   # every deadline is now in the past
        t2 = perf_counter()
        await done
        elapsed += (t1 - t0) + (perf_counter() - t2)
    ops = batches * TIMER_BATCH
    check(len(fired) == ops // 2, f"{len(fired)} timers fired, expected {ops // 2}")
    check(sorted(fired) == list(range(0, ops, 2)), "wrong set of timers fired (cancelled one ran, or one ran twice)")
    await asyncio.sleep(TIMER_BATCH_WINDOW * 2)
    check(len(fired) == ops // 2, f"{len(fired) - ops // 2} cancelled timers fired late")
    return elapsed, ops


# --------------------------------------------------------------------------
# 6. async tree (pyperformance bm_async_tree style)
# --------------------------------------------------------------------------

TREE_BRANCHES = 6


def tree_nodes(depth):
    """Number of coroutines/tasks below the root: 6 + 6**2 + ... + 6**depth."""
    return sum(TREE_BRANCHES ** level for level in range(1, depth + 1))


async def _tree(lib, depth, leaf):
    """Shared body of the async_tree workloads: returns the number of leaves
    reached, which is verified against 6**depth."""
    gather = lib.gather

    async def recurse(level):
        if level == 0:
            await leaf()
            return 1
        res = await gather(*[recurse(level - 1) for _ in range(TREE_BRANCHES)])
        return sum(res)

    t0 = perf_counter()
    leaves = await recurse(depth)
    t1 = perf_counter()
    check(leaves == TREE_BRANCHES ** depth, f"{leaves} leaves, expected {TREE_BRANCHES ** depth}")
    return t1 - t0, tree_nodes(depth)


async def async_tree_none(lib, depth):
    """op = one tree node (a coroutine that lib.gather() wraps in a task).
    pyperformance's async_tree "none" variant: a tree `depth` levels deep
    (6 = 55,986 nodes), 6 branches per node, lib.gather() at each inner node;
    leaves do no async work (they return without suspending)."""
    async def leaf():
        pass
    return await _tree(lib, depth, leaf)


async def async_tree_sleep0(lib, depth):
    """op = one tree node. Same tree as async_tree_none, but every leaf does
    `await lib.sleep(0)` (one suspension per leaf)."""
    sleep = lib.sleep

    async def leaf():
        await sleep(0)
    return await _tree(lib, depth, leaf)


# --------------------------------------------------------------------------
# 6b. async generators: the loop's first-iteration hook and registry
# --------------------------------------------------------------------------

AGEN_BRANCHES = 4


class _AgenNode:
    __slots__ = ("children",)

    def __init__(self):
        self.children = []

    async def __aiter__(self):
        yield 1
        for child in self.children:
            async for v in child:
                yield v


async def asyncgen_tree(lib, n):
    """op = one async generator: a tree of n nodes (4 children each) whose
    `async def __aiter__` yields 1 and then everything its children yield,
    walked with `async for` from the root (each node's generator is
    registered by the loop's first-iteration hook and dropped, finished,
    when its parent moves on)."""
    nodes = [_AgenNode() for _ in range(n)]
    for i in range(1, n):
        nodes[(i - 1) // AGEN_BRANCHES].children.append(nodes[i])
    t0 = perf_counter()
    total = 0
    async for v in nodes[0]:
        total += v
    t1 = perf_counter()
    check(total == n, f"walked {total} generators, expected {n}")
    return t1 - t0, n


# --------------------------------------------------------------------------
# 7. subprocesses: spawn + communicate
# --------------------------------------------------------------------------

SUBPROCESS_PAYLOAD = bytes(range(256)) * 16   # 4 KiB
SUBPROCESS_BATCH = 8


async def _cat(payload):
    proc = await asyncio.create_subprocess_exec(
        "cat", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate(payload)
    return out, proc.returncode


async def subprocess_communicate(lib, n):
    """op = one child: asyncio.create_subprocess_exec("cat") with stdin and
    stdout pipes, communicate() with 4 KiB, the loop reaping the child;
    SUBPROCESS_BATCH (8) children at a time, gathered."""
    results = []
    t0 = perf_counter()
    for _ in range(0, n, SUBPROCESS_BATCH):
        results += await lib.gather(
            *[_cat(SUBPROCESS_PAYLOAD) for _ in range(SUBPROCESS_BATCH)])
    t1 = perf_counter()
    check(len(results) >= n, f"{len(results)} children, expected {n}")
    check(all(r == (SUBPROCESS_PAYLOAD, 0) for r in results),
          "a child's output or exit status was wrong")
    return t1 - t0, len(results)


# --------------------------------------------------------------------------
# Bulk stream transfers (issue #14; bulk.py measures CPU and page faults)
# --------------------------------------------------------------------------

_TLS_CONTEXTS = []


def _tls_contexts():
    """bulk.py's server and client contexts, over a certificate made once
    per process (the test suite's, with `cryptography`)."""
    if not _TLS_CONTEXTS:
        import tempfile
        import bulk
        with tempfile.TemporaryDirectory() as d:
            _TLS_CONTEXTS.extend(bulk.contexts("tls", bulk.make_certs(d)))
    return _TLS_CONTEXTS


async def _bulk(n, tls):
    import bulk
    sctx, cctx = _tls_contexts() if tls else (None, None)
    chunks = max(1, n // 10)
    usage = bulk.Usage()
    await bulk.one_process(chunks, sctx, cctx, usage)
    return usage.elapsed, chunks * 10


async def bulk_stream(lib, n):
    """op = one MiB through asyncio streams over loopback TCP, both ends on
    the loop: the server writes 10 MiB and awaits drain(), n/10 times; the
    client loops `await reader.read(10 MiB)` until EOF (bytes counted)."""
    return await _bulk(n, False)


async def bulk_tls(lib, n):
    """op = one MiB as bulk_stream, over TLS (start_server(ssl=),
    open_connection(ssl=))."""
    return await _bulk(n, True)


# --------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------

@dataclass
class Workload:
    name: str
    func: Callable
    n: int                   # full size: ~0.2-0.5 s on stock asyncio
    quick_n: int             # --quick size
    op: str                  # short description of one op (table column)
    native: bool = False     # row uses the implementation's own sleep/gather
    base: Optional[str] = None  # native rows: main row they are a variant of
    size_is_depth: bool = False  # n is a tree depth, not scaled linearly
    doc: str = field(default="")

    def __post_init__(self):
        self.doc = " ".join((self.func.__doc__ or "").split())


# Sizes were chosen so that one timed run with stock asyncio takes about
# 0.2-0.3 s on a 2-core AMD EPYC VM (the harness does several timed runs per
# measurement); --quick is ~10x smaller. Exception: the async_tree rows keep
# pyperformance's depth 6 (55,986 nodes, ~1-1.5 s with stock asyncio);
# --quick uses depth 5 (9,330 nodes).
WORKLOADS = [
    Workload("call_soon", call_soon_chain, 80_000, 8_000, "callback"),
    Workload("call_soon_16", call_soon_chains, 160_000, 16_000, "callback"),
    Workload("future_roundtrip", future_roundtrip, 30_000, 3_000, "round trip"),
    Workload("future_pingpong", future_pingpong, 50_000, 5_000, "hand-off"),
    Workload("wait_for", wait_for_roundtrip, 20_000, 2_000, "round trip"),
    Workload("timeout", timeout_roundtrip, 20_000, 2_000, "round trip"),
    Workload("lock", lock_handoff, 30_000, 3_000, "hand-off"),
    Workload("queue", queue_handoff, 30_000, 3_000, "item"),
    Workload("sleep0", sleep0, 120_000, 12_000, "sleep(0)"),
    Workload("sleep0[native]", sleep0, 120_000, 12_000, "sleep(0)", native=True, base="sleep0"),
    Workload("task_gather", create_task_gather, 25_000, 3_000, "task"),
    Workload("task_gather[native]", create_task_gather, 25_000, 3_000, "task", native=True, base="task_gather"),
    Workload("gather_coros", gather_coros, 25_000, 3_000, "coroutine"),
    Workload("timers", timers, 30_000, 3_000, "timer"),
    Workload("timers_batch", timers_batch, 30_000, 4_000, "timer"),
    Workload("async_tree_none", async_tree_none, 6, 5, "node", size_is_depth=True),
    Workload("async_tree_none[native]", async_tree_none, 6, 5, "node", native=True,
             base="async_tree_none", size_is_depth=True),
    Workload("async_tree_sleep0", async_tree_sleep0, 6, 5, "node", size_is_depth=True),
    Workload("asyncgen_tree", asyncgen_tree, 20_000, 4_000, "generator"),
    Workload("subprocess", subprocess_communicate, 240, 40, "child"),
    Workload("bulk_stream", bulk_stream, 300, 30, "MiB"),
    Workload("bulk_tls", bulk_tls, 80, 10, "MiB"),
]

BY_NAME = {w.name: w for w in WORKLOADS}
