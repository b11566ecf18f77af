"""Libraries users run on asyncio, on each loop in the same process:
websockets (server and client), httpx.AsyncClient against an aiohttp
server, aiofiles and grpc.aio.  Each test body runs on stock asyncio and on
casyncio (the `loop` fixture) and asserts what stock asyncio gives."""
import asyncio
import os

import pytest


def run(loop, coro, timeout=60):
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(asyncio.wait_for(coro, timeout))
    finally:
        asyncio.set_event_loop(None)


def running_loop_is(loop):
    assert asyncio.get_running_loop() is loop


# --- websockets -----------------------------------------------------------

MB8 = 8 * 1024 * 1024

def test_websockets_echo(loop):
    pytest.importorskip('websockets', reason='websockets is in the test '
                        'extra')
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve

    async def echo(ws):
        async for msg in ws:
            await ws.send(msg)

    async def main():
        running_loop_is(loop)
        async with serve(echo, '127.0.0.1', 0, max_size=MB8) as server:
            port = server.sockets[0].getsockname()[1]
            async with connect(f'ws://127.0.0.1:{port}',
                               max_size=MB8) as ws:
                # One at a time, then many in flight.
                for i in range(200):
                    await ws.send(f'm{i}')
                    assert await ws.recv() == f'm{i}'
                for i in range(2000):
                    await ws.send(f'n{i}')
                got = [await ws.recv() for _ in range(2000)]
                assert got == [f'n{i}' for i in range(2000)]
                # Binary, large (fragmented by the transport), empty.
                big = os.urandom(3 * 1024 * 1024)
                await ws.send(big)
                assert await ws.recv() == big
                await ws.send(b'')
                assert await ws.recv() == b''
                latency = await ws.ping()
                assert await latency >= 0
            assert ws.close_code == 1000
    run(loop, main())


def test_websockets_close_codes(loop):
    pytest.importorskip('websockets', reason='websockets is in the test '
                        'extra')
    from websockets.asyncio.client import connect
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosedError
    from websockets.exceptions import ConnectionClosedOK

    async def handler(ws):
        msg = await ws.recv()
        if msg == 'bye':
            await ws.close(1000, 'done')
        elif msg == 'policy':
            await ws.close(4001, 'not allowed')
        elif msg == 'crash':
            raise RuntimeError('handler failed')   # server closes with 1011

    async def main():
        results = {}
        async with serve(handler, '127.0.0.1', 0) as server:
            port = server.sockets[0].getsockname()[1]
            for what in ('bye', 'policy', 'crash'):
                async with connect(f'ws://127.0.0.1:{port}') as ws:
                    await ws.send(what)
                    try:
                        await ws.recv()
                    except (ConnectionClosedOK, ConnectionClosedError) as e:
                        results[what] = (type(e).__name__, e.rcvd.code,
                                         e.rcvd.reason)
            # The client closes: the server's handler sees it.
            closed = loop.create_future()

            async def waits(ws):
                try:
                    await ws.recv()
                except ConnectionClosedOK as e:
                    closed.set_result((e.rcvd.code, e.rcvd.reason))
            server2 = await serve(waits, '127.0.0.1', 0)
            port2 = server2.sockets[0].getsockname()[1]
            async with connect(f'ws://127.0.0.1:{port2}') as ws:
                await ws.close(1001, 'going away')
            results['client'] = await closed
            server2.close()
            await server2.wait_closed()
        return results
    import logging
    logging.getLogger('websockets.server').disabled = True
    try:
        results = run(loop, main())
    finally:
        logging.getLogger('websockets.server').disabled = False
    assert results == {
        'bye': ('ConnectionClosedOK', 1000, 'done'),
        'policy': ('ConnectionClosedError', 4001, 'not allowed'),
        'crash': ('ConnectionClosedError', 1011, ''),
        'client': (1001, 'going away'),
    }


# --- httpx against aiohttp ------------------------------------------------

def test_httpx_against_aiohttp(loop):
    httpx = pytest.importorskip('httpx', reason='httpx is in the test extra')
    web = pytest.importorskip('aiohttp.web', reason='aiohttp is in the test '
                              'extra')

    async def hello(request):
        return web.json_response(
            {'loop': type(asyncio.get_running_loop()).__module__,
             'q': request.query.get('q')})

    async def upload(request):
        data = await request.read()
        return web.Response(body=data[::-1])

    async def chunks(request):
        resp = web.StreamResponse()
        await resp.prepare(request)
        for i in range(100):
            await resp.write(b'%d,' % i)
        await resp.write_eof()
        return resp

    async def slow(request):
        await asyncio.sleep(1)
        return web.Response(text='late')

    async def main():
        app = web.Application()
        app.add_routes([web.get('/hello', hello), web.post('/up', upload),
                        web.get('/chunks', chunks), web.get('/slow', slow)])
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, '127.0.0.1', 0)
        await site.start()
        port = runner.addresses[0][1]
        base = f'http://127.0.0.1:{port}'
        try:
            async with httpx.AsyncClient(base_url=base) as client:
                r = await client.get('/hello', params={'q': 'x'})
                assert r.status_code == 200
                assert r.json() == {'loop': type(loop).__module__, 'q': 'x'}
                body = os.urandom(1 << 20)
                r = await client.post('/up', content=body)
                assert r.content == body[::-1]
                async with client.stream('GET', '/chunks') as r:
                    got = b''.join([c async for c in r.aiter_bytes()])
                assert got == b''.join(b'%d,' % i for i in range(100))
                rs = await asyncio.gather(
                    *[client.get('/hello', params={'q': str(i)})
                      for i in range(50)])
                assert [r.json()['q'] for r in rs] == [str(i)
                                                       for i in range(50)]
                with pytest.raises(httpx.ReadTimeout):
                    await client.get('/slow', timeout=0.2)
                # Cancelled mid-request: the client stays usable.
                t = asyncio.ensure_future(client.get('/slow'))
                await asyncio.sleep(0.1)
                t.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await t
                r = await client.get('/hello')
                assert r.status_code == 200
        finally:
            await runner.cleanup()
    run(loop, main())


