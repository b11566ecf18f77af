"""CPython's test_events.EventLoopTestsMixin against casyncio's loop.

Only the tests that need no sockets, pipes, signals or subprocesses run
here; the others are excluded with the issue that brings them.
"""
from test.test_asyncio import test_events
from test.test_asyncio import utils as test_utils

import casyncio
from _exclusions import exclude, names_matching

Mixin = test_events.EventLoopTestsMixin

NETWORK = 'networking (sockets, transports, servers): issue #4'
PROCESS = 'pipes, PTYs, signals and subprocesses: issue #5'

EXCLUDED = {name: NETWORK for name in names_matching(
    Mixin, 'connection', 'server', 'datagram', 'accepted_socket', 'ssl')}
EXCLUDED.update({name: PROCESS for name in names_matching(
    Mixin, 'pipe', 'pty', 'signal')})
EXCLUDED.update({
    'test_prompt_cancellation': NETWORK + ' (awaits loop.sock_recv)',
    'test_internal_fds':
        'white-box: counts BaseSelectorEventLoop._internal_fds (the '
        'self-pipe); ours is an eventfd inside the C loop',
    'test_timeout_rounding':
        'white-box: patches BaseEventLoop._run_once to count iterations; '
        'our iterations run in C (timer rounding is tested in '
        'test_loop.py instead)',
})




class CasyncioEventLoopTests(Mixin, test_utils.TestCase):

    def create_event_loop(self):
        return casyncio.new_event_loop()


exclude(CasyncioEventLoopTests, EXCLUDED)
