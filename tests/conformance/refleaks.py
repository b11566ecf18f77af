"""Hunt reference, memory-block and fd leaks in one conformance group, as
CPython's `regrtest -R` does: each test runs WARMUPS + RUNS times in this
process, and one whose counts grow on every one of the last RUNS rounds is
reported.  Needs a debug build of CPython (sys.gettotalrefcount).

    python refleaks.py GROUP casyncio|stock [-R WARMUPS:RUNS] [-k PATTERN]
                       [--whole]

-k keeps the tests whose id contains PATTERN (repeatable); --whole repeats
the whole selection as one unit instead of each test on its own (faster,
but it only tells that something leaked).  Compare a leak with the stock
side on the same interpreter: only growth that stock lacks is ours.
"""
import argparse
import gc
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from conformance.groups import GROUPS  # noqa: E402
from conformance.run_group import load  # noqa: E402


def selected_tests(group, impl, patterns):
    loader = unittest.defaultTestLoader
    for target in group.targets(impl):
        classes, _ = load(target)
        for cls in classes:
            for method in loader.getTestCaseNames(cls):
                tid = f'{cls.__module__}.{cls.__qualname__}.{method}'
                if group.excluded_reason(tid) or group.xfail_pattern(tid)[0]:
                    continue
                if patterns and not any(p in tid for p in patterns):
                    continue
                yield cls, method, tid


def main():
    from test.libregrtest.refleak import runtest_refleak
    from test.libregrtest.runtests import HuntRefleak

    ap = argparse.ArgumentParser()
    ap.add_argument('group')
    ap.add_argument('impl', choices=['casyncio', 'stock'])
    ap.add_argument('-R', default='3:3')
    ap.add_argument('-k', action='append', default=[])
    ap.add_argument('--whole', action='store_true')
    args = ap.parse_args()
    group = GROUPS[args.group]
    if args.impl == 'casyncio' and group.install_policy:
        import casyncio
        casyncio.install()
    from casyncio import _core
    clear_pools = _core._clear_pools
    warmups, runs = map(int, args.R.split(':'))
    report = f'/tmp/refleaks-{os.getpid()}.txt'
    hunt = HuntRefleak(warmups, runs, report)
    tests = list(selected_tests(group, args.impl, args.k))

    def run(chosen):
        def test_func():
            suite = unittest.TestSuite(cls(method)
                                       for cls, method, _ in chosen)
            result = unittest.TestResult()
            suite.run(result)
            gc.collect()
            clear_pools()
            bad = result.errors + result.failures
            return [(t.id(), tb.splitlines()[-1]) for t, tb in bad]
        return test_func

    units = [(args.group, tests)] if args.whole else [
        (tid, [(cls, method, tid)]) for cls, method, tid in tests]
    leaked = []
    for name, chosen in units:
        failed, bad = runtest_refleak(name, run(chosen), hunt, quiet=True)
        for tid, line in bad or ():
            print(f'FAILED {tid}: {line}', file=sys.stderr)
        if failed:
            leaked.append(name)
    print(f'{len(tests)} tests in {len(units)} units, {len(leaked)} leaked:',
          *leaked, sep='\n  ')
    if os.path.exists(report):
        os.unlink(report)
    return 1 if leaked else 0


if __name__ == '__main__':
    sys.exit(main())
