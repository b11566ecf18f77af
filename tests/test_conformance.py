"""CPython's asyncio test suite against casyncio, one group at a time.

Each group (tests/conformance/groups.py) runs in its own subprocess, on
casyncio and on stock asyncio.  A test that crashes or hangs the process
costs that test: the group is run again without it.  On casyncio a test
must pass, unless it is listed as an expected failure (then it must fail:
strict) or excluded as a white-box test of the stock loop.  The summary
at the end of the run shows each group next to stock asyncio's count.
"""
import json
import os
import subprocess
import sys

import pytest

from conformance.groups import GROUPS

from conftest import PACKAGE_PARENT

RUNNER = os.path.join(os.path.dirname(__file__), 'conformance',
                      'run_group.py')
MAX_CRASHES = 10
SUMMARY = []        # read by conftest.pytest_terminal_summary


def run_group(name, impl):
    """{test id: [outcome, detail]}, outcome one of passed, failed,
    skipped, excluded, crashed."""
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    crashed = {}
    for _ in range(MAX_CRASHES + 1):
        p = subprocess.run(
            [sys.executable, RUNNER, name, impl, *crashed], env=env,
            capture_output=True, text=True, timeout=1800,
            cwd=os.path.dirname(__file__))
        if p.returncode == 0:
            outcomes = json.loads(p.stdout.splitlines()[-1])
            for tid, detail in crashed.items():
                outcomes[tid] = ['crashed', detail]
            return outcomes
        started = [line.split(' ', 1)[1] for line in p.stderr.splitlines()
                   if line.startswith('START ')]
        if not started:
            raise AssertionError(f'group {name} on {impl} failed before '
                                 f'any test:\n{p.stderr[-3000:]}')
        crashed[started[-1]] = (f'exit {p.returncode}: '
                                + p.stderr[-1500:].strip())
    raise AssertionError(f'group {name} on {impl}: more than {MAX_CRASHES} '
                         f'crashes: {list(crashed)}')


@pytest.mark.parametrize('name', list(GROUPS))
def test_group(name):
    group = GROUPS[name]
    ours = run_group(name, 'casyncio')
    stock = run_group(name, 'stock')

    counts = dict(passed=0, xfail=0, excluded=0, skipped=0)
    problems = []
    used_patterns = set()
    for tid, (outcome, detail) in sorted(ours.items()):
        pattern, xfail = group.xfail_pattern(tid)
        if outcome in ('excluded', 'skipped'):
            counts[outcome] += 1
            continue
        if xfail is not None:
            used_patterns.add(pattern)
            if outcome == 'passed':
                problems.append(f'XPASS {tid}: listed as failing '
                                f'({xfail[1]}) but passes; take it off')
            else:
                counts['xfail'] += 1
            continue
        if outcome == 'passed':
            counts['passed'] += 1
        else:
            problems.append(f'{outcome.upper()} {tid}: {detail}')
    for pattern in group.xfail:
        if pattern not in used_patterns:
            problems.append(f'expected-failure pattern {pattern!r} matches '
                            f'no test: take it off')
    stock_passed = sum(1 for o, _ in stock.values() if o == 'passed')
    stock_run = sum(1 for o, _ in stock.values()
                    if o not in ('excluded', 'skipped'))
    SUMMARY.append((name, counts, stock_passed, stock_run, group.note))
    assert not problems, '\n'.join(problems)
