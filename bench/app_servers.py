"""Application servers for bench/apps.py: the real uvicorn (starlette or a
raw ASGI app), aiohttp.web and the websockets library's server, on one
loop.

    python bench/app_servers.py IMPL KIND

IMPL: asyncio, uvloop or casyncio (the loop factory, as in run.py).
KIND: one of SERVERS below.  Listens on 127.0.0.1, a free port; prints
"PORT <n> <loop class> <file of IMPL's module>" (net_servers.py's main)
and serves until killed.
"""

import asyncio
import logging
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from net_servers import serve_from_argv  # noqa: E402


def starlette_app():
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def hello(request):
        return PlainTextResponse("Hello, World!")

    return Starlette(routes=[Route("/", hello)])


async def raw_app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"Hello, World!"})


def listening_socket():
    # proto=IPPROTO_TCP as uvicorn's own bind_socket(): asyncio sets
    # TCP_NODELAY only on sockets that say TCP (uvloop on all).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM,
                         socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock


async def serve_uvicorn(app):
    """uvicorn.Server on a socket of ours, as `uvicorn --loop FACTORY`
    runs it (http "auto": httptools), without the access log."""
    import uvicorn
    sock = listening_socket()
    config = uvicorn.Config(app, http="auto", lifespan="off",
                            access_log=False, log_level="warning")
    server = uvicorn.Server(config)
    # uvicorn's own signal handlers would stay out of the benchmark anyway.
    server.install_signal_handlers = lambda: None
    asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    return sock


async def serve_starlette(loop):
    return await serve_uvicorn(starlette_app())


async def serve_asgi(loop):
    return await serve_uvicorn(raw_app)


async def serve_websockets(loop):
    from websockets.asyncio.server import serve

    async def echo(ws):
        async for msg in ws:
            await ws.send(msg)

    return await serve(echo, "127.0.0.1", 0, compression=None)


async def serve_aiohttp(loop):
    """aiohttp.web's hello world, as its docs write it, without the
    access log."""
    from aiohttp import web

    async def hello(request):
        return web.Response(text="Hello, World!")

    app = web.Application()
    app.router.add_get("/", hello)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return site._server


SERVERS = {
    "starlette": serve_starlette,   # uvicorn + starlette, one route
    "asgi": serve_asgi,             # uvicorn + a raw ASGI callable
    "websockets": serve_websockets,  # websockets' echo server
    "aiohttp": serve_aiohttp,       # aiohttp.web hello world
}


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    serve_from_argv(SERVERS)
