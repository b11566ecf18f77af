"""Stock-asyncio counterparts of casyncio.gunicorn's worker classes, for
the tests: uvicorn's worker would pick uvloop ("auto") when installed."""
try:
    from uvicorn_worker import UvicornWorker as _UvicornWorker
except ImportError:
    from uvicorn.workers import UvicornWorker as _UvicornWorker


class AsyncioWorker(_UvicornWorker):
    CONFIG_KWARGS = {**_UvicornWorker.CONFIG_KWARGS, 'loop': 'asyncio'}
