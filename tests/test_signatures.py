"""Introspection: every public method of casyncio's loop, handles, Future,
Task, transports and TLS protocol has the signature (parameter names,
kinds, defaults) of the stock asyncio class of the running Python, and a
docstring where stock's has one; the C types carry text signatures, so
inspect.signature(), help() and mock's autospec work as on asyncio."""
import asyncio
import contextvars
import inspect
import os
import pydoc
import socket
import ssl
import sys
from asyncio import selector_events, sslproto, unix_events
from unittest import mock

import pytest

import casyncio
from casyncio import _core, _net, _tls, _udp, _unix


def public_methods(cls):
    return sorted(n for n in dir(cls)
                  if not n.startswith('_')
                  and callable(getattr(cls, n))
                  and not isinstance(getattr(cls, n), type))


def params(sig):
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


def signature_or_none(obj):
    try:
        return inspect.signature(obj)
    except ValueError:
        return None


def method_sig(owner, name, unbound):
    """The signature of owner.name; of a class's function, without self
    (as a bound method's)."""
    sig = inspect.signature(getattr(owner, name))
    if unbound:
        static = inspect.getattr_static(owner, name)
        if not isinstance(static, (classmethod, staticmethod)):
            sig = sig.replace(parameters=list(sig.parameters.values())[1:])
    return sig


def compare(stock, ours, unbound=False):
    """Mismatches of the public methods of stock's class that ours has:
    (name, what, stock's, ours)."""
    stock_cls = stock if unbound else type(stock)
    ours_cls = ours if unbound else type(ours)
    bad = []
    compared = 0
    for name in public_methods(stock_cls):
        if not hasattr(ours_cls, name):
            continue
        if signature_or_none(getattr(stock, name)) is not None:
            s = method_sig(stock, name, unbound)
            try:
                o = method_sig(ours, name, unbound)
            except ValueError:
                bad.append((name, 'no signature', str(s), None))
                continue
            if params(s) != params(o):
                bad.append((name, 'signature', str(s), str(o)))
            compared += 1
        if (inspect.getdoc(getattr(stock_cls, name))
                and not inspect.getdoc(getattr(ours_cls, name))):
            bad.append((name, 'docstring', 'yes', None))
    assert compared, 'nothing compared'
    return bad


@pytest.fixture
def loops():
    s = asyncio.new_event_loop()
    c = casyncio.new_event_loop()
    yield s, c
    for lp in (s, c):
        lp.close()


async def _coro():
    pass


def test_loop(loops):
    assert compare(*loops) == []


def test_loop_keeps_all_public_methods_of_stock(loops):
    s, c = loops
    assert [n for n in public_methods(type(s)) if not hasattr(c, n)] == []


def test_handles(loops):
    s, c = loops
    hs, hc = s.call_soon(print), c.call_soon(print)
    assert type(hc) is casyncio.Handle
    assert compare(hs, hc) == []
    ts, tc = s.call_later(1, print), c.call_later(1, print)
    assert type(tc) is casyncio.TimerHandle
    assert compare(ts, tc) == []
    for h in (hs, hc, ts, tc):
        h.cancel()


def test_future(loops):
    s, c = loops
    fc = c.create_future()
    assert type(fc) is casyncio.Future
    assert compare(s.create_future(), fc) == []


def test_task(loops):
    s, c = loops
    ts, tc = s.create_task(_coro()), c.create_task(_coro())
    assert type(tc) is casyncio.Task
    try:
        assert compare(ts, tc) == []
    finally:
        for lp, t in ((s, ts), (c, tc)):
            lp.run_until_complete(t)


@pytest.mark.parametrize('stock, ours', [
    (selector_events._SelectorSocketTransport, _net._SocketTransport),
    (selector_events._SelectorDatagramTransport, _udp._DatagramTransport),
    (unix_events._UnixReadPipeTransport, _unix._UnixReadPipeTransport),
    (unix_events._UnixWritePipeTransport, _unix._UnixWritePipeTransport),
    (sslproto._SSLProtocolTransport, _tls._SSLProtocolTransport),
    (sslproto.SSLProtocol, _tls.SSLProtocol),
], ids=lambda c: c.__name__)
def test_transports(stock, ours):
    assert compare(stock, ours, unbound=True) == []


