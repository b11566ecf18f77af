"""asyncpg against a real PostgreSQL server (.ci/services), on stock
asyncio and on casyncio (the `loop` fixture): queries, prepared
statements, a pool, transactions, COPY, a query cancelled mid-way (the
server really stops it and the connection stays usable), a backend killed
by the server and a server restart that the pool survives with nothing
committed lost."""
import asyncio
import io
import os
import time

import pytest

from services import address, client_module, retry


@pytest.fixture
def pg():
    asyncpg = client_module('asyncpg')
    return asyncpg, address('CASYNCIO_TEST_PG_DSN')


def table_name(loop, what):
    """A table of this process and loop: runs at the same time do not meet."""
    kind = 'c' if type(loop).__module__.startswith('casyncio') else 'a'
    return f'casyncio_{what}_{os.getpid()}_{kind}'


def test_connect_and_queries(loop, pg):
    asyncpg, dsn = pg

    async def main():
        conn = await asyncpg.connect(dsn)
        try:
            assert await conn.fetchval('SELECT 1') == 1
            row = await conn.fetchrow(
                'SELECT $1::int + 1 AS n, $2::text AS s', 41, 'héllo ✓')
            assert (row['n'], row['s']) == (42, 'héllo ✓')
            # A result of many messages, bigger than any read buffer.
            rows = await conn.fetch(
                'SELECT g, md5(g::text) FROM generate_series(1, 20000) g')
            assert len(rows) == 20000 and rows[-1][0] == 20000
            # A big value both ways: many writes, many reads.
            blob = os.urandom(3 * 1024 * 1024)
            assert await conn.fetchval('SELECT $1::bytea', blob) == blob
            status = await conn.execute(
                'CREATE TEMP TABLE t (a int, b text)')
            assert status == 'CREATE TABLE'
            await conn.executemany('INSERT INTO t VALUES ($1, $2)',
                                   [(i, str(i)) for i in range(500)])
            assert await conn.fetchval('SELECT sum(a) FROM t') == 124750
            with pytest.raises(asyncpg.UndefinedTableError):
                await conn.fetch('SELECT * FROM no_such_table')
            with pytest.raises(asyncpg.DivisionByZeroError):
                await conn.fetchval('SELECT 1 / 0')
            assert await conn.fetchval('SELECT 2') == 2
        finally:
            await conn.close()
        assert conn.is_closed()

    loop.run_until_complete(main())


def test_prepared_statement_and_cursor(loop, pg):
    asyncpg, dsn = pg

    async def main():
        conn = await asyncpg.connect(dsn)
        try:
            stmt = await conn.prepare('SELECT $1::int * 2')
            assert [await stmt.fetchval(i) for i in range(100)] == \
                [i * 2 for i in range(100)]
            assert [a.name for a in stmt.get_attributes()] == ['?column?']
            async with conn.transaction():
                got = [r[0] async for r in conn.cursor(
                    'SELECT g FROM generate_series(1, 1000) g', prefetch=64)]
            assert got == list(range(1, 1001))
        finally:
            await conn.close()

    loop.run_until_complete(main())


def test_pool_concurrent_queries(loop, pg):
    asyncpg, dsn = pg

    async def main():
        pool = await asyncpg.create_pool(dsn, min_size=2, max_size=5)
        try:
            async def one(i):
                async with pool.acquire() as conn:
                    await asyncio.sleep(0)
                    return await conn.fetchval(
                        'SELECT $1::int FROM pg_sleep(0.01)', i)

            got = await asyncio.gather(*(one(i) for i in range(60)))
            assert got == list(range(60))
            assert pool.get_size() == 5
            pids = await asyncio.gather(*(
                pool.fetchval('SELECT pg_backend_pid() FROM pg_sleep(0.05)')
                for _ in range(5)))
            assert len(set(pids)) == 5
        finally:
            await asyncio.wait_for(pool.close(), 10)

    loop.run_until_complete(main())


