"""The loop core: scheduling, timers, fds, thread-safety, errors.

Each test runs on stock asyncio and on casyncio (the `loop` fixture)."""
import asyncio
import contextvars
import gc
import os
import socket
import signal
import subprocess
import sys
import textwrap
import threading
import time
import weakref

import pytest

import casyncio

from conftest import PACKAGE_PARENT


# 3.13: Handle reprs and "Exception in callback" messages show the
# callback's arguments only when the loop is in debug mode.
HIDES_ARGS = 'debug' in (
    asyncio.format_helpers._format_callback_source.__kwdefaults__ or {})


def run_until(loop, cond, timeout=5.0):
    deadline = time.monotonic() + timeout

    def check():
        if cond() or time.monotonic() > deadline:
            loop.stop()
        else:
            loop.call_soon(check)
    loop.call_soon(check)
    loop.run_forever()
    assert cond()


def test_call_soon_order_and_args(loop):
    out = []
    loop.call_soon(out.append, 1)
    loop.call_soon(lambda *a: out.append(a), 2, 3)
    loop.call_soon(loop.stop)
    loop.call_soon(out.append, 'after stop is still run')
    loop.run_forever()
    assert out == [1, (2, 3), 'after stop is still run']


def test_callbacks_added_while_running_wait_for_next_iteration(loop):
    out = []

    def first():
        out.append('first')
        loop.call_soon(out.append, 'added')
        loop.stop()
    loop.call_soon(first)
    loop.call_soon(out.append, 'second')
    loop.run_forever()
    assert out == ['first', 'second']
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert out == ['first', 'second', 'added']


def test_handle_api(loop):
    def cb(a, b):
        pass
    h = loop.call_soon(cb, 1, 2)
    assert isinstance(h, asyncio.Handle) or type(h).__name__ == 'Handle'
    assert not h.cancelled()
    if HIDES_ARGS:
        # 3.13: the arguments are shown in debug mode only
        assert repr(h).startswith('<Handle test_handle_api.<locals>.cb() at ')
        loop.set_debug(True)
        assert repr(h).startswith(
            '<Handle test_handle_api.<locals>.cb(1, 2) at ')
        loop.set_debug(False)
    else:
        assert repr(h).startswith(
            '<Handle test_handle_api.<locals>.cb(1, 2) at ')
    h.cancel()
    assert h.cancelled()
    assert repr(h) == '<Handle cancelled>'
    h.cancel()                      # twice is fine
    loop.call_soon(loop.stop)
    loop.run_forever()


def test_cancelled_handle_does_not_run(loop):
    out = []
    h = loop.call_soon(out.append, 1)
    h.cancel()
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert out == []


def test_context_argument(loop):
    import contextvars
    var = contextvars.ContextVar('var', default='default')
    ctx = contextvars.copy_context()
    ctx.run(var.set, 'in ctx')
    out = []
    loop.call_soon(lambda: out.append(var.get()), context=ctx)
    loop.call_soon(lambda: out.append(var.get()))
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert out == ['in ctx', 'default']


def test_timers_order_and_never_early(loop):
    out = []
    t0 = loop.time()
    for delay in (0.03, 0.01, 0.02, 0.01):
        loop.call_later(delay, lambda d=delay: out.append((d, loop.time())))
    loop.call_later(0.05, loop.stop)
    loop.run_forever()
    assert [d for d, _ in out] == [0.01, 0.01, 0.02, 0.03]
    for d, t in out:
        assert t - t0 >= d
        assert t - t0 < d + 0.5


def test_timer_handle_api(loop):
    when = loop.time() + 10
    h = loop.call_at(when, print)
    assert h.when() == when
    assert repr(h) == f'<TimerHandle when={when} print()>'
    h2 = loop.call_at(when + 1, print)
    assert h < h2 and h2 > h and h <= h2 and h != h2
    h.cancel()
    assert h.cancelled()
    assert repr(h) == f'<TimerHandle cancelled when={when}>'
    h2.cancel()


def _one_argument_callback(loop):
    """(seen, errors, cb): cb(x) records x and raises for 'boom'; errors
    gets the exception handler's messages."""
    seen = []
    errors = []
    loop.set_exception_handler(lambda l, c: errors.append(c['message']))

    def cb(x):
        seen.append(x)
        if x == 'boom':
            raise ValueError(x)
    return seen, errors, cb


def test_timer_one_argument(loop):
    # casyncio keeps call_later(d, cb, arg)'s one argument without a tuple
    # until _args, a repr or a comparison asks for it.
    seen, errors, cb = _one_argument_callback(loop)
    when = loop.time() + 10
    h = loop.call_at(when, cb, 'a')
    same = loop.call_at(when, cb, 'a')
    other = loop.call_at(when, cb, 'b')
    assert h == same and h != other and h <= same and not h < same
    assert h._args == ('a',) and h._args is h._args
    h2 = loop.call_later(0, cb, (1, 2))     # a tuple as the one argument
    assert h2._args == ((1, 2),)
    h3 = loop.call_later(0, cb, 'boom')
    r = repr(h3)
    loop.call_later(0, cb, 'x').cancel()
    for t in (h, same, other):
        t.cancel()
    assert h._args is None
    loop.call_later(0.01, loop.stop)
    loop.run_forever()
    assert seen == [(1, 2), 'boom']
    name = '_one_argument_callback.<locals>.cb'
    shown = "()" if HIDES_ARGS and not loop.get_debug() else "('boom')"
    assert r.startswith('<TimerHandle when=')
    assert f' {name}{shown} at {__file__}:' in r
    assert len(errors) == 1
    assert errors[0].startswith(
        f'Exception in callback {name}{shown} at {__file__}:')


