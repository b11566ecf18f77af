"""loop.add_signal_handler / remove_signal_handler, the same test bodies on
stock asyncio and casyncio (the `loop` fixture).  casyncio reads the
signal wake-up fd in C in its poll phase (src/signal.c)."""
import asyncio
import os
import signal
import threading
import time

import pytest


@pytest.fixture(autouse=True)
def restore_signals():
    saved = {s: signal.getsignal(s) for s in (signal.SIGUSR1, signal.SIGUSR2,
                                              signal.SIGINT)}
    yield
    for s, h in saved.items():
        signal.signal(s, h)
    signal.set_wakeup_fd(-1)


def kill(sig):
    os.kill(os.getpid(), sig)


def test_handler_runs_with_args_in_a_handle(loop):
    got = []

    def handler(*args):
        got.append(args)
        loop.stop()
    loop.add_signal_handler(signal.SIGUSR1, handler, 'a', 2)
    handle = loop._signal_handlers[signal.SIGUSR1]
    assert not handle.cancelled()
    assert handle._args == ('a', 2)
    assert signal.set_wakeup_fd(-1) != -1       # ours is installed ...
    loop.add_signal_handler(signal.SIGUSR1, handler, 'a', 2)    # ... again
    loop.call_soon(kill, signal.SIGUSR1)
    loop.call_later(30, loop.stop)
    loop.run_forever()
    assert got == [('a', 2)]
    assert loop.remove_signal_handler(signal.SIGUSR1)
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL


def test_repeated_signals_one_call_per_delivery(loop):
    """Each delivered signal writes one byte to the wake-up fd and asyncio
    queues the Handle once per byte: two deliveries before the loop reads
    the fd give two calls, in the same iteration."""
    got = []
    loop.add_signal_handler(signal.SIGUSR1, got.append, 1)
    loop.add_signal_handler(signal.SIGUSR2, got.append, 2)

    def send():
        kill(signal.SIGUSR1)
        kill(signal.SIGUSR2)
        kill(signal.SIGUSR1)

    async def main():
        send()
        while len(got) < 3:
            await asyncio.sleep(0.001)
    loop.run_until_complete(asyncio.wait_for(main(), 30))
    assert sorted(got) == [1, 1, 2]
    loop.close()


def test_remove(loop):
    got = []
    loop.add_signal_handler(signal.SIGUSR1, got.append, 1)
    assert loop.remove_signal_handler(signal.SIGUSR1) is True
    assert loop.remove_signal_handler(signal.SIGUSR1) is False
    assert signal.SIGUSR1 not in loop._signal_handlers
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL
    # The last handler removed: no wake-up fd any more.
    assert signal.set_wakeup_fd(-1) == -1
    loop.add_signal_handler(signal.SIGINT, got.append, 2)
    assert loop.remove_signal_handler(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(ValueError, match='invalid signal number'):
        loop.remove_signal_handler(0)


def test_errors(loop):
    async def coro():
        pass
    with pytest.raises(TypeError, match='coroutines cannot be used with '
                                        r'add_signal_handler\(\)'):
        loop.add_signal_handler(signal.SIGUSR1, coro)
    with pytest.raises(TypeError, match='sig must be an int'):
        loop.add_signal_handler(1.5, print)
    with pytest.raises(ValueError, match='invalid signal number 0'):
        loop.add_signal_handler(0, print)
    with pytest.raises(ValueError, match='invalid signal number'):
        loop.add_signal_handler(signal.NSIG + 1, print)
    # Uncatchable: asyncio's signal.signal() fails with EINVAL.
    for sig in (signal.SIGKILL, signal.SIGSTOP):
        with pytest.raises(RuntimeError, match=f'sig {sig} cannot be '
                                               'caught'):
            loop.add_signal_handler(sig, print)
        assert sig not in loop._signal_handlers
    assert loop._signal_handlers == {}
    loop.close()
    with pytest.raises(RuntimeError, match='Event loop is closed'):
        loop.add_signal_handler(signal.SIGUSR1, print)


def test_off_main_thread(loop):
    errors = []

    def other():
        try:
            loop.add_signal_handler(signal.SIGUSR1, print)
        except RuntimeError as e:
            errors.append(str(e))
    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert len(errors) == 1 and 'main thread' in errors[0]
    assert loop._signal_handlers == {}


def test_handler_replaced(loop):
    got = []
    loop.add_signal_handler(signal.SIGUSR1, got.append, 'old')
    loop.add_signal_handler(signal.SIGUSR1, got.append, 'new')
    assert len(loop._signal_handlers) == 1

    async def main():
        kill(signal.SIGUSR1)
        while not got:
            await asyncio.sleep(0.001)
    loop.run_until_complete(asyncio.wait_for(main(), 30))
    assert got == ['new']


def test_cancelled_handle_removed_when_signalled(loop):
    got = []
    loop.add_signal_handler(signal.SIGUSR1, got.append, 1)
    loop._signal_handlers[signal.SIGUSR1].cancel()

    async def main():
        kill(signal.SIGUSR1)
        while signal.SIGUSR1 in loop._signal_handlers:
            await asyncio.sleep(0.001)
    loop.run_until_complete(asyncio.wait_for(main(), 30))
    assert got == []
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL


def test_handler_exception_reported(loop):
    ctxs = []
    loop.set_exception_handler(lambda lp, ctx: ctxs.append(ctx))

    def boom():
        loop.stop()
        raise ZeroDivisionError
    loop.add_signal_handler(signal.SIGUSR1, boom)
    loop.call_soon(kill, signal.SIGUSR1)
    loop.call_later(30, loop.stop)
    loop.run_forever()
    assert isinstance(ctxs[0]['exception'], ZeroDivisionError)
    assert ctxs[0]['message'].startswith('Exception in callback')


def test_close_cleans_up(loop):
    loop.add_signal_handler(signal.SIGUSR1, print)
    loop.add_signal_handler(signal.SIGINT, print)
    fds = set(os.listdir('/proc/self/fd'))
    loop.close()
    assert loop._signal_handlers == {}
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.set_wakeup_fd(-1) == -1
    assert len(set(os.listdir('/proc/self/fd'))) < len(fds)


def test_no_fd_leak(loop):
    def count():
        return len(os.listdir('/proc/self/fd'))
    loop.add_signal_handler(signal.SIGUSR1, print)
    loop.remove_signal_handler(signal.SIGUSR1)
    before = count()
    for _ in range(10):
        loop.add_signal_handler(signal.SIGUSR1, print)
        loop.remove_signal_handler(signal.SIGUSR1)
    assert count() == before


def test_signal_wakes_a_long_poll(loop):
    """Nothing to do but a timer far away: the loop sleeps in the poller
    until the signal, sent from another thread, wakes it."""
    got = []
    loop.add_signal_handler(signal.SIGUSR1,
                            lambda: (got.append(time.monotonic()),
                                     loop.stop()))
    waiting = threading.Event()
    loop.call_soon(waiting.set)

    def sender():
        waiting.wait()
        time.sleep(0.1)         # the loop is in epoll_wait by now
        kill(signal.SIGUSR1)
    t = threading.Thread(target=sender)
    t.start()
    guard = loop.call_later(60, loop.stop)
    loop.run_forever()
    t.join()
    guard.cancel()
    assert len(got) == 1
