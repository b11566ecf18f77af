"""A small asyncio program, written against plain asyncio only.

Run it on casyncio with the launcher:   python -m casyncio -m casyncio.demo
or on stock asyncio to compare:         python -m casyncio.demo
"""
import asyncio
import time


async def worker(name, queue, results):
    while True:
        n = await queue.get()
        await asyncio.sleep(0.001 * (n % 3))
        results.append((name, n * n))
        queue.task_done()


async def switches(n):
    for _ in range(n):
        await asyncio.sleep(0)


async def main():
    loop = asyncio.get_running_loop()
    print(f'event loop: {type(loop).__module__}.{type(loop).__qualname__}')
    print(f'current task: {asyncio.current_task().get_name()}')

    queue = asyncio.Queue()
    results = []
    workers = [asyncio.create_task(worker(f'w{i}', queue, results))
               for i in range(4)]
    for n in range(20):
        queue.put_nowait(n)
    await queue.join()
    for w in workers:
        w.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    print(f'queue: 20 jobs done by {len({r[0] for r in results})} workers, '
          f'sum of squares {sum(r[1] for r in results)}')

    try:
        async with asyncio.timeout(0.05):
            await asyncio.sleep(10)
    except TimeoutError:
        print('timeout: a 10 s sleep was cut at 0.05 s')

    async with asyncio.TaskGroup() as tg:
        tasks = [tg.create_task(asyncio.sleep(0.01, i)) for i in range(3)]
    print('task group:', [t.result() for t in tasks])

    t0 = time.perf_counter()
    await asyncio.gather(*(switches(10_000) for _ in range(10)))
    dt = time.perf_counter() - t0
    print(f'100,000 task switches (asyncio.sleep(0)) in {dt * 1e3:.0f} ms')


if __name__ == '__main__':
    asyncio.run(main())