def test_call_soon_one_argument(loop):
    # casyncio keeps call_soon(cb, arg)'s one argument without a tuple
    # until _args or a repr asks for it (as for timers, above).
    seen, errors, cb = _one_argument_callback(loop)
    h = loop.call_soon(cb, 'a')
    assert h._args == ('a',) and h._args is h._args
    h2 = loop.call_soon(cb, (1, 2))     # a tuple as the one argument
    h3 = loop.call_soon(cb, 'boom')
    r = repr(h3)
    loop.call_soon(cb, 'x').cancel()
    h4 = loop.call_soon(cb, None)
    assert h4._context is not None
    h5 = loop.call_soon(cb, 'z')
    h5.cancel()
    assert h5._args is None and h5.cancelled()
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert seen == ['a', (1, 2), 'boom', None]
    assert h2._args == ((1, 2),)
    name = '_one_argument_callback.<locals>.cb'
    shown = "()" if HIDES_ARGS and not loop.get_debug() else "('boom')"
    assert r.startswith('<Handle ')
    assert f' {name}{shown} at {__file__}:' in r or f'{name}{shown}' in r
    assert len(errors) == 1
    assert errors[0].startswith(
        f'Exception in callback {name}{shown} at {__file__}:')


def check_ran_contexts(var, holder, asked, h1, h2, h3, h4):
    """test_timer_context's and test_call_soon_context's handles after
    they ran."""
    assert h1._context[var] == 'one' and h2._context[var] == 'two'
    if sys.version_info >= (3, 12):     # Handle.get_context() is 3.12's
        assert h1._context is h1.get_context()
    assert h1._context is not h2._context
    assert asked is h3._context and asked[var] == 'three'
    assert holder['k'][var] == 'kept k'
    assert holder['k'] is holder['h_k']._context
    assert h4._context[var] == 'four'
    assert var.get() == 'after schedule'


def test_timer_context(loop):
    # casyncio's timers keep the context's variables and make the Context
    # when they run (or when asked): the same answers as asyncio's copies.
    import contextvars
    var = contextvars.ContextVar('timer_var', default='default')
    out = []
    holder = {}

    def setter(tag):
        out.append((tag, var.get()))
        var.set(tag)
        out.append((tag, var.get()))

    def keeper(tag):
        # keeps its running context: the next timers must not share it
        holder[tag] = holder['h_' + tag]._context
        var.set('kept ' + tag)

    var.set('at schedule')
    h1 = loop.call_later(0, setter, 'one')
    h2 = loop.call_later(0, setter, 'two')
    holder['h_k'] = loop.call_later(0, keeper, 'k')
    h3 = loop.call_later(0, setter, 'three')
    asked = h3._context                 # made before it runs
    assert asked is h3._context and asked[var] == 'at schedule'
    var.set('after schedule')
    h4 = loop.call_later(0, setter, 'four')
    h5 = loop.call_later(0, setter, 'five')
    h5.cancel()
    assert h5._context[var] == 'after schedule'
    loop.call_later(0.01, loop.stop)
    loop.run_forever()
    assert out == [('one', 'at schedule'), ('one', 'one'),
                   ('two', 'at schedule'), ('two', 'two'),
                   ('three', 'at schedule'), ('three', 'three'),
                   ('four', 'after schedule'), ('four', 'four')]
    # each ran in its own context, which keeps what the callback set
    check_ran_contexts(var, holder, asked, h1, h2, h3, h4)


def test_call_soon_context(loop):
    # casyncio's call_soon handles (3.14+) keep the context's variables and
    # make the Context when they run (or when asked): the same answers as
    # asyncio's copies, with and without one argument inline.
    import contextvars
    var = contextvars.ContextVar('soon_var', default='default')
    out = []
    holder = {}

    def setter(tag, *rest):
        out.append((tag, var.get()))
        var.set(tag)
        out.append((tag, var.get(), contextvars.copy_context()[var]))

    def keeper(tag):
        holder[tag] = holder['h_' + tag]._context
        assert holder[tag][var] == 'at schedule'
        var.set('kept ' + tag)

    def nested(tag):
        var.set(tag)
        # scheduled from inside a callback: sees what this one set
        loop.call_soon(setter, tag + ' inner')

    var.set('at schedule')
    h1 = loop.call_soon(setter, 'one')
    h2 = loop.call_soon(setter, 'two', 'extra')
    holder['h_k'] = loop.call_soon(keeper, 'k')
    h3 = loop.call_soon(setter, 'three')
    asked = h3._context                 # made before it runs
    assert asked is h3._context and asked[var] == 'at schedule'
    loop.call_soon(nested, 'n')
    var.set('after schedule')
    h4 = loop.call_soon(setter, 'four')
    h5 = loop.call_soon(setter, 'five')
    h5.cancel()
    assert repr(h5).startswith('<Handle cancelled')
    assert 'setter' in repr(h4)
    loop.call_soon(loop.stop)
    loop.run_forever()
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert out == [('one', 'at schedule'), ('one', 'one', 'one'),
                   ('two', 'at schedule'), ('two', 'two', 'two'),
                   ('three', 'at schedule'), ('three', 'three', 'three'),
                   ('four', 'after schedule'), ('four', 'four', 'four'),
                   ('n inner', 'n'), ('n inner', 'n inner', 'n inner')]
    check_ran_contexts(var, holder, asked, h1, h2, h3, h4)


def test_created_futures_freed_and_made_again(loop):
    # casyncio reuses freed Futures of loop.create_future(): a new one must
    # show nothing of the one before, and an exception never retrieved is
    # still reported (also for a future finalized by the garbage collector).
    import weakref
    contexts = []
    loop.set_exception_handler(lambda l, c: contexts.append(c))
    for round in range(3):
        futs = [loop.create_future() for _ in range(80)]
        for i, f in enumerate(futs):
            if i % 4 == 0:
                f.set_result(('r', i))
            elif i % 4 == 1:
                f.cancel(msg='m%d' % i)
            elif i % 4 == 2:
                f.set_exception(ValueError(i))
                f.exception()           # retrieved: nothing to report
            f.add_done_callback(lambda f: None)
            f.attr = i
            if i % 4 == 3:
                f.__await__().send(None)    # _asyncio_future_blocking set
                f.cancel()
        del futs, f
        loop.call_soon(loop.stop)
        loop.run_forever()
        gc.collect()
    assert contexts == []
    fresh = [loop.create_future() for _ in range(80)]
    for f in fresh:
        assert not f.done() and not f.cancelled() and f._state == 'PENDING'
        assert f._result is None and f._exception is None
        assert f._callbacks in (None, [])
        assert f._cancel_message is None and f._log_traceback is False
        assert f._asyncio_future_blocking is False
        assert f._source_traceback is None and f.get_loop() is loop
        assert not hasattr(f, 'attr')
        assert weakref.ref(f)() is f
        assert repr(f).startswith('<Future pending')
    del fresh, f
    exc = ValueError('lost')
    lost = loop.create_future()
    lost.set_exception(exc)
    del lost
    gc.collect()
    assert [c['exception'] for c in contexts] == [exc]
    cyc = loop.create_future()
    cyc.self_ref = cyc
    exc2 = ValueError('lost in a cycle')
    cyc.set_exception(exc2)
    del cyc
    gc.collect()
    assert [c['exception'] for c in contexts] == [exc, exc2]
    again = [loop.create_future() for _ in range(80)]
    for f in again:
        assert f._exception is None and not hasattr(f, 'self_ref')
        f.set_result(None)
    assert [c['exception'] for c in contexts] == [exc, exc2]