def test_transaction(loop, pg):
    asyncpg, dsn = pg

    async def main():
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute('CREATE TEMP TABLE t (a int PRIMARY KEY)')
            async with conn.transaction():
                await conn.execute('INSERT INTO t VALUES (1)')
            with pytest.raises(ZeroDivisionError):
                async with conn.transaction():
                    await conn.execute('INSERT INTO t VALUES (2)')
                    1 / 0
            async with conn.transaction():
                await conn.execute('INSERT INTO t VALUES (3)')
                with pytest.raises(asyncpg.UniqueViolationError):
                    async with conn.transaction():      # a savepoint
                        await conn.execute('INSERT INTO t VALUES (4)')
                        await conn.execute('INSERT INTO t VALUES (1)')
                await conn.execute('INSERT INTO t VALUES (5)')
            assert [r[0] for r in await conn.fetch(
                'SELECT a FROM t ORDER BY a')] == [1, 3, 5]
            assert not conn.is_in_transaction()
        finally:
            await conn.close()

    loop.run_until_complete(main())


def test_copy(loop, pg):
    asyncpg, dsn = pg

    async def main():
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute('CREATE TEMP TABLE t (a int, b text)')
            records = [(i, f'row {i}') for i in range(20000)]
            status = await conn.copy_records_to_table('t', records=records)
            assert status == 'COPY 20000'
            out = io.BytesIO()
            await conn.copy_from_query('SELECT * FROM t ORDER BY a',
                                       output=out, format='csv')
            lines = out.getvalue().decode().splitlines()
            assert len(lines) == 20000 and lines[7] == '7,row 7'
            await conn.execute('CREATE TEMP TABLE u (a int, b text)')
            out.seek(0)
            assert await conn.copy_to_table(
                'u', source=out, format='csv') == 'COPY 20000'
            assert await conn.fetchval(
                'SELECT count(*) FROM u JOIN t USING (a, b)') == 20000
        finally:
            await conn.close()

    loop.run_until_complete(main())


async def running_sleeps(conn, pid):
    """1 while backend pid is inside pg_sleep().  Not merely 'active' with
    the query's text: that state begins while asyncpg still prepares the
    statement, and PostgreSQL drops a cancel request that arrives while the
    backend waits for the next protocol message (seen about once in 300
    on casyncio and on uvloop, whose round trips are quicker than stock's)."""
    return await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 "
        "AND state = 'active' AND wait_event = 'PgSleep'", pid)


@pytest.mark.parametrize('how', ['wait_for', 'cancel'])
def test_cancel_mid_query(loop, pg, how):
    """A query stopped by a timeout or Task.cancel(): asyncpg sends the
    server a cancel request on a second connection; the server stops the
    query and the connection answers the next one at once."""
    asyncpg, dsn = pg

    async def main():
        conn = await asyncpg.connect(dsn)
        watcher = await asyncpg.connect(dsn)
        try:
            pid = conn.get_server_pid()
            t0 = time.monotonic()
            if how == 'wait_for':
                # Prepared first: the timeout then falls while the query
                # runs, not while it is prepared (see running_sleeps).
                stmt = await conn.prepare('SELECT pg_sleep(30)')
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(stmt.fetchval(), 0.5)
            else:
                task = asyncio.ensure_future(
                    conn.fetchval('SELECT pg_sleep(30)'))
                while not await running_sleeps(watcher, pid):
                    await asyncio.sleep(0.01)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            assert await conn.fetchval('SELECT 1') == 1
            assert time.monotonic() - t0 < 10
            assert await running_sleeps(watcher, pid) == 0
            assert conn.get_server_pid() == pid and not conn.is_closed()
        finally:
            await conn.close()
            await watcher.close()

    loop.run_until_complete(main())


def test_backend_killed_pool_reconnects(loop, pg):
    """The server ends a pooled connection (pg_terminate_backend): the pool
    notices and the next acquire gets a new connection."""
    asyncpg, dsn = pg

    async def main():
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
        admin = await asyncpg.connect(dsn)
        try:
            async with pool.acquire() as conn:
                pid = await conn.fetchval('SELECT pg_backend_pid()')
                raw = conn._con
            assert await admin.fetchval('SELECT pg_terminate_backend($1)',
                                        pid)
            for _ in range(500):            # the EOF reaches the client
                if raw.is_closed():
                    break
                await asyncio.sleep(0.01)
            assert raw.is_closed()
            assert await pool.fetchval('SELECT pg_backend_pid()') != pid
        finally:
            await admin.close()
            await asyncio.wait_for(pool.close(), 10)

    loop.run_until_complete(main())


