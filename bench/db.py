#!/usr/bin/env python3
"""Database and broker clients: stock asyncio vs uvloop vs casyncio.

    . "$(.ci/services start)"       # PostgreSQL and Redis on loopback
    python bench/db.py [--rounds 5] [--seconds 2] [--only 'pg_*'] [--markdown]

asyncpg against PostgreSQL and redis-py's asyncio client against Redis
(CASYNCIO_TEST_PG_DSN, CASYNCIO_TEST_REDIS_URL, as the tests read them).
Each measurement is a fresh process running one workload on one loop for
a fixed time after a warm-up; it reports operations/s and the client
process's CPU time per operation (user+sys: what the event loop and the
client library cost; the server's share is the same for every loop).
Rounds interleave the implementations, the order rotated between rounds;
the table shows medians and the casyncio ratios.  The servers share the
machine with the client, so ops/s also depend on the server's CPU; the
CPU per operation is the steadier number.

Workloads (one op each):
  pg_select1        conn.fetchval('SELECT 1'), one connection, in sequence
  pg_fetchrow       conn.fetchrow('SELECT $1::int, $2::text', ...) likewise
  pg_pool10         pool.fetchrow(...) from 10 tasks on a pool of 10
  redis_get_set     one SET or GET, one connection, in sequence
  redis_pipeline    one command of a 100-command pipeline (50 SET, 50 GET)
  redis_conc10      one GET from 10 tasks on a 10-connection pool
"""

import argparse
import datetime
import fnmatch
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import (IMPLS, Unavailable, child_env, cpu_model,  # noqa: E402
                 fmt_rate, load_impl, summarize)

TAG = 'DB_RESULT '


# ---- workloads: async def w(stop) -> ops, run until stop() is true ----

async def pg_select1(stop):
    import asyncpg
    conn = await asyncpg.connect(os.environ['CASYNCIO_TEST_PG_DSN'])
    n = 0
    while not stop():
        for _ in range(100):
            await conn.fetchval('SELECT 1')
        n += 100
    await conn.close()
    return n


async def pg_fetchrow(stop):
    import asyncpg
    conn = await asyncpg.connect(os.environ['CASYNCIO_TEST_PG_DSN'])
    n = 0
    while not stop():
        for i in range(100):
            await conn.fetchrow('SELECT $1::int AS a, $2::text AS b', i, 'x')
        n += 100
    await conn.close()
    return n


async def pg_pool10(stop):
    import asyncio
    import asyncpg
    pool = await asyncpg.create_pool(os.environ['CASYNCIO_TEST_PG_DSN'],
                                     min_size=10, max_size=10)

    async def worker():
        n = 0
        while not stop():
            for i in range(20):
                await pool.fetchrow('SELECT $1::int AS a, $2::text AS b',
                                    i, 'x')
            n += 20
        return n

    n = sum(await asyncio.gather(*(worker() for _ in range(10))))
    await pool.close()
    return n


def redis_client(**kw):
    import redis.asyncio as aioredis
    return aioredis.Redis.from_url(os.environ['CASYNCIO_TEST_REDIS_URL'],
                                   **kw)


async def redis_get_set(stop):
    r = redis_client()
    key = f'casyncio:bench:{os.getpid()}'
    n = 0
    while not stop():
        for i in range(50):
            await r.set(key, i)
            await r.get(key)
        n += 100
    await r.delete(key)
    await r.aclose()
    return n


async def redis_pipeline(stop):
    r = redis_client()
    key = f'casyncio:bench:{os.getpid()}:'
    n = 0
    while not stop():
        pipe = r.pipeline(transaction=False)
        for i in range(50):
            pipe.set(key + str(i), i)
        for i in range(50):
            pipe.get(key + str(i))
        await pipe.execute()
        n += 100
    await r.delete(*(key + str(i) for i in range(50)))
    await r.aclose()
    return n


async def redis_conc10(stop):
    import asyncio
    r = redis_client(max_connections=10)
    key = f'casyncio:bench:{os.getpid()}'
    await r.set(key, 'x' * 100)

    async def worker():
        n = 0
        while not stop():
            for _ in range(20):
                await r.get(key)
            n += 20
        return n

    n = sum(await asyncio.gather(*(worker() for _ in range(10))))
    await r.delete(key)
    await r.aclose()
    return n


WORKLOADS = {f.__name__: f for f in (pg_select1, pg_fetchrow, pg_pool10,
                                     redis_get_set, redis_pipeline,
                                     redis_conc10)}