def test_transport_classes_are_the_loops(cloop):
    """The classes compared above are the ones casyncio's loop makes."""
    async def main():
        a, b = socket.socketpair()
        tr, _ = await cloop.create_connection(asyncio.Protocol, sock=a)
        dg, _ = await cloop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=('127.0.0.1', 0))
        r, w = os.pipe()
        rp, _ = await cloop.connect_read_pipe(asyncio.Protocol,
                                              open(r, 'rb', 0))
        wp, _ = await cloop.connect_write_pipe(asyncio.Protocol,
                                               open(w, 'wb', 0))
        srv = await cloop.create_server(asyncio.Protocol, '127.0.0.1', 0)
        sub, _ = await cloop.subprocess_exec(
            asyncio.SubprocessProtocol, sys.executable, '-c', 'pass')
        try:
            assert type(tr) is _net._SocketTransport
            assert type(dg) is _udp._DatagramTransport
            assert type(rp) is _unix._UnixReadPipeTransport
            assert type(wp) is _unix._UnixWritePipeTransport
            # asyncio's own classes: their signatures are stock's
            assert type(srv) is asyncio.base_events.Server
            assert type(sub) is unix_events._UnixSubprocessTransport
            await sub._wait()
        finally:
            for t in (tr, dg, rp, wp, srv, sub):
                t.close()
            b.close()
            await srv.wait_closed()
            await asyncio.sleep(0)
    cloop.run_until_complete(main())


def test_class_signatures():
    """Handle, TimerHandle, Future and Task take stock's arguments."""
    for name in ('Handle', 'TimerHandle', 'Future', 'Task'):
        s = inspect.signature(getattr(asyncio, name))
        o = inspect.signature(getattr(casyncio, name))
        if name == 'Task' and sys.version_info < (3, 12):
            # casyncio.eager backports eager_start to 3.11
            o = o.replace(parameters=[p for p in o.parameters.values()
                                      if p.name != 'eager_start'])
        assert params(s) == params(o), name


def test_every_c_callable_has_a_signature():
    objs = [v for v in vars(_core).values() if callable(v)]
    lp = casyncio.new_event_loop()
    try:
        fut = lp.create_future()
        objs.append(type(iter(fut)))
        objs.append(type(fut.__await__()))
    finally:
        lp.close()
    missing = []
    for obj in objs:
        if isinstance(obj, type):
            for name, m in vars(obj).items():
                if (callable(m) and not name.startswith('__')
                        and signature_or_none(m) is None):
                    missing.append(f'{obj.__name__}.{name}')
            assert '\n--\n' not in (obj.__doc__ or ''), obj
        elif signature_or_none(obj) is None:
            missing.append(obj.__name__)
    assert missing == []


def test_help_shows_signature_and_doc(loop):
    text = pydoc.render_doc(loop.call_soon, renderer=pydoc.plaintext)
    assert 'call_soon(callback, *args, context=None)' in text
    assert 'Arrange for a callback to be called as soon as possible.' in text


def test_autospec_checks_calls(loop):
    with mock.patch.object(loop, 'call_later', autospec=True) as m:
        loop.call_later(1, print, 'x', context=None)
        loop.call_later(delay=1, callback=print)
        with pytest.raises(TypeError):
            loop.call_later()
        with pytest.raises(TypeError):
            loop.call_later(1)
        with pytest.raises(TypeError):
            loop.call_later(1, print, ctx=None)
        assert m.call_count == 2


def test_autospec_of_c_methods_is_unchecked_on_stock_too(loop):
    """Why the loop's C methods bind as Python methods: mock's autospec
    takes a builtin's signature from its __call__, (*args, **kwargs), and
    checks nothing, as here for stock asyncio's own C Future."""
    fut = asyncio.Future(loop=loop)
    with mock.patch.object(fut, 'set_result', autospec=True) as m:
        fut.set_result(1, 2, 3, x=4)
        assert m.call_count == 1


