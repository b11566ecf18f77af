"""The ASGI applications that tests/test_web.py serves with the real
uvicorn and gunicorn: each answer says which loop and process served it."""
import asyncio
import json
import os
import time

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.responses import StreamingResponse
from starlette.routing import Route, WebSocketRoute


def _where():
    loop = asyncio.get_running_loop()
    return {'loop': f'{type(loop).__module__}.{type(loop).__qualname__}',
            'task': type(asyncio.current_task()).__module__,
            'pid': os.getpid()}


async def loop_info(request):
    return JSONResponse(_where())


async def echo(request):
    body = await request.body()
    return PlainTextResponse(body[::-1])


async def block(request):
    # Holds this worker's loop: a concurrent request must go to another
    # worker process to be answered meanwhile.
    time.sleep(float(request.query_params.get('s', '0.3')))
    return JSONResponse(_where())


async def stream(request):
    n = int(request.query_params.get('n', '10'))

    async def chunks():
        for i in range(n):
            await asyncio.sleep(0)
            yield f'{i}\n'.encode()
    return StreamingResponse(chunks(), media_type='text/plain')


async def plaintext(request):
    return PlainTextResponse('Hello, world!')


async def ws_echo(websocket):
    await websocket.accept()
    try:
        while True:
            msg = await websocket.receive_text()
            await websocket.send_text(msg)
    except Exception:
        pass


app = Starlette(routes=[
    Route('/loop', loop_info),
    Route('/echo', echo, methods=['POST']),
    Route('/block', block),
    Route('/stream', stream),
    Route('/plaintext', plaintext),
    WebSocketRoute('/ws', ws_echo),
])


async def raw_app(scope, receive, send):
    """A plain ASGI application (no framework), lifespan included."""
    if scope['type'] == 'lifespan':
        while True:
            message = await receive()
            if message['type'] == 'lifespan.startup':
                await send({'type': 'lifespan.startup.complete'})
            elif message['type'] == 'lifespan.shutdown':
                await send({'type': 'lifespan.shutdown.complete'})
                return
    body = json.dumps(_where()).encode()
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [(b'content-type', b'application/json')]})
    await send({'type': 'http.response.body', 'body': body})