def test_timer_handles_freed_and_made_again(loop):
    # casyncio reuses freed TimerHandles: a new one must show nothing of
    # the one before (cancelled state, deadline, arguments, context,
    # weak references).
    import contextvars
    import gc
    import weakref
    var = contextvars.ContextVar('reuse_var', default='default')
    out = []
    refs = []
    for round in range(3):
        hs = [loop.call_later(0, out.append, (round, i)) for i in range(50)]
        refs.append(weakref.ref(hs[0]))
        for h in hs[1::2]:
            h.cancel()
        var.set(round)
        loop.call_later(0.001, loop.stop)
        loop.run_forever()
        del hs, h
        gc.collect()
        assert refs[-1]() is None
    when = loop.time() + 100
    fresh = [loop.call_at(when, out.append, 'x') for _ in range(50)]
    for h in fresh:
        assert not h.cancelled() and h._scheduled and h.when() == when
        assert h._args == ('x',) and h._callback == out.append
        assert h._context[var] == 2
        assert repr(h).startswith(f'<TimerHandle when={when} ')
    assert all(r() is None for r in refs)

    class Sub(asyncio.TimerHandle):
        pass

    s = Sub(when, print, (), loop)
    assert type(s) is Sub and s.when() == when
    del s
    gc.collect()
    for h in fresh:
        h.cancel()
    assert sorted(out) == [(r, i) for r in range(3) for i in range(0, 50, 2)]


def _timer_order_scenario(loop):
    # Deadlines in the past (all due at once) with many ties, cancellations
    # (some rounds enough for asyncio's compaction of the heap), rounds
    # that leave cancelled timers counted: the order the timers run in.
    import random
    rnd = random.Random(7)
    base = loop.time() - 10
    out = []
    for round, (n, ncancel, spread) in enumerate(
            [(600, 100, 50), (600, 400, 50), (3000, 1700, 200),
             (6000, 3100, 400), (300, 100, 5), (150, 20, 3)]):
        timers = []
        for i in range(n):
            when = base + rnd.randrange(spread) * 0.01
            timers.append(loop.call_at(when, out.append, (round, i)))
        for k in rnd.sample(range(n), ncancel):
            timers[k].cancel()
        loop.call_soon(loop.stop)
        loop.run_forever()
        loop.call_soon(loop.stop)
        loop.run_forever()
        assert not any(t._scheduled for t in timers)
        out.append(('end', round))
    return out


def test_timer_order_with_equal_deadlines(loop):
    # Timers with equal deadlines run in the order of asyncio's heapq heap,
    # which is not the order they were scheduled in.
    out = _timer_order_scenario(loop)
    stock = asyncio.new_event_loop()
    try:
        assert out == _timer_order_scenario(stock)
    finally:
        stock.close()
    assert len(out) == (600 - 100 + 600 - 400 + 3000 - 1700 + 6000 - 3100
                        + 200 + 130 + 6)


def test_cancelled_timer_does_not_run(loop):
    out = []
    hs = [loop.call_later(0.001 * i, out.append, i) for i in range(20)]
    for h in hs[::2]:
        h.cancel()
    loop.call_later(0.05, loop.stop)
    loop.run_forever()
    assert out == list(range(1, 20, 2))


def test_call_at_past_runs_next_iteration(loop):
    out = []
    loop.call_at(loop.time() - 100, out.append, 'late')
    loop.call_soon(loop.stop)
    loop.run_forever()
    # a due timer is moved to the ready queue in the same iteration, after
    # the callbacks already there
    assert out == ['late']


def test_timer_arguments(loop):
    with pytest.raises(TypeError, match='delay must not be None'):
        loop.call_later(None, print)
    with pytest.raises(TypeError, match='when cannot be None'):
        loop.call_at(None, print)
    with pytest.raises(TypeError):
        loop.call_later('1', print)
    with pytest.raises(TypeError):
        loop.call_soon()
    with pytest.raises(TypeError):
        loop.call_soon(print, foo=1)


def test_call_soon_threadsafe_wakes_sleeping_loop(loop):
    out = []

    def worker():
        time.sleep(0.1)
        loop.call_soon_threadsafe(out.append, threading.get_ident())
        loop.call_soon_threadsafe(loop.stop)
    t = threading.Thread(target=worker)
    t0 = time.monotonic()
    t.start()
    loop.call_later(30, print)      # the loop sleeps until woken
    loop.run_forever()
    t.join()
    assert out and out[0] != threading.get_ident()
    assert time.monotonic() - t0 < 5