LOOP_METHODS = ['time', 'call_soon', 'call_soon_threadsafe', 'call_later',
                'call_at', 'stop', 'is_closed', 'get_debug', 'create_future',
                'create_task', 'set_task_factory', 'get_task_factory']


@pytest.mark.parametrize('name', LOOP_METHODS)
def test_loop_methods_bind_as_python_methods(loop, name):
    bound = getattr(loop, name)
    assert inspect.ismethod(bound)
    assert not inspect.isbuiltin(bound)
    assert bound.__self__ is loop
    assert bound.__name__ == name
    assert bound == getattr(loop, name)
    assert repr(bound).startswith(f'<bound method ')
    assert f'.{name} of <' in repr(bound)
    stock = getattr(asyncio.SelectorEventLoop, name)
    assert inspect.signature(bound) == inspect.signature(stock.__get__(loop))


def test_loop_methods_called_through_the_class(loop):
    seen = []
    handle = type(loop).call_soon(loop, seen.append, 1)
    assert isinstance(handle, asyncio.Handle) or 'Handle' in repr(handle)
    type(loop).call_later(loop, 0, seen.append, 2)
    type(loop).call_at(loop, type(loop).time(loop), seen.append, 3)
    loop.call_later(0.001, type(loop).stop, loop)
    loop.run_forever()
    assert seen == [1, 2, 3]
    # Another object as self: stock fails on its first attribute (an
    # AttributeError), ours on the C method's type check (a TypeError).
    with pytest.raises((TypeError, AttributeError)):
        type(loop).call_soon(object(), print)
    with pytest.raises(TypeError):
        type(loop).call_soon()


def test_pymethod_rejects_what_it_cannot_wrap():
    from casyncio import _core
    for bad in (1, print, len, 'call_soon', casyncio.Loop.is_running):
        with pytest.raises(TypeError):
            _core._PyMethod(bad)
    with pytest.raises(TypeError):
        _core._PyMethod(_core.Loop.__dict__['time'], x=1)
    with pytest.raises(TypeError):
        _core._PyMethod()
    m = _core._PyMethod(_core.Loop.__dict__['time'])
    assert m.__get__(None, casyncio.Loop) is m
    assert m.__doc__ == _core.Loop.__dict__['time'].__doc__
    assert m.__name__ == 'time'
    assert repr(m) == repr(_core.Loop.__dict__['time'])
    with pytest.raises(AttributeError):
        m.no_such_attribute


def test_pymethod_remembers_only_accepted_types():
    # _PyMethod calls the C function directly for the last type of self
    # the descriptor accepted; anything else still goes through its check.
    from casyncio import _core
    m = _core.Handle.__dict__['cancel']
    assert type(m) is _core._PyMethod
    loop = casyncio.new_event_loop()
    try:
        handles = [loop.call_later(10, print) for _ in range(3)]
        for h in handles:
            m(h)                    # accepted: remembered
            assert h.cancelled()
        for bad in (object(), loop, 1):
            with pytest.raises(TypeError):
                m(bad)
        with pytest.raises(TypeError):
            m(handles[0], 1)        # cancel() takes no argument
        with pytest.raises(TypeError):
            m()

        class Sub(casyncio.Loop):
            pass

        sub = Sub()
        try:
            out = []
            for lp in (loop, sub, loop, sub):
                type(lp).call_soon(lp, out.append, type(lp).__name__)
                lp.call_soon(lp.stop)
                lp.run_forever()
            # a class changed after it was remembered: checked again
            Sub.extra = 1
            type(sub).call_soon(sub, out.append, 'changed')
            sub.call_soon(sub.stop)
            sub.run_forever()
            with pytest.raises(TypeError):
                Sub.call_soon(object(), print)
            assert out == ['Loop', 'Sub', 'Loop', 'Sub', 'changed']
        finally:
            sub.close()
    finally:
        loop.close()


def test_patched_time_method_still_drives_timers(cloop):
    # The C clock check recognises the bound form of our own time().
    assert cloop.time.__func__ is type(cloop).__dict__['time']


