"""The groups of the running CPython's test_asyncio that run against
casyncio (each group's tests come from that version's test_asyncio).

Each group names the test classes or modules to run on casyncio and their
counterpart on stock asyncio (for the count shown next to ours), plus
  excluded  white-box tests of the stock loop, skipped on both sides, each
            with its reason: keep this list short and exact;
  xfail     tests that do not pass on casyncio yet, each with its reason and
            the issue that will make them pass: pattern -> (issue, reason),
            or (issue, reason, versions) for some CPython versions only
            (versions: a set of (major, minor)).  Strict: one that passes
            fails the run, and a pattern that matches no test fails it too.
  since     the first CPython version that has the group's tests.
Patterns are fnmatch patterns over the test's method name.
"""
import fnmatch
import sys

CPY = 'test.test_asyncio.'


class Group:
    def __init__(self, name, ours, stock, *, install_policy=False,
                 excluded=None, xfail=None, note='', since=(3, 11)):
        self.name = name
        self.since = since
        self.ours = ours
        self.stock = stock
        self.install_policy = install_policy
        self.excluded = excluded or {}
        running = sys.version_info[:2]
        self.xfail = {pattern: value
                      for pattern, value in (xfail or {}).items()
                      if len(value) < 3 or running in value[2]}
        self.note = note

    def targets(self, impl):
        return self.ours if impl == 'casyncio' else self.stock

    @staticmethod
    def _match(table, test_id):
        method = test_id.rsplit('.', 1)[-1]
        for pattern, value in table.items():
            if fnmatch.fnmatchcase(method, pattern):
                return pattern, value
        return None, None

    def excluded_reason(self, test_id):
        return self._match(self.excluded, test_id)[1]

    def xfail_pattern(self, test_id):
        return self._match(self.xfail, test_id)


def _module_group(short, **kw):
    """A whole test module, run on casyncio loops through the policy."""
    return Group(short, [CPY + 'test_' + short], [CPY + 'test_' + short],
                 install_policy=True, **kw)


TYPES_STOCK = [CPY + 'test_futures:' + c for c in (
    'CFutureTests', 'CSubFutureTests', 'CFutureDoneCallbackTests',
    'CSubFutureDoneCallbackTests', 'CFutureInheritanceTests')] + [
    CPY + 'test_tasks:' + c for c in (
        'CTask_CFuture_Tests', 'CTask_CFuture_SubclassTests',
        'CTask_PyFuture_Tests', 'PyTask_CFuture_Tests',
        'CCurrentLoopTests')]

GROUPS = {g.name: g for g in [
    Group('types', ['conformance.bind_types'], TYPES_STOCK,
          note='our Future and Task on CPython\'s test loops'),
    Group('events', ['conformance.bind_events'],
          [CPY + 'test_events:EPollEventLoopTests'],
          excluded={
              'test_internal_fds':
                  'white-box: counts BaseSelectorEventLoop._internal_fds '
                  '(its self-pipe); our wake-up is an eventfd in C',
              'test_timeout_rounding':
                  'white-box: patches BaseEventLoop._run_once to count '
                  'iterations; ours run in C (timer rounding: '
                  'tests/test_loop.py)',
          }),
    Group('gather', ['conformance.bind_gather'],
          [CPY + 'test_tasks:FutureGatherTests',
           CPY + 'test_tasks:CoroutineGatherTests'],
          note='casyncio.gather on CPython\'s test loop'),
    _module_group('locks'),
    _module_group('queues'),
    _module_group('taskgroups'),
    _module_group('timeouts'),
    _module_group('waitfor'),
    _module_group('runners',
                  note='most tests build stock loops through their own '
                       'policy'),
    _module_group('pep492', note='its tests build stock loops themselves'),
    _module_group('context'),
    _module_group('threads'),
    _module_group('futures2'),
    Group('sock_lowlevel', ['conformance.bind_sock'],
          [CPY + 'test_sock_lowlevel:EPollEventLoopTests']),
    Group('server', ['conformance.bind_tcp:CasyncioStartServerTests'],
          [CPY + 'test_server:SelectorStartServerTests']),
    Group('bufproto', ['conformance.bind_tcp:CasyncioBufferedProtocolTests'],
          [CPY + 'test_buffered_proto:BufferedProtocolSelectorTests']),
    Group('sslproto', ['conformance.bind_ssl:CasyncioStartTLSTests',
                       'conformance.bind_ssl:CasyncioSslProtoHandshakeTests'],
          [CPY + 'test_sslproto:SelectorStartTLSTests',
           CPY + 'test_sslproto:SslProtoHandshakeTests']),
    _module_group('ssl'),
    Group('sendfile', ['conformance.bind_sendfile'],
          [CPY + 'test_sendfile:EPollEventLoopTests']),
    _module_group('streams'),
    Group('subprocess', ['conformance.bind_subprocess'],
          [CPY + 'test_subprocess:SubprocessThreadedWatcherTests'],
          note='no child watcher: the loop reaps its children (pidfd); '
               'stock: its default child process handling'),
    Group('eager', ['conformance.bind_eager'],
          [CPY + 'test_eager_task_factory:' + c for c in (
              'CEagerTaskFactoryLoopTests', 'NonEagerCTaskTests',
              'EagerCTaskTests')],
          install_policy=True, since=(3, 12),
          note='our C Task with the eager task factory'),
    Group('graph', ['conformance.bind_graph'],
          [CPY + 'test_graph:TestCallStackC'], since=(3, 14),
          xfail={
              'test_stack_future': (
                  'README, differences',
                  'an asyncio.Future() (_asyncio\'s) awaited by our Task: '
                  '_asyncio records awaiters on its futures only when they '
                  'are its own Task type, and its futures have no '
                  'attribute for anyone else to record them in'),
          },
          note='call-graph introspection of our Task and Future'),
    _module_group('staggered', since=(3, 13)),
    Group('server_context', ['conformance.bind_server_context'],
          [CPY + 'test_server_context:AsyncioEventLoopTests',
           CPY + 'test_server_context:AsyncioEventLoopSSLTests'],
          since=(3, 15),
          note='protocol callbacks in the server\'s context'),
] if sys.version_info[:2] >= g.since}
