"""Eager tasks (Python 3.12's asyncio.eager_task_factory) on 3.11.

An eager task runs its coroutine's first step inside create_task(), in
the caller's stack, when the loop is running; a coroutine that finishes
without suspending never touches the loop's queue.  Our C Task does the
work (Task(..., eager_start=True)); this module only builds the factory.

    loop.set_task_factory(casyncio.eager.eager_task_factory)
"""
from . import _core

__all__ = ("create_eager_task_factory", "eager_task_factory")


def create_eager_task_factory(custom_task_constructor):
    """A task factory that calls custom_task_constructor(coro, loop=loop,
    name=name, context=context, eager_start=True)."""

    def factory(loop, coro, *, name=None, context=None):
        return custom_task_constructor(
            coro, loop=loop, name=name, context=context, eager_start=True)

    return factory


eager_task_factory = create_eager_task_factory(_core.Task)
