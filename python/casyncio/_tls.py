"""TLS for casyncio: asyncio's SSLProtocol with its data path in C.

SSLProtocol derives from _core.SSLProtocolBase (src/tls.c: feeding the
incoming BIO, the read loops, the app write path, flow control) and from
asyncio's own sslproto.SSLProtocol, whose Python keeps the rest: __init__,
the handshake, shutdown, timeouts, errors, extra info and the app-facing
_SSLProtocolTransport.  The C base comes first in the MRO, so its methods
replace asyncio's of the same names; the state both halves use lives in the
C object behind attributes of asyncio's names.  The app transport is
asyncio's _SSLProtocolTransport with write() in C.

USE_C = False makes new connections use asyncio's pure-Python SSLProtocol.
"""
import sys

from asyncio import constants, sslproto
from asyncio.log import logger

from . import _core

__all__ = ('SSLProtocol', 'new_ssl_protocol', 'USE_C')

USE_C = True


class _SSLProtocolTransport(_core.SSLAppTransportBase,
                            sslproto._SSLProtocolTransport):
    """asyncio's _SSLProtocolTransport, its write() in C."""


class SSLProtocol(_core.SSLProtocolBase, sslproto.SSLProtocol):
    """asyncio.sslproto.SSLProtocol, its hot paths in C."""

    def _get_app_transport(self):
        # asyncio's, making our _SSLProtocolTransport
        if self._app_transport is None:
            if self._app_transport_created:
                raise RuntimeError('Creating _SSLProtocolTransport twice')
            self._app_transport = _SSLProtocolTransport(self._loop, self)
            self._app_transport_created = True
        return self._app_transport

    def _write_closed(self):
        # _write_appdata() once the connection is closing or closed
        if self._conn_lost >= constants.LOG_THRESHOLD_FOR_CONNLOST_WRITES:
            logger.warning('SSL connection is closed')
        self._conn_lost += 1

    if sys.version_info >= (3, 13):
        def _schedule_read(self):
            # _do_read__buffered(): the app's buffer is full, read on later
            self._loop.call_soon(self._do_read)
    else:
        def _schedule_read(self):
            # _do_read__buffered(): the app's buffer is full, read on later
            self._loop.call_soon(lambda: self._do_read())


def new_ssl_protocol(*args, **kwargs):
    """An SSLProtocol: ours, or asyncio's when USE_C is false."""
    cls = SSLProtocol if USE_C else sslproto.SSLProtocol
    return cls(*args, **kwargs)
