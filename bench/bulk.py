#!/usr/bin/env python3
"""Bulk stream transfers: stock asyncio vs uvloop vs casyncio.

    PYTHONPATH=python python bench/bulk.py [--rounds N] [--modes plain,tls]
                                           [--impl ...] [--markdown] [--json F]

The workload (asyncio streams, loopback TCP, optionally TLS): the sending
side does `writer.write(b'x' * 10 MiB); await writer.drain()` CHUNKS
times, then closes; the receiving side loops `await reader.read(10 MiB)`
until EOF and checks the byte count.  Three rows per mode:

  1proc  sender and receiver on one loop in one process (pinned to CPU 0):
         the process's CPU per MiB, both directions together
  send   the sender alone in its process (CPU 1), the receiver in another
  recv   the receiver alone in its process (CPU 0), the sender in another

For each row and implementation a fresh process (two for send/recv, both
on the same implementation) runs a warm-up of a tenth of the size, then
the measured transfer; it reports getrusage's user and sys CPU time and
minor page faults over the transfer.  Rounds interleave the
implementations, the order rotated; the table shows medians over rounds
of CPU (user + sys) per MiB and minor page faults per MiB, and casyncio's
CPU over uvloop's.  The TLS certificate is made with `cryptography` (the
test extra), written once per run for all the children.
"""
import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
IMPLS = ['asyncio', 'uvloop', 'casyncio']
CHUNK = 10 * 1024 * 1024
CHUNKS = {'plain': 100, 'tls': 30}      # ~0.5 s of CPU each on stock asyncio
ROWS = ['1proc', 'send', 'recv']


def factory_of(impl):
    if impl == 'uvloop':
        import uvloop
        return uvloop.new_event_loop
    if impl == 'casyncio':
        import casyncio
        return casyncio.new_event_loop
    return asyncio.new_event_loop


def make_certs(d):
    """The test suite's CA and server certificate, written into d."""
    sys.path.insert(0, os.path.join(os.path.dirname(HERE), 'tests'))
    from test_tls import _make_certs
    return _make_certs(d)


def contexts(mode, certs):
    """(server, client) SSL contexts from make_certs' files; None in plain."""
    if mode == 'plain':
        return None, None
    import ssl
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(certs['cert'], certs['key'])
    return server, ssl.create_default_context(cafile=certs['ca'])


class Usage:
    """getrusage(RUSAGE_SELF) between start() and stop()."""

    def start(self):
        self.r0, self.t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()

    def stop(self, nbytes):
        r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        self.elapsed = t1 - self.t0
        mib = nbytes / 2**20
        return {'wall': (t1 - self.t0) / mib * 1e3,
                'user': (r1.ru_utime - self.r0.ru_utime) / mib * 1e3,
                'sys': (r1.ru_stime - self.r0.ru_stime) / mib * 1e3,
                'minflt': (r1.ru_minflt - self.r0.ru_minflt) / mib}


async def send_all(writer, chunks):
    payload = b'x' * CHUNK
    for _ in range(chunks):
        writer.write(payload)
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def recv_all(reader, chunks):
    total = 0
    while True:
        data = await reader.read(CHUNK)
        if not data:
            break
        total += len(data)
    if total != chunks * CHUNK:
        raise AssertionError(f'received {total} bytes, sent {chunks * CHUNK}')
    return total


async def one_process(chunks, sctx, cctx, usage):
    sent = asyncio.get_running_loop().create_future()

    async def handle(reader, writer):
        try:
            await send_all(writer, chunks)
        finally:
            sent.set_result(None)

    srv = await asyncio.start_server(handle, '127.0.0.1', 0, ssl=sctx)
    port = srv.sockets[0].getsockname()[1]
    kw = dict(ssl=cctx, server_hostname='localhost') if cctx else {}
    reader, writer = await asyncio.open_connection('127.0.0.1', port, **kw)
    usage.start()
    total = await recv_all(reader, chunks)
    res = usage.stop(total)
    await sent
    writer.close()
    srv.close()
    await srv.wait_closed()
    return res


async def receiver(chunks, sctx, usage, port_out):
    done = asyncio.get_running_loop().create_future()

    async def handle(reader, writer):
        usage.start()
        try:
            total = await recv_all(reader, chunks)
            done.set_result(usage.stop(total))
        except BaseException as e:
            done.set_exception(e)
        writer.close()

    srv = await asyncio.start_server(handle, '127.0.0.1', 0, ssl=sctx)
    print(srv.sockets[0].getsockname()[1], file=port_out, flush=True)
    try:
        return await done
    finally:
        srv.close()
        await srv.wait_closed()


async def sender(chunks, port, cctx, usage):
    kw = dict(ssl=cctx, server_hostname='localhost') if cctx else {}
    reader, writer = await asyncio.open_connection('127.0.0.1', port, **kw)
    usage.start()
    await send_all(writer, chunks)
    return usage.stop(chunks * CHUNK)


