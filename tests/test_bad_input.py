"""Every public method with wrong types and values: casyncio must raise the
exception type stock asyncio raises (or accept what asyncio accepts), and
never crash.  Each call is made on a fresh stock loop and a fresh casyncio
loop and the outcomes are compared."""
import asyncio
import itertools

import pytest

import casyncio

BAD = [None, -1, 0, 2**70, -2**70, 1.5, float('inf'), 'x', b'x', (), [],
       {}, object(), print, asyncio.sleep]

# Deliberate, documented differences: (method, repr(args)) -> our outcome.
# asyncio's call_at() stores any deadline unchecked, and the first
# comparison inside run_forever() then raises TypeError out of the loop;
# we raise the same TypeError from call_at() itself.
DIFFERENCES = {
    ('call_at', repr((v, print))): 'TypeError'
    for v in BAD if not isinstance(v, (int, float)) and v is not None
}


def outcome(loop, method, args):
    try:
        res = getattr(loop, method)(*args)
    except Exception as e:         # noqa: BLE001 - the type is compared
        return type(e).__name__
    if asyncio.iscoroutine(res):
        res.close()
        return 'ok'
    if isinstance(res, (asyncio.Handle, casyncio.Handle)):
        res.cancel()
    return 'ok'


def drain(loop):
    """Run one iteration so accepted junk callbacks run (and get
    reported), then close."""
    reported = []
    loop.set_exception_handler(lambda lp, ctx: reported.append(
        type(ctx.get('exception')).__name__))
    loop.call_soon(loop.stop)
    loop.run_forever()
    loop.close()
    return reported


CALLBACK_METHODS = ['call_soon', 'call_soon_threadsafe']
TIMED_METHODS = ['call_later', 'call_at']
FD_METHODS = ['add_reader', 'add_writer', 'remove_reader', 'remove_writer']
ONE_ARG = ['set_task_factory', 'set_exception_handler', 'set_debug',
           'set_default_executor', 'call_exception_handler', 'create_task',
           'run_until_complete']


def cases():
    for m in CALLBACK_METHODS:
        for v in BAD:
            yield m, (v,)
            yield m, (print, v)
        yield m, ()
    for m in TIMED_METHODS:
        for v in BAD:
            yield m, (v, print)
            yield m, (1, v)
        yield m, (1,)
        yield m, ()
    for m in FD_METHODS:
        for v in BAD:
            if v == 0:
                continue        # fd 0 is valid: stdin
            yield m, (v,) if m.startswith('remove') else (v, print)
        yield m, ()
    for m in ONE_ARG:
        for v in BAD:
            yield m, (v,)
        yield m, ()
    for m in ['time', 'stop', 'is_running', 'is_closed', 'get_debug',
              'create_future', 'get_task_factory', 'get_exception_handler']:
        yield m, (1,)
    yield 'run_in_executor', (None, None)
    yield 'run_in_executor', (1, print)
    yield 'run_in_executor', ()


@pytest.mark.parametrize('method,args', list(cases()),
                         ids=lambda x: repr(x)[:40])
def test_same_exception_as_asyncio(method, args):
    ref_loop = asyncio.new_event_loop()
    our_loop = casyncio.new_event_loop()
    try:
        want = outcome(ref_loop, method, args)
        got = outcome(our_loop, method, args)
        if (method, repr(args)) in DIFFERENCES:
            ref_loop.close()        # asyncio's loop would raise in run
            want_reports = None
        else:
            want_reports = drain(ref_loop)
        got_reports = drain(our_loop)
    finally:
        ref_loop.close()
        our_loop.close()
    key = (method, repr(args))
    if key in DIFFERENCES:
        assert got == DIFFERENCES[key]
        return
    assert got == want
    assert got_reports == want_reports


@pytest.mark.parametrize('cls', ['Handle', 'TimerHandle'])
def test_handle_constructor_bad_args(cls):
    ours = getattr(casyncio, cls)
    ref = getattr(asyncio, cls)
    loop = casyncio.new_event_loop()
    try:
        for args in itertools.chain(
                [(), (print,), (print, ())],
                [(v, v, loop) for v in BAD[:6]]):
            if cls == 'TimerHandle':
                args = (1.0,) + args
            try:
                ref(*args)
                want = 'ok'
            except Exception as e:   # noqa: BLE001
                want = type(e).__name__
            try:
                ours(*args)
                got = 'ok'
            except Exception as e:   # noqa: BLE001
                got = type(e).__name__
            if want == 'ok':
                # asyncio's Python constructor checks nothing; ours needs a
                # sequence of arguments: a TypeError, never a crash
                assert got in ('ok', 'TypeError')
            else:
                assert got == want, args
    finally:
        loop.close()


# --- Future and Task methods, against asyncio's C Future and Task ---

FUTURE_CALLS = [
    ('result', ()), ('exception', ()), ('done', ()), ('cancelled', ()),
    ('get_loop', ()), ('cancel', ()), ('set_result', ()),
    ('set_exception', ()), ('add_done_callback', ()),
    ('remove_done_callback', ()),
] + [(m, (v,)) for m in ('set_result', 'set_exception', 'cancel',
                         'add_done_callback', 'remove_done_callback')
     for v in BAD] + [
    ('add_done_callback', (print, 1)),
    ('cancel', ('msg', 'extra')),
    ('_make_cancelled_error', ()),
    ('__await__', ()),
]

TASK_CALLS = FUTURE_CALLS + [
    ('get_coro', ()), ('get_name', ()), ('cancelling', ()),
    ('uncancel', ()), ('get_stack', ()),
] + [(m, (v,)) for m in ('set_name', 'get_stack', 'print_stack')
     for v in BAD if v is not print]


def _future_outcome(make, method, args):
    obj = make()
    try:
        res = getattr(obj, method)(*args)
        if hasattr(res, 'close') and method == '__await__':
            res.close()
        out = 'ok'
    except Exception as e:      # noqa: BLE001 - the type is compared
        out = type(e).__name__
    return obj, out


async def _sleeper():
    await asyncio.sleep(10)


@pytest.mark.parametrize('method,args', FUTURE_CALLS,
                         ids=lambda x: repr(x)[:40])
def test_future_methods_like_asyncio(method, args):
    ref_loop = asyncio.new_event_loop()
    our_loop = casyncio.new_event_loop()
    try:
        ref, want = _future_outcome(lambda: asyncio.Future(loop=ref_loop),
                                    method, args)
        ours, got = _future_outcome(lambda: casyncio.Future(loop=our_loop),
                                    method, args)
        assert got == want
        assert ours.done() == ref.done()
        for fut in (ref, ours):
            if fut.done() and not fut.cancelled():
                fut.exception()     # retrieved: no log at collection
    finally:
        drain(ref_loop)
        drain(our_loop)


@pytest.mark.parametrize('method,args', TASK_CALLS,
                         ids=lambda x: repr(x)[:40])
def test_task_methods_like_asyncio(method, args, capsys):
    ref_loop = asyncio.new_event_loop()
    our_loop = casyncio.new_event_loop()
    try:
        ref, want = _future_outcome(
            lambda: asyncio.Task(_sleeper(), loop=ref_loop), method, args)
        ours, got = _future_outcome(
            lambda: casyncio.Task(_sleeper(), loop=our_loop), method, args)
        assert got == want
        for t in (ref, ours):
            t.cancel()
    finally:
        drain(ref_loop)
        drain(our_loop)
