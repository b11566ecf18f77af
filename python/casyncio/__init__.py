"""casyncio: asyncio's event loop, Future and Task in C."""
from . import _core

__all__ = []