def child(impl, name, seconds, warmup):
    try:
        _, new_loop, _ = load_impl(impl)
    except Unavailable as e:
        print(TAG + json.dumps({'skip': str(e)}))
        return
    work = WORKLOADS[name]
    loop = new_loop()
    try:
        end = time.monotonic() + warmup
        loop.run_until_complete(work(lambda: time.monotonic() > end))
        end = time.monotonic() + seconds
        c0, t0 = time.process_time(), time.perf_counter()
        ops = loop.run_until_complete(work(lambda: time.monotonic() > end))
        c1, t1 = time.process_time(), time.perf_counter()
    finally:
        loop.close()
    print(TAG + json.dumps({'rate': ops / (t1 - t0),
                            'cpu_us': (c1 - c0) / ops * 1e6}))


def measure(args, impl, name):
    cmd = [sys.executable, os.path.abspath(__file__), '--child', impl, name,
           '--seconds', str(args.seconds)]
    p = subprocess.run(cmd, env=child_env(args), capture_output=True,
                       text=True, timeout=args.seconds * 10 + 60)
    for line in p.stdout.splitlines():
        if line.startswith(TAG):
            return json.loads(line[len(TAG):])
    tail = (p.stderr.strip().splitlines() or ['(no stderr)'])[-1]
    return {'error': f'exit code {p.returncode}: {tail}'}


def main():
    ap = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--rounds', type=int, default=5)
    ap.add_argument('--seconds', type=float, default=2.0)
    ap.add_argument('--only', default='*', help='workload names, fnmatch '
                    'patterns separated by commas')
    ap.add_argument('--impl', default=','.join(IMPLS))
    ap.add_argument('--casyncio-path', default=None)
    ap.add_argument('--markdown', action='store_true')
    ap.add_argument('--child', nargs=2, metavar=('IMPL', 'WORKLOAD'),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(*args.child, args.seconds, min(1.0, args.seconds / 2))
    for var in ('CASYNCIO_TEST_PG_DSN', 'CASYNCIO_TEST_REDIS_URL'):
        if not os.environ.get(var):
            sys.exit(f'{var} is not set: run . "$(.ci/services start)"')
    pats = args.only.split(',')
    names = [n for n in WORKLOADS if any(fnmatch.fnmatch(n, p) for p in pats)]
    impls = args.impl.split(',')
    results = {(n, i): [] for n in names for i in impls}
    skipped = {}
    load = os.getloadavg()
    for rnd in range(args.rounds):
        order = impls[rnd % len(impls):] + impls[:rnd % len(impls)]
        for n in names:
            for i in order:
                if i in skipped:
                    continue
                r = measure(args, i, n)
                if 'skip' in r:
                    skipped[i] = r['skip']
                elif 'error' in r:
                    sys.exit(f'{n} on {i}: {r["error"]}')
                else:
                    results[(n, i)].append(r)
        print(f'round {rnd + 1}/{args.rounds} done', file=sys.stderr)
    for i, why in skipped.items():
        print(f'{i}: skipped: {why}', file=sys.stderr)
    impls = [i for i in impls if i not in skipped]

    def med(n, i, k):
        return statistics.median(r[k] for r in results[(n, i)])

    head = (['workload'] + [f'{i} ops/s' for i in impls]
            + [f'{i} CPU µs/op' for i in impls])
    has = {'asyncio', 'casyncio'} <= set(impls)
    if has:
        head += ['casyncio/asyncio ops/s', 'CPU/op casyncio/asyncio']
    if {'uvloop', 'casyncio'} <= set(impls):
        head += ['casyncio/uvloop ops/s']
    rows = []
    for n in names:
        row = [n]
        for i in impls:
            m, spread = summarize([r['rate'] for r in results[(n, i)]])
            row.append(f'{fmt_rate(m)} ±{spread * 100:.0f}%')
        row += [f'{med(n, i, "cpu_us"):.1f}' for i in impls]
        if has:
            row.append(f'{med(n, "casyncio", "rate") / med(n, "asyncio", "rate"):.2f}x')
            row.append(f'{med(n, "casyncio", "cpu_us") / med(n, "asyncio", "cpu_us"):.2f}x')
        if 'casyncio/uvloop ops/s' in head:
            row.append(f'{med(n, "casyncio", "rate") / med(n, "uvloop", "rate"):.2f}x')
        rows.append(row)
    import asyncpg
    import redis
    print(f'# {datetime.date.today()}  Python {platform.python_version()}  '
          f'{cpu_model()}  asyncpg {asyncpg.__version__}  '
          f'redis-py {redis.__version__}  load before: '
          f'{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}  '
          f'rounds {args.rounds} x {args.seconds:g}s')
    if args.markdown:
        print('| ' + ' | '.join(head) + ' |')
        print('|' + '---|' * len(head))
        for row in rows:
            print('| ' + ' | '.join(row) + ' |')
    else:
        widths = [max(len(r[k]) for r in rows + [head])
                  for k in range(len(head))]
        for row in [head] + rows:
            print('  '.join(c.rjust(w) for c, w in zip(row, widths)))


if __name__ == '__main__':
    main()
