"""Subprocesses: loop.subprocess_exec / subprocess_shell and the
asyncio.create_subprocess_* API on top; the protocol calls and their order,
communicate() with large data both ways, signals, many children, and the
reaping of children by the loop itself (pidfd, or the SIGCHLD fallback):
no zombie, no fd left open, no child watcher.

Tests taking `loop` run on stock asyncio and on casyncio; `cloop` ones are
casyncio's own (its reaping machinery)."""
import asyncio
import os
import signal
import sys
import threading

import pytest

import casyncio
from casyncio import _unix

PY = sys.executable


def _fds():
    return set(os.listdir('/proc/self/fd'))


def _zombie_children():
    """Pids of this process's children that are zombies (a /proc scan)."""
    me = os.getpid()
    out = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open(f'/proc/{name}/stat') as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(')', 1)[1].split()
        if fields[0] == 'Z' and int(fields[1]) == me:
            out.append(int(name))
    return out


def _assert_reaped(pid):
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    assert pid not in _zombie_children()


class Proto(asyncio.SubprocessProtocol):
    def __init__(self, loop):
        self.events = []
        self.data = {1: bytearray(), 2: bytearray()}
        self.transport = None
        self.done = loop.create_future()

    def connection_made(self, transport):
        self.transport = transport
        self.events.append('made')

    def pipe_data_received(self, fd, data):
        self.data[fd] += data

    def pipe_connection_lost(self, fd, exc):
        self.events.append(('pipe_lost', fd, exc))

    def process_exited(self):
        self.events.append('exited')

    def connection_lost(self, exc):
        self.events.append('lost')
        self.done.set_result(exc)


@pytest.fixture(params=['pidfd', 'sigchld'])
def reaper(request, monkeypatch):
    """casyncio's two ways of reaping: pidfd, and the SIGCHLD fallback."""
    if request.param == 'sigchld':
        monkeypatch.setattr(_unix, '_USE_PIDFD', False)
    return request.param


def test_protocol_calls_in_asyncio_order(loop):
    async def main():
        t, p = await loop.subprocess_exec(
            lambda: Proto(loop), PY, '-c',
            'import sys; sys.stdout.write(sys.stdin.read().upper()); '
            'sys.stderr.write("e"); sys.exit(3)')
        assert p.events == ['made']
        pid = t.get_pid()
        assert t.get_extra_info('subprocess').pid == pid
        t.get_pipe_transport(0).write(b'abc')
        t.get_pipe_transport(0).close()
        assert await p.done is None
        assert bytes(p.data[1]) == b'ABC' and bytes(p.data[2]) == b'e'
        assert p.events[0] == 'made' and p.events[-1] == 'lost'
        assert 'exited' in p.events
        lost = sorted(e[1] for e in p.events if e[0] == 'pipe_lost')
        assert lost == [0, 1, 2]
        assert t.get_returncode() == 3
        t.close()
        _assert_reaped(pid)
    loop.run_until_complete(main())


