"""Differential test (issue #13): random asyncio programs run on stock
asyncio and on casyncio must leave the same event trace.

The programs come from tests/difftest_gen.py (seeded, reproducible).  CI runs
seeds range(CASYNCIO_DIFF_SEED0, CASYNCIO_DIFF_SEED0 + CASYNCIO_DIFF_N),
default 0..2999; a nightly-size run:

    CASYNCIO_DIFF_N=100000 python -m pytest tests/test_differential.py -q

A mismatch prints the seed, the program and a diff of the two traces; to
replay one seed: CASYNCIO_DIFF_SEED0=<seed> CASYNCIO_DIFF_N=1.
"""
import asyncio
import contextlib
import difflib
import gc
import os

import pytest

import casyncio
from casyncio import _tasks
from difftest_gen import FEATURES, HAS_EAGER, generate, run

N = int(os.environ.get('CASYNCIO_DIFF_N', '3000'))
SEED0 = int(os.environ.get('CASYNCIO_DIFF_SEED0', '0'))
CHUNK = 100
CHUNKS = [(s, min(s + CHUNK, SEED0 + N)) for s in range(SEED0, SEED0 + N,
                                                          CHUNK)]

STOCK_EAGER = getattr(asyncio, 'eager_task_factory', None)
CASYNCIO_EAGER = casyncio.eager_task_factory if HAS_EAGER else None


@contextlib.contextmanager
def stock_sleep():
    """asyncio's own sleep() as asyncio.sleep (importing casyncio made it
    casyncio's, on every loop): the reference runs stock code only."""
    saved = asyncio.sleep, asyncio.tasks.sleep
    asyncio.sleep = asyncio.tasks.sleep = _tasks._stock_sleep
    try:
        yield
    finally:
        asyncio.sleep, asyncio.tasks.sleep = saved


def stock_trace(program):
    with stock_sleep():
        return run(program, asyncio.new_event_loop, STOCK_EAGER)


def casyncio_trace(program):
    return run(program, casyncio.new_event_loop, CASYNCIO_EAGER,
               casyncio.Task)


def report(program, expected, got):
    diff = '\n'.join(difflib.unified_diff(
        expected, got, 'stock asyncio', 'casyncio', lineterm='', n=5))
    return (f'seed {program.seed}: traces differ\n'
            f'--- program (after difftest_gen.PRELUDE) ---\n'
            f'{program.source}\n--- trace diff ---\n{diff}')


@pytest.fixture
def frozen_gc():
    """run() collects garbage after each program (so that its "never
    retrieved" reports reach its own exception handler, not a later
    program's): freeze what the test session already holds so those
    collections stay cheap."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


@pytest.mark.parametrize('first,stop', CHUNKS,
                         ids=[f'seeds{a}-{b - 1}' for a, b in CHUNKS])
def test_traces_equal(first, stop, frozen_gc):
    failures = []
    for seed in range(first, stop):
        program = generate(seed)
        expected = stock_trace(program)
        got = casyncio_trace(program)
        # A program that does not run out by itself is the generator's bug
        # (its end would depend on the order of a set of tasks).
        assert not any(e.startswith('STUCK') for e in expected), \
            f'seed {seed}: stuck\n{program.source}\n' + '\n'.join(expected)
        if expected != got:
            failures.append((program, expected, got))
    if failures:
        seeds = [p.seed for p, _, _ in failures]
        pytest.fail(f'{len(failures)} program(s) differ, seeds {seeds}\n'
                    + report(*failures[0]), pytrace=False)


# -- the test can fail: its programs use every feature, its traces see a
#    different scheduling order and a different cancel() --------------------

def test_generator_uses_every_feature():
    used = set()
    for seed in range(SEED0, SEED0 + min(N, 500)):
        used |= generate(seed).features
    assert used == set(FEATURES), sorted(set(FEATURES) - used)


def test_generator_reproducible():
    assert generate(12345).source == generate(12345).source
    assert generate(1).source != generate(2).source


def test_traces_record_outcomes(frozen_gc):
    """Over a few programs the trace holds each kind of outcome."""
    kinds = {'cancelled CancelledError', 'uncancel ->', 'cancelling=1',
             "!TimeoutError", 'ExceptionGroup', 'EH Exception in callback',
             'done-cb', 'final resolve', 'expired=True', 'done=[',
             "!ValueError('"}
    seen = set()
    for seed in range(60):
        for event in stock_trace(generate(seed)):
            seen |= {k for k in kinds if k in event}
    assert seen == kinds, sorted(kinds - seen)


class ReversedReadyLoop(asyncio.SelectorEventLoop):
    """Stock asyncio's loop, running each iteration's ready callbacks in
    reverse order."""

    def _run_once(self):
        self._ready.reverse()
        super()._run_once()


class MessageLosingTask(asyncio.Task):
    """A Task whose cancel() forgets its message."""

    def cancel(self, msg=None):
        return super().cancel()


def message_losing_loop():
    loop = asyncio.new_event_loop()
    loop.set_task_factory(
        lambda loop, coro, **kw: MessageLosingTask(coro, loop=loop, **kw))
    return loop


MUTANTS = {
    'reversed_ready': (ReversedReadyLoop, STOCK_EAGER, asyncio.Task),
    'message_losing_task': (
        message_losing_loop,
        asyncio.create_eager_task_factory(MessageLosingTask)
        if HAS_EAGER else None,
        MessageLosingTask),
}


@pytest.mark.parametrize('mutant', sorted(MUTANTS))
def test_detects_a_different_loop(mutant, frozen_gc):
    """A loop that behaves differently from stock asyncio gives a
    different trace for many programs."""
    differ = 0
    seeds = range(60)
    for seed in seeds:
        program = generate(seed)
        if stock_trace(program) != run(program, *MUTANTS[mutant]):
            differ += 1
    # Measured on 3.11-3.15: reversed_ready 56-57 of 60,
    # message_losing_task 16-28 of 60.
    assert differ >= len(seeds) // 6, differ


def test_mismatch_report_shows_program_and_diff():
    program = generate(3)
    expected = stock_trace(program)
    i = next(i for i in range(len(expected) - 1)
             if expected[i] != expected[i + 1])
    got = list(expected)
    got[i], got[i + 1] = got[i + 1], got[i]
    text = report(program, expected, got)
    assert 'seed 3' in text and 'async def main' in text
    pair = expected[i:i + 2]
    assert any('\n-' + x in text for x in pair)
    assert any('\n+' + x in text for x in pair)


def test_detects_a_different_sleep(frozen_gc):
    """A sleep(0) that forgets its result argument gives a different trace
    for the programs that use it (the generator's sleep_result)."""
    async def result_losing_sleep(delay, result=None):
        await _tasks._stock_sleep(delay)

    seeds = [s for s in range(200) if 'sleep_result' in generate(s).features]
    assert len(seeds) >= 10, seeds
    differ = 0
    saved = asyncio.sleep
    for seed in seeds:
        program = generate(seed)
        expected = stock_trace(program)
        asyncio.sleep = result_losing_sleep
        try:
            got = run(program, asyncio.new_event_loop, STOCK_EAGER)
        finally:
            asyncio.sleep = saved
        differ += expected != got
    assert differ >= len(seeds) // 2, (differ, len(seeds))
