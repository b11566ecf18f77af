"""Datagram networking for casyncio.Loop: the cold paths in Python.

The transport (sendto, reading, flow control, closing) is C:
_core.DatagramTransport.  Here is what runs once per endpoint:
create_datagram_endpoint -- asyncio's own code, which only needs the loop's
public and private methods (_ensure_resolved, sock_connect, create_future,
_make_datagram_transport), so its checks, options and messages (the
reuse_address error of 3.11 included) are asyncio's by construction -- and
the transport's repr and __del__.
"""
import sys

from asyncio import base_events, selector_events

from . import _core
from ._net import _TransportCommon, _transport_extra

__all__ = ('UDPMixin',)

# get_write_buffer_size() of a datagram transport counts, per queued
# datagram, 8 "header bytes" beyond its len() from 3.13 on; 3.13.0 takes only
# len() off again once it is sent, later versions (whose transport has
# _header_size) the 8 too.
_HEADER_IN = 8 if sys.version_info >= (3, 13) else 0
_HEADER_OUT = (_HEADER_IN if hasattr(
    selector_events._SelectorDatagramTransport, '_header_size') else 0)


class _DatagramTransport(_TransportCommon, _core.DatagramTransport):
    """A datagram transport: asyncio's _SelectorDatagramTransport, its hot
    paths in C."""

    max_size = 256 * 1024   # Buffer size passed to recvfrom().


class UDPMixin:
    """create_datagram_endpoint for casyncio.Loop."""

    def _make_datagram_transport(self, sock, protocol,
                                 address=None, waiter=None, extra=None):
        extra = _transport_extra(sock, extra)
        transport = _DatagramTransport(self, sock, protocol, address, extra)
        if _HEADER_IN:
            transport._set_header_sizes(_HEADER_IN, _HEADER_OUT)
        self._transports[sock.fileno()] = transport
        transport._start(waiter)
        return transport

    create_datagram_endpoint = \
        base_events.BaseEventLoop.create_datagram_endpoint