# ---- the arguments the signatures name are taken by keyword, as stock ----

def test_call_methods_by_keyword(loop):
    seen = []
    var = contextvars.ContextVar('var')
    ctx = contextvars.copy_context()
    ctx.run(var.set, 'ctx')

    def cb(tag='kw'):
        seen.append((tag, var.get('-')))

    loop.call_soon(callback=cb)
    loop.call_soon_threadsafe(callback=cb, context=ctx)
    loop.call_later(delay=0, callback=cb)
    loop.call_later(0, callback=cb, context=ctx)
    loop.call_at(when=loop.time(), callback=cb)
    loop.call_at(loop.time(), cb, 'pos', context=ctx)
    loop.run_until_complete(asyncio.sleep(0.01))
    assert seen == [('kw', '-'), ('kw', 'ctx'), ('kw', '-'), ('kw', 'ctx'),
                    ('kw', '-'), ('pos', 'ctx')]
    for call in (lambda: loop.call_soon(cb, callback=cb),
                 lambda: loop.call_soon(cb, 1, callback=cb),
                 lambda: loop.call_soon(delay=1, callback=cb),
                 lambda: loop.call_later(1, delay=1, callback=cb),
                 lambda: loop.call_later(callback=cb),
                 lambda: loop.call_at(when=1),
                 lambda: loop.call_soon_threadsafe(callback=cb, x=1)):
        with pytest.raises(TypeError):
            call()


def test_loop_setters_by_keyword(loop):
    loop.set_debug(enabled=True)
    assert loop.get_debug()
    loop.set_debug(enabled=False)

    def factory(lp, coro, **kwargs):
        return asyncio.Task(coro, loop=lp, **kwargs)
    loop.set_task_factory(factory=factory)
    assert loop.get_task_factory() is factory
    loop.set_task_factory(factory=None)
    with pytest.raises(TypeError):
        loop.set_debug(debug=True)
    with pytest.raises(TypeError):
        loop.set_task_factory(None, factory=None)


def test_create_task_coro_by_keyword(loop):
    async def main():
        return 1
    t = loop.create_task(coro=main(), name='n')
    assert t.get_name() == 'n'
    assert loop.run_until_complete(t) == 1

    def factory(lp, coro, **kwargs):
        return asyncio.Task(coro, loop=lp, **kwargs)
    loop.set_task_factory(factory)
    t = loop.create_task(coro=main())
    assert loop.run_until_complete(t) == 1


def test_transport_methods_by_keyword(loop):
    class Proto(asyncio.Protocol):
        def __init__(self):
            self.data = b''

        def data_received(self, data):
            self.data += data

    async def main():
        a, b = socket.socketpair()
        tr, pr = await loop.create_connection(Proto, sock=a)
        tr2, pr2 = await loop.create_connection(Proto, sock=b)
        try:
            tr.write(data=b'abc')
            assert tr.get_extra_info(name='socket') is not None
            assert tr.get_extra_info('nothing', default=5) == 5
            assert tr.get_extra_info(name='nothing', default=6) == 6
            p = Proto()
            tr2.set_protocol(protocol=p)
            assert tr2.get_protocol() is p
            for call in (lambda: tr.write(b'x', data=b'x'),
                         lambda: tr.write(date=b'x'),
                         lambda: tr.write(),
                         lambda: tr.get_extra_info(),
                         lambda: tr.get_extra_info('a', 1, 2),
                         lambda: tr.get_extra_info('a', name='a'),
                         lambda: tr.set_protocol(proto=p)):
                with pytest.raises(TypeError):
                    call()
            for _ in range(100):
                if p.data == b'abc':
                    break
                await asyncio.sleep(0.01)
            assert p.data == b'abc'

            r, w = os.pipe()
            wp, _ = await loop.connect_write_pipe(asyncio.Protocol,
                                                  open(w, 'wb', 0))
            try:
                wp.write(data=b'pipe')
                await asyncio.sleep(0.01)
                assert os.read(r, 10) == b'pipe'
            finally:
                wp.close()
                os.close(r)
        finally:
            tr.close()
            tr2.close()
            await asyncio.sleep(0.01)
    loop.run_until_complete(main())