def test_call_soon_threadsafe_handle_waits_for_running_callback(loop):
    # 3.14: call_soon_threadsafe() returns asyncio's _ThreadSafeHandle, whose
    # cancel() from another thread waits for the callback running in the
    # loop and then has nothing left to cancel; before 3.14 it is a plain
    # Handle and cancel() marks it at once.
    started, finished = threading.Event(), threading.Event()
    seen = {}

    def callback():
        started.set()
        time.sleep(0.3)
        finished.set()

    def blocker(busy, go):
        busy.set()
        go.wait(5)

    def other_thread():
        handle = loop.call_soon_threadsafe(callback)
        seen['type'] = type(handle).__name__
        started.wait(5)
        handle.cancel()
        seen['finished_at_cancel'] = finished.is_set()
        seen['cancelled'] = handle.cancelled()
        # the loop thread waits in `blocker` while the next handle is queued
        # behind it and cancelled, so it cannot have run before cancel()
        busy, go = threading.Event(), threading.Event()
        loop.call_soon_threadsafe(blocker, busy, go)
        busy.wait(5)
        dropped = loop.call_soon_threadsafe(seen.setdefault, 'ran', True)
        dropped.cancel()
        go.set()
        loop.call_soon_threadsafe(loop.stop)

    t = threading.Thread(target=other_thread)
    t.start()
    loop.run_forever()
    t.join()
    if sys.version_info >= (3, 14):
        assert seen == {'type': '_ThreadSafeHandle',
                        'finished_at_cancel': True, 'cancelled': True}
    else:
        assert seen['type'] == 'Handle' and 'ran' not in seen
        assert seen['cancelled'] is True


def test_call_soon_threadsafe_source_traceback_ends_at_caller(loop):
    # debug mode: the handle's creation traceback stops at the line that
    # called call_soon_threadsafe (3.14's _ThreadSafeHandle included)
    loop.set_debug(True)
    line = sys._getframe().f_lineno + 1
    handle = loop.call_soon_threadsafe(print)
    last = handle._source_traceback[-1]
    assert (last.name, last.lineno) == (
        'test_call_soon_threadsafe_source_traceback_ends_at_caller', line)


def test_reader_writer(loop):
    r, w = os.pipe()
    try:
        got = []

        def on_read():
            got.append(os.read(r, 100))
            if got[-1].endswith(b'!'):
                assert loop.remove_reader(r) is True
                loop.stop()

        def on_write():
            os.write(w, b'hello!')
            assert loop.remove_writer(w) is True
        loop.add_reader(r, on_read)
        loop.add_writer(w, on_write)
        loop.run_forever()
        assert b''.join(got) == b'hello!'
        assert loop.remove_reader(r) is False
        assert loop.remove_writer(w) is False
    finally:
        os.close(r)
        os.close(w)


def test_fds_polled_while_callbacks_keep_the_loop_busy(loop):
    # The ready queue never empties here, so every poll has a timeout of 0
    # (casyncio makes no epoll_wait at all while no fd is registered):
    # readers, writers and signal handlers added, removed and added again
    # in the middle must still be polled at once, in each iteration.
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    got = []
    busy = [0]

    def spin():
        busy[0] += 1
        if busy[0] < 100_000:
            loop.call_soon(spin)

    def on_readable():
        got.append(('read', a.recv(10), busy[0]))
        loop.remove_reader(a)
        if len(got) == 1:
            loop.call_soon(step2)

    def step2():
        b.send(b'two')
        loop.add_reader(a, on_readable)
        loop.add_writer(b, on_writable)

    def on_writable():
        got.append(('write', busy[0]))
        loop.remove_writer(b)
        loop.add_signal_handler(signal.SIGUSR1, on_signal)
        os.kill(os.getpid(), signal.SIGUSR1)

    def on_signal():
        got.append(('signal', busy[0]))
        loop.remove_signal_handler(signal.SIGUSR1)
        loop.stop()

    def start():
        b.send(b'one')
        loop.add_reader(a, on_readable)

    old = signal.getsignal(signal.SIGUSR1)
    try:
        loop.call_soon(spin)
        loop.call_soon(spin)        # two chains: never an empty queue
        # a few busy iterations with nothing registered first
        loop.call_soon(lambda: loop.call_soon(start))
        loop.run_forever()
    finally:
        signal.signal(signal.SIGUSR1, old)
        a.close()
        b.close()
    assert [g[0] for g in got] == ['read', 'read', 'write', 'signal']
    assert got[0][1] == b'one' and got[1][1] == b'two'
    # each within a few iterations, not after the chains ran out
    assert got[-1][-1] < 1_000, got


def test_reader_replaced(loop):
    r, w = os.pipe()
    try:
        out = []
        loop.add_reader(r, out.append, 'old')
        loop.add_reader(r, lambda: (out.append('new'), loop.stop()))
        os.write(w, b'x')
        loop.run_forever()
        assert out == ['new']
        loop.remove_reader(r)
    finally:
        os.close(r)
        os.close(w)


def test_reader_bad_fd(loop):
    with pytest.raises(ValueError, match='Invalid file object'):
        loop.add_reader(object(), print)
    with pytest.raises(ValueError, match='Invalid file descriptor: -1'):
        loop.add_reader(-1, print)
    with pytest.raises(ValueError, match='Invalid file object'):
        loop.remove_reader('x')


# --- registrations found by the object once it is closed (selectors' key) ---

@pytest.mark.parametrize('which', ['reader', 'writer'])
def test_remove_closed_socket_finds_registration(loop, which):
    add = getattr(loop, 'add_' + which)
    remove = getattr(loop, 'remove_' + which)
    a, b = socket.socketpair()
    add(a, print)
    fd = a.fileno()
    a.close()
    assert remove(a) is True            # found by the object
    assert remove(fd) is False          # and gone
    with pytest.raises(ValueError, match='Invalid file descriptor: -1'):
        remove(a)                       # not registered now: stock's error
    b.close()


def test_closed_socket_fd_reused(loop):
    a, b = socket.socketpair()
    loop.add_reader(a, print)
    fd = a.fileno()
    a.close()
    c, d = socket.socketpair()
    if c.fileno() != fd:
        c, d = d, c
    try:
        assert c.fileno() == fd
        # The stale registration still belongs to the closed object: the
        # object finds it, and it is gone for the reused number after.
        assert loop.remove_reader(a) is True
        assert loop.remove_reader(c) is False
        # The new socket registers and fires as usual.
        loop.add_reader(c, lambda: (c.recv(10), loop.stop()))
        d.send(b'x')
        loop.run_forever()
        assert loop.remove_reader(c) is True
    finally:
        for s in (b, c, d):
            s.close()


