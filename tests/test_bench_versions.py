"""bench/versions.py --apps' table: medians over each version's apps.py
samples and casyncio's ratios, from apps.py's --json layout."""
import os
import sys

BENCH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "bench")
sys.path.insert(0, BENCH)
try:
    import versions  # noqa: E402  (it imports bench/net.py and run.py)
finally:
    # versions.py puts bench/ on the path too: leave none of it behind.
    sys.path[:] = [p for p in sys.path
                   if os.path.abspath(p) != os.path.abspath(BENCH)]


def doc(samples):
    """apps.py's --json: {"results": [{"row", "impl", "samples"}]}."""
    return {"header": {}, "results": [
        {"row": [row], "impl": impl,
         "samples": [{"rate": rate, "cpu_per": cpu} for rate, cpu in s]}
        for (row, impl), s in samples.items()]}


def test_apps_table_medians_and_ratios():
    docs = {
        "3.11": doc({
            ("aiohttp", "asyncio"): [(1000, 50e-6), (900, 60e-6),
                                     (1100, 40e-6)],
            ("aiohttp", "uvloop"): [(2000, 40e-6)],
            ("aiohttp", "casyncio"): [(3000, 30e-6), (2000, 99e-6),
                                      (5000, 20e-6)],
        }),
        "3.15": doc({
            ("aiohttp", "asyncio"): [(1000, 80e-6)],
            ("aiohttp", "casyncio"): [(1000, 20e-6)],
        }),
    }
    lines = versions.apps_table(["aiohttp"], docs, {"3.11": "1.0 -> 2.0"})
    assert lines[0].startswith("| row | version | asyncio CPU us/req |")
    cells = [[c.strip() for c in line.strip("|").split("|")]
             for line in lines[2:]]
    # Medians: asyncio 50 us, uvloop 40 us, casyncio 30 us and 3000 req/s.
    assert cells[0] == ["`aiohttp`", "3.11", "50.0", "40.0", "30.0",
                        "0.60x", "0.75x", "1.50x", "1.0 -> 2.0"]
    # No uvloop run on 3.15 (and no load recorded): dashes, not a crash.
    assert cells[1] == ["`aiohttp`", "3.15", "80.0", "-", "20.0", "0.25x",
                        "-", "-", "-"]
