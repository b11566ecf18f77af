"""Run one conformance group in this process and print its outcomes.

    python run_group.py GROUP casyncio|stock [TEST_ID ...]

The TEST_IDs are tests that crashed or hung in an earlier attempt: they are
not run again (the parent records them).  Before each test a line
"START <id>" goes to stderr, so the parent knows which test a crash or hang
belongs to; faulthandler prints the C and Python stacks and ends the
process when a test runs longer than CONFORMANCE_TEST_TIMEOUT seconds.
The last line on stdout is a JSON object {test id: [outcome, detail]},
outcome one of passed, failed, skipped, excluded, not-run.
"""
import faulthandler
import importlib
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from conformance.groups import GROUPS  # noqa: E402

EXCLUDED_PREFIX = 'excluded: '
TIMEOUT = float(os.environ.get('CONFORMANCE_TEST_TIMEOUT', '60'))


def load(target):
    module_name, _, cls_name = target.partition(':')
    module = importlib.import_module(module_name)
    loader = unittest.defaultTestLoader
    if cls_name:
        return [getattr(module, cls_name)], module
    return [obj for obj in vars(module).values()
            if isinstance(obj, type) and issubclass(obj, unittest.TestCase)
            and loader.getTestCaseNames(obj)], module


def skip_method(cls, method, reason):
    def skipped(self):
        raise unittest.SkipTest(reason)
    skipped.__name__ = method
    setattr(cls, method, skipped)


class Result(unittest.TestResult):
    def __init__(self, outcomes):
        super().__init__()
        self.outcomes = outcomes

    def startTest(self, test):
        print('START', test.id(), file=sys.stderr, flush=True)
        faulthandler.dump_traceback_later(TIMEOUT, exit=True)
        super().startTest(test)

    def stopTest(self, test):
        faulthandler.cancel_dump_traceback_later()
        super().stopTest(test)

    def _set(self, test, outcome, detail=''):
        tid = test.id()
        if self.outcomes.get(tid, ['passed'])[0] == 'failed':
            return                      # a failed subtest stays failed
        self.outcomes[tid] = [outcome, detail]

    def addSuccess(self, test):
        self._set(test, 'passed')

    def addExpectedFailure(self, test, err):
        self._set(test, 'passed', 'expected failure (CPython\'s own mark)')

    def addUnexpectedSuccess(self, test):
        self._set(test, 'failed', 'unexpected success')

    def _fail(self, test, err):
        exc = err[1]
        self._set(test, 'failed', f'{type(exc).__name__}: {exc}'[:300])

    addFailure = addError = _fail

    def addSubTest(self, test, subtest, err):
        if err is not None:
            self._fail(subtest.test_case if hasattr(subtest, 'test_case')
                       else test, err)

    def addSkip(self, test, reason):
        if reason.startswith(EXCLUDED_PREFIX):
            self._set(test, 'excluded', reason[len(EXCLUDED_PREFIX):])
        else:
            self._set(test, 'skipped', reason)


def main():
    name, impl, *not_run = sys.argv[1:]
    group = GROUPS[name]
    if impl == 'casyncio' and group.install_policy:
        import casyncio
        casyncio.install()
    loader = unittest.defaultTestLoader
    suite = unittest.TestSuite()
    for target in group.targets(impl):
        classes, module = load(target)
        for cls in classes:
            for method in loader.getTestCaseNames(cls):
                tid = f'{cls.__module__}.{cls.__qualname__}.{method}'
                reason = group.excluded_reason(tid)
                if tid in not_run:
                    skip_method(cls, method, EXCLUDED_PREFIX + 'not run')
                elif reason:
                    skip_method(cls, method, EXCLUDED_PREFIX + reason)
            suite.addTests(loader.loadTestsFromTestCase(cls))
    outcomes = {}
    # module-level fixtures (setUpModule/tearDownModule) run as in unittest
    suite.run(Result(outcomes))
    for tid in not_run:
        outcomes[tid] = ['not-run', '']
    print(json.dumps(outcomes))


if __name__ == '__main__':
    main()