def test_server_restart_pool_reconnects_nothing_lost(loop, pg):
    """PostgreSQL restarted (pg_ctl restart -m fast, run by the server
    itself: the test may run where the server's binaries are not) while a
    query runs: that query fails with the server's shutdown error, the
    pool's connections (closed by the server while idle) are replaced,
    every committed row is there and new ones go in."""
    asyncpg, dsn = pg
    table = table_name(loop, 'restart')
    connection_errors = (OSError, asyncpg.PostgresConnectionError,
                         asyncpg.CannotConnectNowError,
                         asyncpg.InterfaceError)

    async def main():
        admin = await asyncpg.connect(dsn)
        busy = await asyncpg.connect(dsn)
        pool = await asyncpg.create_pool(dsn, min_size=2, max_size=2)
        try:
            if not await admin.fetchval(
                    'SELECT rolsuper FROM pg_roles WHERE rolname = '
                    'current_user'):
                pytest.skip('restarting the server needs a superuser DSN '
                            '(COPY TO PROGRAM)')
            bindir = await admin.fetchval(
                "SELECT setting FROM pg_config WHERE name = 'BINDIR'")
            datadir = await admin.fetchval('SHOW data_directory')
            started = await admin.fetchval('SELECT pg_postmaster_start_time()')
            await pool.execute(f'DROP TABLE IF EXISTS {table}')
            await pool.execute(f'CREATE TABLE {table} (a int PRIMARY KEY)')
            async with pool.acquire() as conn:
                async with conn.transaction():
                    await conn.executemany(
                        f'INSERT INTO {table} VALUES ($1)',
                        [(i,) for i in range(100)])
            assert await pool.fetchval(f'SELECT count(*) FROM {table}') == 100
            slow = asyncio.ensure_future(busy.fetchval('SELECT pg_sleep(30)'))
            await asyncio.sleep(0.2)
            # setsid: the postmaster signals each backend's process group,
            # pg_ctl must not be in ours; it waits a moment so that the
            # COPY's shell has exited first, and closes the descriptors
            # this backend leaves open (else each restarted server inherits
            # them and, restarts later, has too few to start).  No rows:
            # nothing to write into the shell's stdin.
            restart = ('for f in /proc/$$/fd/*; do f=${f##*/}; '
                       '[ "$f" -gt 2 ] && eval "exec $f>&-"; done; '
                       f'sleep 0.3; exec {bindir}/pg_ctl -D {datadir} '
                       f'-l {datadir}/server.log -m fast -w restart')
            command = (f"setsid bash -c '{restart}' "
                       '</dev/null >/dev/null 2>&1 &')
            await admin.execute(
                "COPY (SELECT 1 WHERE false) TO PROGRAM '%s'"
                % command.replace("'", "''"))
            with pytest.raises(asyncpg.ConnectionDoesNotExistError) as info:
                await asyncio.wait_for(slow, 20)
            assert isinstance(info.value.__cause__,
                              asyncpg.AdminShutdownError)

            # Back up: a new connection gets through (the server refuses
            # or says it is starting up until then).
            async def restarted():
                conn = await asyncpg.connect(dsn)
                try:
                    return await conn.fetchval(
                        'SELECT pg_postmaster_start_time()')
                finally:
                    await conn.close()

            now, _ = await retry(restarted, connection_errors)
            assert now > started
            pids = await asyncio.gather(*(
                pool.fetchval('SELECT pg_backend_pid() FROM pg_sleep(0.05)')
                for _ in range(2)))
            assert len(set(pids)) == 2
            assert await pool.fetchval(f'SELECT count(*) FROM {table}') == 100
            async with pool.acquire() as conn:
                await conn.executemany(f'INSERT INTO {table} VALUES ($1)',
                                       [(i,) for i in range(100, 200)])
            assert await pool.fetchval(
                f'SELECT count(*) FROM {table}') == 200
            await pool.execute(f'DROP TABLE {table}')
        finally:
            await asyncio.wait_for(pool.close(), 10)
            admin.terminate()
            busy.terminate()

    loop.run_until_complete(main())
