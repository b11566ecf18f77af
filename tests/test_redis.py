"""redis-py's asyncio client against a real Redis server (.ci/services),
on stock asyncio and on casyncio (the `loop` fixture): commands, big
values, pipelines, pub/sub, a command cancelled mid-way (nothing it
waited for is lost afterwards) and a server restart in the middle of a
stream of writes that the client rides out with retries, losing none."""
import asyncio
import os
import uuid

import pytest

from services import address, client_module, retry


@pytest.fixture
def rd():
    client_module('redis')
    aioredis = client_module('redis.asyncio')
    return aioredis, address('CASYNCIO_TEST_REDIS_URL')


def prefix():
    return f'casyncio:{os.getpid()}:{uuid.uuid4().hex[:8]}:'


async def cleanup(r, p):
    keys = [k async for k in r.scan_iter(match=p + '*')]
    if keys:
        await r.delete(*keys)


def test_commands(loop, rd):
    aioredis, url = rd

    async def main():
        r = aioredis.Redis.from_url(url)
        p = prefix()
        try:
            assert await r.ping() is True
            assert await r.set(p + 'a', 'héllo') is True
            assert await r.get(p + 'a') == 'héllo'.encode()
            assert await r.get(p + 'missing') is None
            assert await r.incrby(p + 'n', 5) == 5
            big = os.urandom(4 * 1024 * 1024)       # many reads and writes
            await r.set(p + 'big', big)
            assert await r.get(p + 'big') == big
            assert await r.mget([p + 'a', p + 'n']) == [b'h\xc3\xa9llo', b'5']
            await r.hset(p + 'h', mapping={'x': '1', 'y': '2'})
            assert await r.hgetall(p + 'h') == {b'x': b'1', b'y': b'2'}
            from redis.exceptions import ResponseError
            with pytest.raises(ResponseError):
                await r.incr(p + 'a')
            assert await r.exists(p + 'a') == 1
            results = await asyncio.gather(*(
                r.incr(p + 'c') for _ in range(50)))
            assert sorted(results) == list(range(1, 51))
        finally:
            await cleanup(r, p)
            await r.aclose()

    loop.run_until_complete(main())


@pytest.mark.parametrize('transaction', [False, True])
def test_pipeline(loop, rd, transaction):
    aioredis, url = rd

    async def main():
        r = aioredis.Redis.from_url(url)
        p = prefix()
        try:
            async with r.pipeline(transaction=transaction) as pipe:
                for i in range(2000):
                    pipe.set(f'{p}{i}', i)
                assert await pipe.execute() == [True] * 2000
            async with r.pipeline(transaction=transaction) as pipe:
                for i in range(2000):
                    pipe.get(f'{p}{i}')
                got = await pipe.execute()
            assert got == [str(i).encode() for i in range(2000)]
        finally:
            await cleanup(r, p)
            await r.aclose()

    loop.run_until_complete(main())


def test_pubsub(loop, rd):
    aioredis, url = rd

    async def main():
        r = aioredis.Redis.from_url(url)
        p = prefix()
        ps = r.pubsub(ignore_subscribe_messages=True)
        try:
            await ps.subscribe(p + 'ch')
            await ps.psubscribe(p + 'pat.*')
            # The subscriptions are in place once the server counts them.
            while (await r.pubsub_numsub(p + 'ch'))[0][1] < 1:
                await asyncio.sleep(0.01)
            for i in range(100):
                assert await r.publish(p + 'ch', f'm{i}') == 1
            assert await r.publish(p + 'pat.x', 'pm') == 1
            got = []
            deadline = asyncio.get_running_loop().time() + 10
            while len(got) < 101:
                # None: nothing within the timeout, or a subscribe
                # confirmation (ignored).
                msg = await ps.get_message(timeout=1)
                if msg is not None:
                    got.append((msg['type'], msg['data']))
                assert asyncio.get_running_loop().time() < deadline, got
            assert got[:100] == [('message', f'm{i}'.encode())
                                 for i in range(100)]
            assert got[100] == ('pmessage', b'pm')
            await ps.unsubscribe(p + 'ch')
            await ps.punsubscribe()
            # listen() as an async iterator, the way most programs read.
            await ps.subscribe(p + 'ch2')
            while (await r.pubsub_numsub(p + 'ch2'))[0][1] < 1:
                await asyncio.sleep(0.01)
            await r.publish(p + 'ch2', 'last')
            async for msg in ps.listen():
                assert msg['data'] == b'last'
                break
        finally:
            await ps.aclose()
            await r.aclose()

    loop.run_until_complete(main())


