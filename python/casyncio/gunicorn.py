"""gunicorn worker classes that run uvicorn on casyncio's loop.

    gunicorn -k casyncio.gunicorn.UvicornWorker -w 2 app:app

They are uvicorn's own worker classes (from the ``uvicorn-worker`` package
when it is installed, else the deprecated ``uvicorn.workers``) with the loop
set to ``casyncio:new_event_loop``, which uvicorn 0.36 and later accept as a
loop factory; everything else (http implementation, signals, gunicorn's
settings) is theirs.
"""
try:
    from uvicorn_worker import UvicornWorker as _UvicornWorker
except ImportError:     # uvicorn's own copy, deprecated since uvicorn 0.30
    from uvicorn.workers import UvicornWorker as _UvicornWorker

__all__ = ('UvicornWorker', 'UvicornH11Worker')

LOOP = 'casyncio:new_event_loop'


class UvicornWorker(_UvicornWorker):
    """uvicorn's worker (http "auto": httptools if installed, else h11) on
    a casyncio loop."""
    CONFIG_KWARGS = {**_UvicornWorker.CONFIG_KWARGS, 'loop': LOOP}


class UvicornH11Worker(UvicornWorker):
    """The same with the pure-Python h11 HTTP implementation."""
    CONFIG_KWARGS = {**UvicornWorker.CONFIG_KWARGS, 'http': 'h11'}