@pytest.mark.parametrize('impl', ['asyncio', 'casyncio'])
def test_tls_methods_by_keyword(impl):
    """_SSLProtocolTransport.write(data=) and SSLProtocol.get_buffer(n=) /
    buffer_updated(nbytes=), on a protocol that has no connection yet."""
    lp = (asyncio if impl == 'asyncio' else casyncio).new_event_loop()
    cls = sslproto.SSLProtocol if impl == 'asyncio' else _tls.SSLProtocol
    try:
        proto = cls(lp, asyncio.Protocol(), ssl.create_default_context(),
                    None, server_hostname='localhost')
        buf = proto.get_buffer(n=100)
        assert len(buf) >= 100
        proto.buffer_updated(nbytes=0)
        app = proto._get_app_transport()
        assert app.write(data=b'') is None
        with pytest.raises(TypeError):
            app.write(datum=b'')
        with pytest.raises(TypeError):
            proto.get_buffer(size=1)
        app._closed = True      # never connected: nothing to close
    finally:
        lp.close()


def test_transport_and_handle_methods_bind_as_python_methods(loop):
    a, b = socket.socketpair()
    transport, _ = loop.run_until_complete(
        loop.connect_accepted_socket(asyncio.Protocol, a))
    try:
        for name in ('write', 'writelines', 'close', 'abort', 'is_closing',
                     'get_extra_info', 'pause_reading', 'resume_reading',
                     'get_write_buffer_size', 'set_protocol'):
            bound = getattr(transport, name)
            assert inspect.ismethod(bound), name
            assert bound.__self__ is transport
        with mock.patch.object(transport, 'write', autospec=True) as m:
            transport.write(b'x')
            transport.write(data=b'y')
            with pytest.raises(TypeError):
                transport.write()
            with pytest.raises(TypeError):
                transport.write(b'x', b'y')
            assert m.call_count == 2
        handle = loop.call_later(10, print)
        for name in ('cancel', 'cancelled', 'when'):
            assert inspect.ismethod(getattr(handle, name)), name
        # (Handles have __slots__: mock cannot patch an instance's method.)
        with pytest.raises(TypeError):
            handle.cancel(1)
        handle.cancel()
        assert handle.cancelled()
    finally:
        transport.close()
        b.close()
        loop.run_until_complete(asyncio.sleep(0))


def test_patched_base_get_extra_info_is_seen_by_transports(loop):
    """asyncio's socket, datagram and pipe transports inherit
    BaseTransport.get_extra_info, so a mock.patch of
    asyncio.Transport.get_extra_info answers for them (websockets' own
    tests patch it so); ours inherit the same one.  (README: Differences
    from asyncio, on the transports' shared base.)"""
    async def main():
        a, b = socket.socketpair()
        tcp, _ = await loop.create_connection(asyncio.Protocol, sock=a)
        udp, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=('127.0.0.1', 0))
        r, w = os.pipe()
        rp, _ = await loop.connect_read_pipe(asyncio.Protocol,
                                             open(r, 'rb', 0))
        wp, _ = await loop.connect_write_pipe(asyncio.Protocol,
                                              open(w, 'wb', 0))
        transports = [tcp, udp, rp, wp]
        try:
            # (asyncio's read pipe is no asyncio.Transport: left out here)
            with mock.patch('asyncio.Transport.get_extra_info') as m:
                m.return_value = ('patched', 1)
                got = [t.get_extra_info('peername') for t in (tcp, udp, wp)]
            assert got == [('patched', 1)] * 3
            assert m.call_count == 3
            with mock.patch.object(asyncio.BaseTransport, 'get_extra_info',
                                   lambda self, name, default=None: name):
                assert [t.get_extra_info('x') for t in transports] \
                    == ['x'] * 4
            assert tcp.get_extra_info('peername') == ''
            assert tcp.get_extra_info('nothing', 7) == 7
        finally:
            for t in transports:
                t.close()
            b.close()
            await asyncio.sleep(0)
    loop.run_until_complete(main())
