"""CPython's own asyncio test suite, run against casyncio (see groups.py)."""