def child(impl, row, mode, chunks, cpu, port):
    os.sched_setaffinity(0, {cpu})
    factory = factory_of(impl)
    sctx, cctx = contexts(mode, json.loads(os.environ.get('BULK_CERTS', '{}')))
    best = None
    for n in (max(1, chunks // 10), chunks):
        usage = Usage()
        with asyncio.Runner(loop_factory=factory) as r:
            if row == '1proc':
                res = r.run(one_process(n, sctx, cctx, usage))
            elif row == 'recv':
                res = r.run(receiver(n, sctx, usage, sys.stdout))
            else:
                res = r.run(sender(n, port, cctx, usage))
        best = res
        if row == 'send' and n != chunks:
            port = int(sys.stdin.readline())    # the receiver's next server
    print(json.dumps(best), flush=True)


def spawn(args, impl, row, mode, cpu, port=0):
    cmd = [sys.executable, __file__, '--child', impl, row, mode,
           str(args.chunks or CHUNKS[mode]), str(cpu), str(port)]
    env = dict(os.environ, BULK_CERTS=json.dumps(args.certs))
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env)


def measure(args, impl, row, mode):
    """One measurement: {'send': usage, 'recv': usage} or {'1proc': usage}."""
    if row == '1proc':
        p = spawn(args, impl, row, mode, 0)
        out, _ = p.communicate(timeout=300)
        if p.returncode:
            raise RuntimeError(f'{impl} {mode} 1proc exited {p.returncode}')
        return {'1proc': json.loads(out.splitlines()[-1])}
    recv = spawn(args, impl, 'recv', mode, 0)
    port = int(recv.stdout.readline())
    send = spawn(args, impl, 'send', mode, 1, port)
    port = int(recv.stdout.readline())           # after the warm-up
    send.stdin.write(f'{port}\n')
    send.stdin.flush()
    sout, _ = send.communicate(timeout=300)
    rout, _ = recv.communicate(timeout=300)
    if send.returncode or recv.returncode:
        raise RuntimeError(f'{impl} {mode}: sender exited {send.returncode}, '
                           f'receiver {recv.returncode}')
    return {'send': json.loads(sout.splitlines()[-1]),
            'recv': json.loads(rout.splitlines()[-1])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--rounds', type=int, default=3)
    ap.add_argument('--modes', default='plain,tls')
    ap.add_argument('--impl', default=','.join(IMPLS))
    ap.add_argument('--chunks', type=int, default=0,
                    help='10 MiB writes per transfer (default: 100 plain, 30 TLS)')
    ap.add_argument('--no-split', action='store_true',
                    help='only the one-process row')
    ap.add_argument('--markdown', action='store_true')
    ap.add_argument('--json')
    ap.add_argument('--child', nargs=6, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        impl, row, mode, chunks, cpu, port = a.child
        return child(impl, row, mode, int(chunks), int(cpu), int(port))
    impls = a.impl.split(',')
    modes = a.modes.split(',')
    certdir = tempfile.TemporaryDirectory()
    a.certs = make_certs(certdir.name) if 'tls' in modes else {}
    samples = {}
    for rnd in range(a.rounds):
        order = impls[rnd % len(impls):] + impls[:rnd % len(impls)]
        for mode in modes:
            for kind in (['1proc'] if a.no_split else ['1proc', 'split']):
                for impl in order:
                    print(f'round {rnd + 1} {mode} {kind} {impl}', file=sys.stderr)
                    res = measure(a, impl, kind, mode)
                    for row, u in res.items():
                        samples.setdefault((mode, row, impl), []).append(u)
    print(f'Python {sys.version.split()[0]}, {a.rounds} rounds, medians; '
          'CPU = user + sys ms per MiB, faults = minor page faults per MiB\n')
    head = ['row'] + [f'{i} CPU' for i in impls] + [f'{i} faults' for i in impls]
    if 'casyncio' in impls and 'uvloop' in impls:
        head.append('casyncio / uvloop CPU')
    if 'casyncio' in impls and 'asyncio' in impls:
        head.append('casyncio / asyncio CPU')
    lines = [head]
    table = []
    for mode in modes:
        for row in ROWS:
            if (mode, row, impls[0]) not in samples:
                continue
            cpu = {i: statistics.median(u['user'] + u['sys']
                                        for u in samples[mode, row, i])
                   for i in impls}
            flt = {i: statistics.median(u['minflt']
                                        for u in samples[mode, row, i])
                   for i in impls}
            cells = [f'{mode} {row}'] + [f'{cpu[i]:.3f}' for i in impls] \
                + [f'{flt[i]:.1f}' for i in impls]
            if 'casyncio' in impls and 'uvloop' in impls:
                cells.append(f'{cpu["casyncio"] / cpu["uvloop"]:.2f}x')
            if 'casyncio' in impls and 'asyncio' in impls:
                cells.append(f'{cpu["casyncio"] / cpu["asyncio"]:.2f}x')
            lines.append(cells)
            table.append({'mode': mode, 'row': row, 'cpu': cpu, 'faults': flt})
    if a.markdown:
        print('| ' + ' | '.join(lines[0]) + ' |')
        print('|---' + '|---:' * (len(lines[0]) - 1) + '|')
        for cells in lines[1:]:
            print('| ' + ' | '.join(cells) + ' |')
    else:
        widths = [max(len(r[k]) for r in lines) for k in range(len(head))]
        for cells in lines:
            print('  '.join(c.rjust(w) for c, w in zip(cells, widths)))
    if a.json:
        with open(a.json, 'w') as f:
            json.dump({'python': sys.version, 'table': table,
                       'samples': [{'mode': m, 'row': r, 'impl': i, 'usage': u}
                                   for (m, r, i), u in samples.items()]},
                      f, indent=1)


if __name__ == '__main__':
    main()