def test_registration_keeps_first_object(loop):
    a, b = socket.socketpair()
    try:
        fd = a.fileno()
        loop.add_reader(fd, print)         # first registration: by number
        loop.add_writer(a, print)
        a.close()
        with pytest.raises(ValueError, match='Invalid file descriptor: -1'):
            loop.remove_writer(a)       # the key's object is the int
        # (left registered: loop.close() drops them)
    finally:
        a.close()
        b.close()


def test_replace_reader_of_closed_socket(loop):
    a, b = socket.socketpair()
    loop.add_reader(a, print)
    a.close()
    loop.add_reader(a, print)           # found by the object: replaced
    assert loop.remove_reader(a) is True
    b.close()


def test_remove_on_closed_loop_is_false(loop):
    a, b = socket.socketpair()
    loop.add_reader(a, print)
    a.close()
    loop.close()
    assert loop.remove_reader(a) is False
    b.close()


def test_exception_in_callback_reported_and_loop_goes_on(loop):
    seen = []
    loop.set_exception_handler(lambda lp, ctx: seen.append(ctx))

    def bad():
        raise ZeroDivisionError('boom')
    loop.call_soon(bad)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert len(seen) == 1
    ctx = seen[0]
    assert isinstance(ctx['exception'], ZeroDivisionError)
    assert ctx['message'].startswith('Exception in callback ')
    assert 'bad()' in ctx['message']
    assert repr(ctx['handle']).startswith(
        '<Handle test_exception_in_callback_reported_and_loop_goes_on.'
        '<locals>.bad() at ')


@pytest.mark.parametrize('exc', [KeyboardInterrupt, SystemExit])
def test_keyboardinterrupt_leaves_run(loop, exc):
    out = []

    def raiser():
        raise exc()
    loop.call_soon(raiser)
    loop.call_soon(out.append, 'next')
    with pytest.raises(exc):
        loop.run_forever()
    assert not loop.is_running()
    # the rest of the ready queue is kept and runs next time
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert out == ['next']


def test_exception_handler_api(loop):
    assert loop.get_exception_handler() is None
    with pytest.raises(TypeError, match='A callable object or None'):
        loop.set_exception_handler(1)

    def handler(lp, ctx):
        pass
    loop.set_exception_handler(handler)
    assert loop.get_exception_handler() is handler
    loop.set_exception_handler(None)
    assert loop.get_exception_handler() is None


def test_default_exception_handler_logs(loop, caplog):
    loop.call_exception_handler({'message': 'hello there'})
    assert 'hello there' in caplog.text


def test_close(loop):
    assert not loop.is_closed()
    loop.close()
    assert loop.is_closed()
    loop.close()
    with pytest.raises(RuntimeError, match='Event loop is closed'):
        loop.call_soon(print)
    with pytest.raises(RuntimeError, match='Event loop is closed'):
        loop.call_later(1, print)
    with pytest.raises(RuntimeError, match='Event loop is closed'):
        loop.run_forever()
    with pytest.raises(RuntimeError, match='Event loop is closed'):
        loop.call_soon_threadsafe(print)


def test_close_running_loop(loop):
    errors = []

    def close():
        try:
            loop.close()
        except RuntimeError as e:
            errors.append(str(e))
        loop.stop()
    loop.call_soon(close)
    loop.run_forever()
    assert errors == ['Cannot close a running event loop']


def test_run_forever_nested(loop):
    errors = []

    def nested():
        try:
            loop.run_forever()
        except RuntimeError as e:
            errors.append(str(e))
        loop.stop()
    loop.call_soon(nested)
    loop.run_forever()
    assert errors == ['This event loop is already running']


def test_running_loop_is_registered(loop):
    seen = []

    def cb():
        seen.append(asyncio.get_running_loop())
        seen.append(asyncio.get_event_loop())
        seen.append(loop.is_running())
        loop.stop()
    loop.call_soon(cb)
    loop.run_forever()
    assert seen == [loop, loop, True]
    assert not loop.is_running()
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()


def test_debug_checks(loop):
    loop.set_debug(True)
    assert loop.get_debug()
    with pytest.raises(TypeError, match='coroutines cannot be used with '
                                        'call_soon'):
        async def coro():
            pass
        loop.call_soon(coro)
    with pytest.raises(TypeError, match='a callable object was expected'):
        loop.call_soon(1)
    errors = []

    def from_thread():
        try:
            loop.call_soon(print)
        except RuntimeError as e:
            errors.append(str(e))
        loop.call_soon_threadsafe(loop.stop)

    def start():
        threading.Thread(target=from_thread).start()
    loop.call_soon(start)
    loop.run_forever()
    assert errors == ['Non-thread-safe operation invoked on an event loop '
                      'other than the current one']
    loop.set_debug(False)


def test_slow_callback_logged_in_debug(loop, caplog):
    loop.set_debug(True)
    loop.slow_callback_duration = 0.01
    loop.call_soon(time.sleep, 0.03)
    loop.call_soon(loop.stop)
    with caplog.at_level('WARNING', logger='asyncio'):
        loop.run_forever()
    assert 'Executing <Handle sleep(0.03)' in caplog.text
    assert 'took 0.0' in caplog.text


def test_run_in_executor(loop):
    async def main():
        return await loop.run_in_executor(None, sum, [1, 2, 3])
    assert loop.run_until_complete(main()) == 6
    loop.run_until_complete(loop.shutdown_default_executor())


def test_run_until_complete_future(loop):
    fut = loop.create_future()
    loop.call_later(0.01, fut.set_result, 42)
    assert loop.run_until_complete(fut) == 42


def test_run_until_complete_stopped(loop):
    fut = loop.create_future()
    loop.call_soon(loop.stop)
    with pytest.raises(RuntimeError, match='Event loop stopped before '
                                           'Future completed.'):
        loop.run_until_complete(fut)


def test_run_until_complete_coroutine(loop):
    async def main():
        await asyncio.sleep(0.01)
        return asyncio.current_task() is not None
    assert loop.run_until_complete(main()) is True


