"""The real uvicorn and gunicorn serving an ASGI app on each loop: started
as users start them (the command line), asked over real HTTP, stopped with
the signals users send.  Each answer names the loop that served it, so a
server that fell back to another loop fails the test."""
import concurrent.futures
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import PACKAGE_PARENT

pytest.importorskip('uvicorn', reason='uvicorn is in the test extra')
pytest.importorskip('starlette', reason='starlette is in the test extra')

HERE = os.path.dirname(os.path.abspath(__file__))
APP_DIR = os.path.join(HERE, 'web')

# --loop for each implementation: uvicorn >= 0.36 takes "module:callable"
# as a loop factory.
UVICORN_LOOP = {'asyncio': 'asyncio', 'casyncio': 'casyncio:new_event_loop'}
GUNICORN_WORKER = {'asyncio': 'web_workers.AsyncioWorker',
                   'casyncio': 'casyncio.gunicorn.UvicornWorker'}
LOOP_MODULE = {'asyncio': 'asyncio.', 'casyncio': 'casyncio.'}


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def env():
    e = dict(os.environ)
    e['PYTHONPATH'] = os.pathsep.join(
        [PACKAGE_PARENT, APP_DIR] + [p for p in
                                     [os.environ.get('PYTHONPATH')] if p])
    e.pop('PYTHONASYNCIODEBUG', None)
    return e


def request(port, method, path, body=None, timeout=10):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


class Server:
    """A server process: started, waited for, stopped by a signal."""

    def __init__(self, argv):
        self.port = free_port()
        argv = [a.replace('{port}', str(self.port)) for a in argv]
        self.proc = subprocess.Popen(
            argv, cwd=APP_DIR, env=env(), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True)
        self.wait_ready()

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                pytest.fail(f'server exited {self.proc.returncode}:\n'
                            f'{err.decode(errors="replace")}')
            try:
                status, _ = request(self.port, 'GET', '/loop', timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        self.kill()
        pytest.fail('server did not answer in time')

    def get_json(self, path):
        status, body = request(self.port, 'GET', path)
        assert status == 200, body
        return json.loads(body)

    def stop(self, sig, timeout=30):
        self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f'server did not stop on {sig!r}')
        return self.proc.returncode, err.decode(errors='replace')

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.communicate()


@pytest.fixture
def servers():
    started = []

    def start(argv):
        s = Server(argv)
        started.append(s)
        return s
    yield start
    for s in started:
        s.kill()


def assert_clean_exit(rc, err):
    assert rc == 0, err
    assert 'Traceback' not in err, err


@pytest.mark.parametrize('impl', sorted(UVICORN_LOOP))
@pytest.mark.parametrize('app', ['asgi_app:app', 'asgi_app:raw_app'])
def test_uvicorn_cli(servers, impl, app):
    srv = servers([sys.executable, '-m', 'uvicorn', '--port', '{port}',
                   '--loop', UVICORN_LOOP[impl], app])
    where = srv.get_json('/loop')
    assert where['loop'].startswith(LOOP_MODULE[impl]), where
    assert where['pid'] == srv.proc.pid
    if app == 'asgi_app:app':
        status, body = request(srv.port, 'POST', '/echo', body=b'x' * 70000
                               + b'abc')
        assert (status, body) == (200, b'cba' + b'x' * 70000)
        status, body = request(srv.port, 'GET', '/stream?n=500')
        assert status == 200
        assert body == b''.join(f'{i}\n'.encode() for i in range(500))
        # Many keep-alive requests on one connection.
        conn = http.client.HTTPConnection('127.0.0.1', srv.port, timeout=10)
        for i in range(200):
            conn.request('POST', '/echo', body=str(i).encode())
            r = conn.getresponse()
            assert r.read() == str(i).encode()[::-1]
        conn.close()
    rc, err = srv.stop(signal.SIGINT)
    assert_clean_exit(rc, err)
    assert 'Finished server process' in err, err


def _pids_seen_while_blocked(port, n=4):
    """/block holds the loop of the worker that takes it: n concurrent
    requests can only all finish quickly if several workers share the
    listening socket."""
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        futs = [pool.submit(request, port, 'GET', '/block?s=0.5')]
        # The first holds its worker's loop before the others connect (a
        # worker accepts every pending connection at once when it wakes).
        time.sleep(0.15)
        futs += [pool.submit(request, port, 'GET', '/block?s=0.5')
                 for _ in range(n - 1)]
        answers = [json.loads(f.result()[1]) for f in futs]
    return answers


@pytest.mark.parametrize('impl', sorted(UVICORN_LOOP))
def test_uvicorn_workers(servers, impl):
    srv = servers([sys.executable, '-m', 'uvicorn', '--port', '{port}',
                   '--workers', '2', '--loop', UVICORN_LOOP[impl],
                   'asgi_app:app'])
    pids = set()
    for attempt in range(10):
        for where in _pids_seen_while_blocked(srv.port):
            assert where['loop'].startswith(LOOP_MODULE[impl]), where
            assert where['pid'] != srv.proc.pid, 'served by the supervisor'
            pids.add(where['pid'])
        if len(pids) == 2:
            break
    assert len(pids) == 2, pids
    rc, err = srv.stop(signal.SIGTERM)
    assert_clean_exit(rc, err)
    assert err.count('Finished server process') == 2, err


@pytest.mark.parametrize('impl', sorted(GUNICORN_WORKER))
def test_gunicorn_uvicorn_worker(servers, impl):
    pytest.importorskip('gunicorn', reason='gunicorn is in the test extra')
    srv = servers([sys.executable, '-m', 'gunicorn', '-b', '127.0.0.1:{port}',
                   '-w', '2', '-k', GUNICORN_WORKER[impl],
                   '--graceful-timeout', '10', 'asgi_app:app'])
    pids = set()
    for attempt in range(10):
        for where in _pids_seen_while_blocked(srv.port):
            assert where['loop'].startswith(LOOP_MODULE[impl]), where
            pids.add(where['pid'])
        if len(pids) == 2:
            break
    assert len(pids) == 2, pids
    status, body = request(srv.port, 'POST', '/echo', body=b'hello')
    assert (status, body) == (200, b'olleh')
    rc, err = srv.stop(signal.SIGTERM)
    assert_clean_exit(rc, err)
    assert 'Shutting down: Master' in err, err


def test_uvicorn_under_launcher(servers):
    """``python -m casyncio -m uvicorn --loop none``: uvicorn leaves the
    loop to asyncio.run(), which the launcher has switched to casyncio
    (the way for a uvicorn older than 0.36, which takes no loop factory)."""
    srv = servers([sys.executable, '-m', 'casyncio', '-m', 'uvicorn',
                   '--port', '{port}', '--loop', 'none', 'asgi_app:app'])
    where = srv.get_json('/loop')
    assert where['loop'].startswith('casyncio.'), where
    rc, err = srv.stop(signal.SIGINT)
    assert_clean_exit(rc, err)
