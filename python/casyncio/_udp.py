"""Datagram networking for casyncio.Loop: the cold paths in Python.

The transport (sendto, reading, flow control, closing) is C:
_core.DatagramTransport.  Here is what runs once per endpoint:
create_datagram_endpoint -- asyncio's own code, which only needs the loop's
public and private methods (_ensure_resolved, sock_connect, create_future,
_make_datagram_transport), so its checks, options and messages (the
reuse_address error of 3.11 included) are asyncio's by construction -- and
the transport's repr and __del__.
"""
from asyncio import base_events

from . import _core
from ._net import _TransportCommon, _transport_extra

__all__ = ('UDPMixin',)


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
        self._transports[sock.fileno()] = transport
        transport._start(waiter)
        return transport

    create_datagram_endpoint = \
        base_events.BaseEventLoop.create_datagram_endpoint