def test_asyncgen_hooks_and_shutdown(loop):
    closed = []

    async def agen():
        try:
            yield 1
            yield 2
        finally:
            closed.append(True)

    async def main():
        g = agen()
        assert await g.__anext__() == 1
        return g
    g = loop.run_until_complete(main())
    loop.run_until_complete(loop.shutdown_asyncgens())
    assert closed == [True]
    del g



def test_asyncgens_registry_as_asyncio_keeps_it(loop):
    """loop._asyncgens holds each iterated generator weakly, as asyncio's
    WeakSet does: len(), iteration, `in`, gone when the generator is, and
    the finalizer hook's discard for one dropped unfinished."""
    import gc

    async def agen(n):
        for i in range(n):
            yield i

    async def main():
        done = agen(1)
        assert [v async for v in done] == [0]
        unfinished = agen(3)
        assert await unfinished.__anext__() == 0
        never = agen(1)
        gens = loop._asyncgens
        assert len(gens) == 2
        assert set(gens) == {done, unfinished}
        assert done in gens and unfinished in gens
        assert never not in gens and 1 not in gens
        del done
        gc.collect()
        assert list(gens) == [unfinished]
        del unfinished      # unfinished: the finalizer hook closes it
        gc.collect()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert len(gens) == 0
        never.aclose().close()

    loop.run_until_complete(main())


def test_firstiter_hook_after_shutdown_warns_and_adds(loop):
    async def agen():
        yield 1

    async def first(g):
        return await g.__anext__()

    loop.run_until_complete(loop.shutdown_asyncgens())
    assert loop._asyncgens_shutdown_called is True
    g = agen()
    with pytest.warns(ResourceWarning,
                      match=r"asynchronous generator <async_generator "
                            r"object .*agen at 0x[0-9a-f]+> was scheduled "
                            r"after loop.shutdown_asyncgens\(\) call"):
        assert loop.run_until_complete(first(g)) == 1
    assert g in loop._asyncgens
    loop.run_until_complete(g.aclose())


def test_firstiter_hook_called_directly_and_overridden(loop):
    seen = []

    async def agen():
        yield 1

    g = agen()
    loop._asyncgen_firstiter_hook(g)
    assert list(loop._asyncgens) == [g]
    loop._asyncgens.discard(g)
    loop._asyncgens.discard(g)          # absent: no error
    assert len(loop._asyncgens) == 0

    class Sub(type(loop)):
        def _asyncgen_firstiter_hook(self, agen):
            seen.append(agen)
            super()._asyncgen_firstiter_hook(agen)

    sub = Sub()
    try:
        async def main():
            h = agen()
            await h.__anext__()
            return h
        h = sub.run_until_complete(main())
        assert seen == [h] and list(sub._asyncgens) == [h]
        sub.run_until_complete(sub.shutdown_asyncgens())
    finally:
        sub.close()
    g.aclose().close()


def test_asyncgen_set_rejects_bad_input():
    from casyncio import _core
    loop = casyncio.new_event_loop()
    try:
        with pytest.raises(TypeError):
            _core._AsyncGenSet()
        with pytest.raises(TypeError):
            _core._AsyncGenSet(1)           # not weakly referenceable
        with pytest.raises(TypeError):
            _core._AsyncGenSet(loop, x=1)
        gens = loop._asyncgens
        for call in (gens.add, gens.discard, gens.firstiter):
            with pytest.raises(TypeError):
                call(1)
        assert 1 not in gens and len(gens) == 0
        assert repr(gens) == '<_AsyncGenSet []>'
        gens.shutdown_called = True
        del gens.shutdown_called
        assert gens.shutdown_called is False
    finally:
        loop.close()


CTRL_C = textwrap.dedent('''
    import asyncio, sys, time
    sys.path.insert(0, {path!r})
    import casyncio
    loop = casyncio.new_event_loop() if sys.argv[1] == 'casyncio' \\
        else asyncio.new_event_loop()
    async def main():
        await asyncio.sleep(30)
    print('ready', flush=True)
    t0 = time.monotonic()
    try:
        loop.run_until_complete(main())
    except KeyboardInterrupt:
        print('KeyboardInterrupt after %.1f' % (time.monotonic() - t0))
    print(loop.run_until_complete(asyncio.sleep(0.01, 'runs again')))
    loop.close()
''')


@pytest.mark.parametrize('impl', ['asyncio', 'casyncio'])
def test_ctrl_c_while_waiting(impl):
    code = CTRL_C.format(path=PACKAGE_PARENT)
    p = subprocess.Popen([sys.executable, '-c', code, impl],
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline() == 'ready\n'
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=10)
    assert p.returncode == 0
    lines = out.splitlines()
    assert lines[0].startswith('KeyboardInterrupt after 0.')
    assert lines[1] == 'runs again'


def test_asyncio_runner_with_loop_factory():
    import casyncio
    seen = {}

    async def main():
        loop = asyncio.get_running_loop()
        seen['loop'] = loop
        seen['task'] = asyncio.current_task()
        seen['all'] = asyncio.all_tasks()
        async with asyncio.TaskGroup() as tg:
            t = tg.create_task(asyncio.sleep(0.01, 'tg'))
        async with asyncio.timeout(1):
            await asyncio.sleep(0)
        return t.result()

    with asyncio.Runner(loop_factory=casyncio.new_event_loop) as runner:
        assert runner.run(main()) == 'tg'
        assert type(runner.get_loop()) is casyncio.Loop
    assert isinstance(seen['loop'], casyncio.Loop)
    assert isinstance(seen['task'], casyncio.Task)
    assert seen['all'] == {seen['task']}
    assert seen['loop'].is_closed()