def test_create_subprocess_exec_communicate_large_both_ways(loop):
    async def main():
        payload = os.urandom(4 * 1024 * 1024)
        proc = await asyncio.create_subprocess_exec(
            PY, '-c',
            'import sys; d = sys.stdin.buffer.read(); '
            'sys.stdout.buffer.write(d); sys.stderr.buffer.write(d[:1000])',
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate(payload)
        assert out == payload and err == payload[:1000]
        assert proc.returncode == 0
        _assert_reaped(proc.pid)
    loop.run_until_complete(main())


def test_create_subprocess_shell(loop):
    async def main():
        proc = await asyncio.create_subprocess_shell(
            'echo "$((6 * 7))"; exit 5', stdout=asyncio.subprocess.PIPE)
        out, _ = await proc.communicate()
        assert out == b'42\n' and proc.returncode == 5
        assert await proc.wait() == 5
    loop.run_until_complete(main())


def test_killed_by_signal_returncode(loop):
    async def main():
        proc = await asyncio.create_subprocess_exec(
            PY, '-c', 'import time; time.sleep(60)')
        proc.kill()
        assert await proc.wait() == -signal.SIGKILL
        proc = await asyncio.create_subprocess_exec(
            PY, '-c', 'import time; time.sleep(60)')
        proc.terminate()
        assert await proc.wait() == -signal.SIGTERM
        proc = await asyncio.create_subprocess_shell('kill -USR1 $$')
        assert await proc.wait() == -signal.SIGUSR1
        _assert_reaped(proc.pid)
    loop.run_until_complete(main())


def test_send_signal_handled_by_child(loop):
    async def main():
        code = ('import signal, sys, time\n'
                'signal.signal(signal.SIGUSR1, lambda *a: sys.exit(7))\n'
                'print("ready", flush=True)\n'
                'time.sleep(60)\n')
        proc = await asyncio.create_subprocess_exec(
            PY, '-c', code, stdout=asyncio.subprocess.PIPE)
        assert await proc.stdout.readline() == b'ready\n'
        proc.send_signal(signal.SIGUSR1)
        assert await proc.wait() == 7
    loop.run_until_complete(main())


def test_child_closes_stdin_early(loop):
    async def main():
        proc = await asyncio.create_subprocess_exec(
            PY, '-c', 'import os; os.close(0)',
            stdin=asyncio.subprocess.PIPE)
        await proc.wait()
        # Writing to a pipe whose reader is gone: communicate() ignores
        # BrokenPipeError / ConnectionResetError, as asyncio.
        out, err = await proc.communicate(b'x' * (1 << 20))
        assert (out, err) == (None, None) and proc.returncode == 0
    loop.run_until_complete(main())


def test_many_concurrent_children(loop):
    async def one(i):
        proc = await asyncio.create_subprocess_exec(
            PY, '-c', f'import sys; print({i}); sys.exit({i % 7})',
            stdout=asyncio.subprocess.PIPE)
        out, _ = await proc.communicate()
        return proc.pid, int(out), proc.returncode

    async def main():
        before = _fds()
        results = await asyncio.gather(*[one(i) for i in range(30)])
        for i, (pid, out, rc) in enumerate(results):
            assert out == i and rc == i % 7
            _assert_reaped(pid)
        # a pipe transport's socket closes in connection_lost, which
        # asyncio schedules: on a loaded machine communicate() can return
        # a turn before the last of them runs
        for _ in range(100):
            if _fds() == before:
                break
            await asyncio.sleep(0.01)
        assert _fds() == before
    loop.run_until_complete(main())


def test_no_fd_leak_no_zombie(cloop, reaper):
    async def main():
        for _ in range(3):
            proc = await asyncio.create_subprocess_exec(
                PY, '-c', 'print("hi")', stdout=asyncio.subprocess.PIPE)
            assert await proc.communicate() == (b'hi\n', None)
        return proc.pid

    before = _fds()
    pid = cloop.run_until_complete(main())
    _assert_reaped(pid)
    assert _zombie_children() == []
    cloop.close()
    assert _fds() <= before


def test_reapers_report_same_codes(cloop, reaper):
    async def main():
        codes = []
        for arg in ('sys.exit(0)', 'sys.exit(9)',
                    'os.kill(os.getpid(), signal.SIGKILL)'):
            proc = await asyncio.create_subprocess_exec(
                PY, '-c', f'import os, signal, sys; {arg}')
            codes.append(await proc.wait())
        return codes

    assert cloop.run_until_complete(main()) == [0, 9, -signal.SIGKILL]
    if reaper == 'sigchld':
        # The handler goes once no child needs it.
        assert signal.SIGCHLD not in cloop._signal_handlers
    assert cloop._children == {}


def test_no_child_watcher_used(cloop, monkeypatch):
    def refuse(*args):
        raise AssertionError('the child watcher was asked for')

    # (3.14 has no child watchers left to ask for)
    monkeypatch.setattr(asyncio, 'get_child_watcher', refuse, raising=False)
    monkeypatch.setattr(asyncio.events, 'get_child_watcher', refuse,
                        raising=False)
    if sys.version_info < (3, 14):      # 3.14 deprecates the policies
        policy = asyncio.get_event_loop_policy()
        monkeypatch.setattr(policy, 'get_child_watcher', refuse,
                            raising=False)

    async def main():
        proc = await asyncio.create_subprocess_exec(PY, '-c', 'pass')
        return await proc.wait()

    assert cloop.run_until_complete(main()) == 0


def test_loop_in_non_main_thread(cloop):
    result = []

    def run():
        async def main():
            proc = await asyncio.create_subprocess_exec(
                PY, '-c', 'print(1 + 1)', stdout=asyncio.subprocess.PIPE)
            out, _ = await proc.communicate()
            return out, proc.returncode, proc.pid
        result.append(cloop.run_until_complete(main()))

    th = threading.Thread(target=run)
    th.start()
    th.join()
    out, rc, pid = result[0]
    assert (out, rc) == (b'2\n', 0)
    _assert_reaped(pid)


def test_loop_closed_with_running_child(cloop):
    async def main():
        t, p = await cloop.subprocess_exec(
            lambda: Proto(cloop), PY, '-c', 'import time; time.sleep(60)')
        return t

    t = cloop.run_until_complete(main())
    pid = t.get_pid()
    pidfd = cloop._children[pid].pidfd
    assert 'pidfd' in os.readlink(f'/proc/self/fd/{pidfd}')
    cloop.close()
    # The pidfd is closed with the loop; the running child is waited for
    # in a thread (as asyncio's ThreadedChildWatcher), so no zombie stays.
    assert cloop._children == {}
    with pytest.raises(OSError):
        os.fstat(pidfd)
    waiter, = [th for th in threading.enumerate()
               if th.name == f'waitpid-{pid}']
    os.kill(pid, signal.SIGKILL)
    waiter.join(30)
    assert not waiter.is_alive()
    _assert_reaped(pid)
    # The transport was not closed: it warns when collected, and closing
    # its pipes on the closed loop fails, as asyncio's; 3.14 leaves the pipes
    # alone once the loop is closed (gh-114177).
    if sys.version_info >= (3, 14):
        with pytest.warns(ResourceWarning, match='unclosed transport'):
            t.__del__()
    else:
        with pytest.warns(ResourceWarning, match='unclosed transport'), \
                pytest.raises(RuntimeError, match='Event loop is closed'):
            t.__del__()
    for pipe in t._pipes.values():
        pipe.pipe._pipe.close()
        pipe.pipe._pipe = None


def test_exec_error_propagates(loop):
    async def main():
        with pytest.raises(FileNotFoundError):
            await asyncio.create_subprocess_exec('/nonexistent/program')
    loop.run_until_complete(main())
