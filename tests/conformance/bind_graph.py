"""CPython's call-graph introspection tests (test_graph, 3.14+) on
casyncio's loop, so that the tasks and futures they inspect are our C Task
and Future, as CPython's TestCallStackC runs them on _asyncio's."""
import unittest

from test.test_asyncio import test_graph

import casyncio


class CXCallStackTests(test_graph.CallStackTestBase,
                       unittest.IsolatedAsyncioTestCase):
    loop_factory = staticmethod(casyncio.new_event_loop)
