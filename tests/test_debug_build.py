"""The debug build's live-object counters (CASYNCIO_DEBUG=1)."""
import gc

import pytest

import casyncio
from casyncio import _core

debug_only = pytest.mark.skipif(
    _core._debug_counters() is None,
    reason='a release build has no counters: build with CASYNCIO_DEBUG=1')


def test_release_build_has_no_counters():
    if _core._debug_counters() is not None:
        pytest.skip('this is a debug build')
    assert _core._debug_counters() is None


@debug_only
def test_handles_are_all_released():
    gc.collect()
    before = _core._debug_counters()['handles']
    loop = casyncio.new_event_loop()
    for i in range(100):
        loop.call_soon(print, i).cancel()
        loop.call_later(10, print)
    loop.call_soon(loop.stop)
    loop.run_forever()
    loop.close()
    del loop
    gc.collect()
    assert _core._debug_counters()['handles'] == before
