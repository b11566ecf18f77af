"""CPython's server contextvars tests (test_server_context, 3.15+: a
server's protocol callbacks run in the context of the server's creation)
on casyncio's loop, plain and TLS, as CPython binds them to its own loop."""
from test.test_asyncio import test_server_context as tsc

import casyncio


class CXServerContextTests(tsc.AsyncioEventLoopTests):
    loop_factory = staticmethod(casyncio.new_event_loop)


class CXServerContextSSLTests(tsc.AsyncioEventLoopSSLTests):
    loop_factory = staticmethod(casyncio.new_event_loop)
