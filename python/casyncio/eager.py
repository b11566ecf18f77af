"""Eager tasks (Python 3.12's asyncio.eager_task_factory), for our Task.

An eager task runs its coroutine's first step inside create_task(), in
the caller's stack, when the loop is running; a coroutine that finishes
without suspending never touches the loop's queue.  Our C Task does the
work (Task(..., eager_start=True)); this module only builds the factory:
asyncio's own create_eager_task_factory from 3.12 on (so the factory's
signature is the running version's), the same function on 3.11.

    loop.set_task_factory(casyncio.eager.eager_task_factory)
"""
import asyncio

from . import _core

__all__ = ("create_eager_task_factory", "eager_task_factory")

if hasattr(asyncio, "create_eager_task_factory"):
    create_eager_task_factory = asyncio.create_eager_task_factory
else:
    def create_eager_task_factory(custom_task_constructor):
        """A task factory that calls custom_task_constructor(coro, loop=loop,
        name=name, context=context, eager_start=True)."""

        def factory(loop, coro, *, name=None, context=None):
            return custom_task_constructor(
                coro, loop=loop, name=name, context=context, eager_start=True)

        return factory


eager_task_factory = create_eager_task_factory(_core.Task)