@pytest.mark.parametrize('how', ['cancel', 'timeout'])
def test_cancel_mid_command(loop, rd, how):
    """A BLPOP cancelled while the server blocks on it: the client drops
    that connection, so the value pushed afterwards is not swallowed by the
    abandoned BLPOP but reaches the next reader."""
    aioredis, url = rd

    async def main():
        r = aioredis.Redis.from_url(url)
        other = aioredis.Redis.from_url(url)
        p = prefix()
        try:
            async def blocked():
                info = await other.client_list()
                return sum(c['cmd'] == 'blpop' for c in info
                           if 'b' in c.get('flags', ''))

            before = await blocked()
            if how == 'cancel':
                task = asyncio.ensure_future(r.blpop([p + 'q'], timeout=30))
                while await blocked() == before:
                    await asyncio.sleep(0.01)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            else:
                with pytest.raises(asyncio.TimeoutError):
                    await asyncio.wait_for(r.blpop([p + 'q'], timeout=30),
                                           0.3)
            for _ in range(500):        # the server sees the connection go
                if await blocked() == before:
                    break
                await asyncio.sleep(0.01)
            assert await blocked() == before
            await other.rpush(p + 'q', 'v1')
            got = await r.blpop([p + 'q'], timeout=5)
            assert list(got) == [(p + 'q').encode(), b'v1']
            assert await r.ping() is True
        finally:
            await cleanup(other, p)
            await r.aclose()
            await other.aclose()

    loop.run_until_complete(main())


def test_server_restart_nothing_lost(loop, rd):
    """Redis restarted (DEBUG RESTART: it saves, closes every connection
    and re-executes itself) while a client writes: the client's retries
    reconnect, and every write, before and during the restart, is there."""
    aioredis, url = rd
    from redis.backoff import ConstantBackoff
    from redis.exceptions import ConnectionError, ResponseError, TimeoutError
    from redis.asyncio.retry import Retry

    class CountingBackoff(ConstantBackoff):
        retries = 0

        def compute(self, failures):
            CountingBackoff.retries += 1
            return super().compute(failures)

    async def main():
        admin = aioredis.Redis.from_url(url)
        r = aioredis.Redis.from_url(
            url, retry=Retry(CountingBackoff(0.05), 200),
            retry_on_error=[ConnectionError, TimeoutError, OSError])
        p = prefix()
        try:
            config = await admin.config_get('enable-debug-command')
            if config.get('enable-debug-command') == 'no':
                pytest.skip('the server does not allow DEBUG RESTART '
                            '(.ci/services starts one that does)')
            if (await admin.config_get('appendonly'))['appendonly'] != 'yes':
                pytest.skip('the server keeps no append-only file: a '
                            'restart loses its data (.ci/services keeps one)')
            for i in range(100):
                await r.set(f'{p}{i}', i)
            run_id = (await admin.info('server'))['run_id']

            async def writer():
                for i in range(100, 400):
                    await r.set(f'{p}{i}', i)
                    await asyncio.sleep(0.002)

            task = asyncio.ensure_future(writer())
            await asyncio.sleep(0.1)
            try:
                await admin.execute_command('DEBUG', 'RESTART')
            except (ConnectionError, ResponseError):
                pass        # the server closes this connection too
            await asyncio.wait_for(task, 60)

            async def info():
                return (await admin.info('server'))['run_id']

            new_run_id, _ = await retry(info, (ConnectionError, OSError))
            assert new_run_id != run_id
            assert CountingBackoff.retries >= 1     # the writer rode it out
            values = await r.mget([f'{p}{i}' for i in range(400)])
            assert values == [str(i).encode() for i in range(400)]
        finally:
            await retry(lambda: cleanup(admin, p), (ConnectionError, OSError))
            await r.aclose()
            await admin.aclose()

    loop.run_until_complete(main())