@pytest.mark.parametrize('how', ['PYTHONASYNCIODEBUG', '-X dev', 'none'])
def test_debug_mode_from_environment(how):
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    env.pop('PYTHONASYNCIODEBUG', None)
    env.pop('PYTHONDEVMODE', None)
    args = [sys.executable]
    if how == 'PYTHONASYNCIODEBUG':
        env['PYTHONASYNCIODEBUG'] = '1'
    elif how == '-X dev':
        args += ['-X', 'dev']
    code = ('import casyncio; l = casyncio.new_event_loop(); '
            'print(l.get_debug()); l.close()')
    out = subprocess.run(args + ['-c', code], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert out == ('False\n' if how == 'none' else 'True\n')


# --- regressions found in review: each crashed, hung or differed ---

def test_unencodable_callback_repr_is_reported(loop):
    class X:
        def __repr__(self):
            return '\ud800'

    def boom(x):
        raise ValueError('boom')
    seen = []
    if HIDES_ARGS:
        loop.set_debug(True)    # 3.13: the arguments are shown only then
    loop.set_exception_handler(lambda lp, ctx: seen.append(ctx['message']))
    loop.call_soon(boom, X())
    fut = loop.create_future()
    fut.add_done_callback(lambda f: boom(X()))
    fut.set_result(1)
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert len(seen) == 2
    assert '\ud800' in seen[0]


def test_timer_handle_eq_with_callback_that_cancels(loop):
    class CB:
        def __eq__(self, other):
            h1.cancel()
            return True
        __hash__ = object.__hash__
    h1 = loop.call_at(100.0, CB(), *range(30))
    h2 = loop.call_at(100.0, CB(), *range(30))
    assert (h1 == h2) is False
    h2.cancel()


@pytest.mark.parametrize('fd', [2**31 - 1, 10**9])
def test_huge_fd_is_bad_file_descriptor(loop, fd):
    with pytest.raises(OSError) as e:
        loop.add_reader(fd, print)
    assert e.value.errno == 9
    assert loop.remove_reader(fd) is False


@pytest.mark.parametrize('exc', [SystemExit, KeyboardInterrupt])
def test_exit_from_exception_handler_leaves_the_loop(loop, exc):
    def handler(lp, ctx):
        raise exc('fatal')
    loop.set_exception_handler(handler)
    loop.call_soon(lambda: 1 / 0)
    out = []
    loop.call_later(0.05, out.append, 'still running')
    loop.call_later(0.1, loop.stop)
    with pytest.raises(exc):
        loop.run_forever()
    assert out == []


def test_future_callbacks_on_closed_loop(loop):
    fut = loop.create_future()
    fut.add_done_callback(print)
    loop.close()
    with pytest.raises(RuntimeError, match='Event loop is closed'):
        fut.set_result(1)


def test_debug_handle_traceback_and_cancelled_not_timed(loop, caplog):
    loop.set_debug(True)
    loop.slow_callback_duration = 0
    h = loop.call_soon(print, 'cancelled')
    h.cancel()
    loop.call_soon(lambda: loop.call_exception_handler(
        {'message': 'something odd'}))
    loop.call_soon(loop.stop)
    with caplog.at_level('DEBUG', logger='asyncio'):
        loop.run_forever()
    assert 'something odd' in caplog.text
    assert 'handle_traceback: Handle created at' in caplog.text
    assert "Executing <Handle cancelled" not in caplog.text
    loop.set_debug(False)


def test_close_from_a_callback_of_run_once(cloop):
    out = []
    cloop.call_soon(cloop.close)
    cloop.call_soon(out.append, 'x')
    cloop._run_once()               # stock: IndexError from its deque
    assert cloop.is_closed() and out == []


# Signal handlers: tests/test_signals.py.


def test_debug_thread_check_on_future_callbacks(loop):
    loop.set_debug(True)
    errors = []

    async def main():
        f = loop.create_future()
        f.add_done_callback(lambda _: None)

        def other():
            try:
                f.set_result(1)
            except RuntimeError as e:
                errors.append(str(e))
        th = threading.Thread(target=other)
        th.start()
        th.join()
    loop.run_until_complete(main())
    assert errors == ['Non-thread-safe operation invoked on an event loop '
                      'other than the current one']
    loop.set_debug(False)


# ---- what later versions added to the loop ----

@pytest.mark.skipif(sys.version_info < (3, 13),
                    reason='_run_forever_setup/_cleanup are new in 3.13')
def test_run_forever_setup_once_cleanup(loop):
    """3.13's hooks for loops that integrate another event loop:
    _run_forever_setup(), _run_once() steps, _run_forever_cleanup()."""
    import asyncio.events as ev
    seen = []
    hooks = sys.get_asyncgen_hooks()
    loop._run_forever_setup()
    try:
        assert loop.is_running()
        assert ev._get_running_loop() is loop
        assert sys.get_asyncgen_hooks() != hooks
        loop.call_soon(lambda: seen.append(asyncio.get_running_loop()))
        loop._run_once()
        assert seen == [loop]
    finally:
        loop._run_forever_cleanup()
    assert not loop.is_running()
    assert ev._get_running_loop() is None
    assert sys.get_asyncgen_hooks() == hooks
    assert loop._old_agen_hooks is None
    assert loop.run_until_complete(asyncio.sleep(0, 'after')) == 'after'


def test_run_forever_on_a_running_loop(loop):
    """run_forever() inside the running loop raises; 3.13's clean-up runs
    all the same (its set-up is inside the try: the loop then looks
    stopped), 3.14 moved the set-up out of it."""
    out = []

    async def main():
        with pytest.raises(RuntimeError,
                           match='This event loop is already running'):
            loop.run_forever()
        out.append(loop.is_running())
    loop.run_until_complete(main())
    assert out == [sys.version_info[:2] != (3, 13)]


@pytest.mark.skipif(sys.version_info < (3, 13),
                    reason='Queue.shutdown is new in 3.13')
def test_queue_shutdown(loop):
    async def main():
        q = asyncio.Queue()
        getter = asyncio.ensure_future(q.get())
        await asyncio.sleep(0)
        q.put_nowait(1)
        assert await getter == 1
        getter = asyncio.ensure_future(q.get())
        await asyncio.sleep(0)
        q.shutdown()
        with pytest.raises(asyncio.QueueShutDown):
            await getter
        with pytest.raises(asyncio.QueueShutDown):
            q.put_nowait(2)
        q2 = asyncio.Queue(maxsize=1)
        q2.put_nowait('x')
        putter = asyncio.ensure_future(q2.put('y'))
        await asyncio.sleep(0)
        q2.shutdown(immediate=True)
        with pytest.raises(asyncio.QueueShutDown):
            await putter
        assert q2.empty()
    loop.run_until_complete(main())


class _CallSoonRecorder:
    def call_soon(self, callback, *args, context=None):
        self.seen.append(getattr(callback, '__name__', repr(callback)))
        return super().call_soon(callback, *args, context=context)


@pytest.mark.parametrize('depth', [1, 2])
def test_subclass_overriding_call_soon_sees_future_callbacks(depth):
    # A loop subclass that overrides call_soon (directly, or through a base
    # class further up its MRO) sees every done callback a future
    # schedules, as asyncio's Future calls loop.call_soon; casyncio's
    # queue-it-directly path is only for its own call_soon.
    import casyncio
    cls = type('Recording', (_CallSoonRecorder, casyncio.Loop), {})
    if depth == 2:
        cls = type('Deeper', (cls,), {})
    loop = cls()
    loop.seen = []
    try:
        fut = loop.create_future()

        def on_done(f):
            loop.stop()
        fut.add_done_callback(on_done)
        fut.set_result(1)
        loop.run_forever()
        assert 'on_done' in loop.seen
    finally:
        loop.close()


@pytest.mark.parametrize('args', [(), (1, 2)])
def test_handle_repr_without_callable(loop, args):
    # asyncio's Handle repr leaves a None callback out.
    seen = []
    loop.set_exception_handler(lambda lp, ctx: seen.append(ctx))
    h = loop.call_soon(None, *args)
    assert repr(h) == '<Handle>'
    loop.call_soon(loop.stop)
    loop.run_forever()
    assert repr(seen[0]['handle']) == '<Handle>'
    # (None(1, 2) up to 3.12, None() from 3.13 on, on both loops)
    assert seen[0]['message'].startswith('Exception in callback None(')
    h = loop.call_soon(None)
    h.cancel()
    assert repr(h) == '<Handle cancelled>'


def test_runner_close_on_closed_loop_names_stock_coroutine(loop):
    # Runner.close() on a loop the program closed leaves the coroutine of
    # loop.shutdown_asyncgens() unawaited; pytest-asyncio filters the
    # warning by stock's name.
    import gc
    import warnings
    runner = asyncio.Runner(loop_factory=lambda: loop)
    runner.run(asyncio.sleep(0))
    loop.close()
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter('always')
        with pytest.raises(RuntimeError, match='Event loop is closed'):
            runner.close()
        gc.collect()
    assert [str(w.message) for w in seen] == [
        "coroutine 'BaseEventLoop.shutdown_asyncgens' was never awaited"]


def test_handles_made_after_dead_ones_start_fresh(loop):
    # Dead handles (run, cancelled, weakly referenced) and new ones: each
    # new handle has its own callback, arguments, state and context.
    var = contextvars.ContextVar("v", default=0)
    seen = []
    for i in range(40):
        var.set(i)
        h = loop.call_soon(lambda i=i: seen.append((i, var.get())))
        if i % 3 == 0:
            h.cancel()
        if i % 5 == 0:
            ref = weakref.ref(h)
            del h
            gc.collect()
            assert ref() is not None    # the loop's queue still holds it
        else:
            del h
        loop.call_soon(loop.stop)
        loop.run_forever()
        if i % 5 == 0:
            gc.collect()
            assert ref() is None
    assert seen == [(i, i) for i in range(40) if i % 3]
    h = loop.call_soon(print, 1, 2)
    assert not h.cancelled() and h._args == (1, 2) and h._callback is print
    assert "print" in repr(h) and "cancelled" not in repr(h)
    h.cancel()


def test_current_task_between_task_steps(loop):
    # casyncio (3.11-3.13) leaves a task's tasks._current_tasks entry in
    # place when the loop's next entry is another task's step: no code may
    # see it - not callbacks between steps, not finalizers of what a step
    # or the loop frees, not a task freed after its last step.
    from asyncio import tasks as atasks
    seen = []

    # up to 3.13 tasks._current_tasks is where the current task is kept
    direct = sys.version_info < (3, 14)

    def where():
        in_dict = loop in atasks._current_tasks if direct else None
        return asyncio.current_task(loop), in_dict

    class Probe:
        def __init__(self, tag):
            self.tag = tag

        def __del__(self):
            seen.append((self.tag,) + where())

    def cb(tag):
        seen.append((tag,) + where())

    async def switcher(k):
        me = asyncio.current_task()
        for i in range(5):
            await asyncio.sleep(0)
            assert where() == (me, True if direct else None)
        return k

    async def worker(k):
        me = asyncio.current_task()
        for i in range(3):
            p = Probe(('step', k))
            del p
            loop.call_soon(cb, ('cb', k))
            await asyncio.sleep(0)
            fut = loop.create_future()
            loop.call_soon(fut.set_result, Probe(('result', k)))
            await fut
            del fut
            assert asyncio.current_task() is me
        return k

    async def lost(k):
        await asyncio.sleep(0)
        raise ValueError(k)

    loop.set_exception_handler(
        lambda l, c: seen.append(('handler',) + where()))

    async def main():
        for k in range(3):
            loop.create_task(lost(k))           # no reference kept
        ts = [loop.create_task(switcher(k)) for k in range(4)]
        ts += [loop.create_task(worker(k)) for k in range(3)]
        for t in ts:
            t.add_done_callback(lambda t: cb('done'))
        return await asyncio.gather(*ts)

    assert loop.run_until_complete(main()) == [0, 1, 2, 3, 0, 1, 2]
    for _ in range(3):
        gc.collect()
    outside = (None, False if direct else None)
    kinds = {}
    for tag, cur, in_dict in seen:
        kind = tag[0] if isinstance(tag, tuple) else tag
        kinds[kind] = kinds.get(kind, 0) + 1
        if kind == 'step':
            assert cur is not None and cur.get_coro().__name__ == 'worker'
            assert in_dict is (True if direct else None)
        else:
            assert (cur, in_dict) == outside, (tag, cur, in_dict)
    assert kinds == {'step': 9, 'cb': 9, 'result': 9, 'done': 7,
                     'handler': 3}