# --- aiofiles -------------------------------------------------------------

def test_aiofiles(loop, tmp_path):
    aiofiles = pytest.importorskip('aiofiles', reason='aiofiles is in the '
                                   'test extra')
    import aiofiles.os

    path = tmp_path / 'data.txt'
    lines = [f'line {i}\n' for i in range(1000)]

    async def main():
        async with aiofiles.open(path, 'w') as f:
            for line in lines:
                await f.write(line)
        assert (await aiofiles.os.stat(path)).st_size == len(''.join(lines))
        async with aiofiles.open(path) as f:
            got = [line async for line in f]
        assert got == lines
        async with aiofiles.open(path, 'rb') as f:
            await f.seek(5)
            assert await f.read(2) == b'0\n'
        # Many files at once through the thread pool.
        async def roundtrip(i):
            p = tmp_path / f'f{i}'
            async with aiofiles.open(p, 'wb') as f:
                await f.write(bytes([i]) * 10000)
            async with aiofiles.open(p, 'rb') as f:
                return await f.read()
        got = await asyncio.gather(*[roundtrip(i) for i in range(50)])
        assert got == [bytes([i]) * 10000 for i in range(50)]
        await aiofiles.os.remove(path)
        assert not await aiofiles.os.path.exists(path)
    run(loop, main())
    loop.run_until_complete(loop.shutdown_default_executor())


# --- grpc.aio -------------------------------------------------------------

def test_grpc_aio(loop):
    grpc = pytest.importorskip('grpc', reason='grpcio is in the test extra')
    import grpc.aio

    async def echo(request, context):
        return request[::-1]

    async def count(request, context):
        for i in range(int(request)):
            yield b'%d' % i

    async def total(request_iterator, context):
        n = 0
        async for m in request_iterator:
            n += len(m)
        return b'%d' % n

    async def chat(request_iterator, context):
        async for m in request_iterator:
            yield m.upper()

    async def fail(request, context):
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, 'no')

    async def slow(request, context):
        await asyncio.sleep(5)
        return b'late'

    async def main():
        running_loop_is(loop)
        server = grpc.aio.server()
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            't.Svc', {
                'Echo': grpc.unary_unary_rpc_method_handler(echo),
                'Count': grpc.unary_stream_rpc_method_handler(count),
                'Total': grpc.stream_unary_rpc_method_handler(total),
                'Chat': grpc.stream_stream_rpc_method_handler(chat),
                'Fail': grpc.unary_unary_rpc_method_handler(fail),
                'Slow': grpc.unary_unary_rpc_method_handler(slow),
            }),))
        port = server.add_insecure_port('127.0.0.1:0')
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f'127.0.0.1:{port}') as ch:
                unary = ch.unary_unary('/t.Svc/Echo')
                assert await unary(b'hello') == b'olleh'
                got = await asyncio.gather(*[unary(b'%d' % i)
                                             for i in range(100)])
                assert got == [(b'%d' % i)[::-1] for i in range(100)]
                stream = ch.unary_stream('/t.Svc/Count')
                got = [m async for m in stream(b'300')]
                assert got == [b'%d' % i for i in range(300)]

                async def requests():
                    for i in range(100):
                        yield b'ab'
                assert await ch.stream_unary('/t.Svc/Total')(
                    requests()) == b'200'
                call = ch.stream_stream('/t.Svc/Chat')()
                for w in (b'a', b'b', b'c'):
                    await call.write(w)
                    assert await call.read() == w.upper()
                await call.done_writing()
                assert await call.read() is grpc.aio.EOF
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    await ch.unary_unary('/t.Svc/Fail')(b'')
                assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
                with pytest.raises(grpc.aio.AioRpcError) as e:
                    await ch.unary_unary('/t.Svc/Slow')(b'', timeout=0.2)
                assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
                # Cancelled from the asyncio side.
                call = ch.unary_unary('/t.Svc/Slow')(b'')
                t = asyncio.ensure_future(call)
                await asyncio.sleep(0.1)
                t.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await t
                assert await unary(b'ok') == b'ko'
        finally:
            await server.stop(None)
    run(loop, main())
