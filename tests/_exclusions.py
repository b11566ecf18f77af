"""Applying a conformance test's exclusion list.

Every test of a CPython mixin that we do not run is named here with its
reason.  `exclude(cls, reasons)` replaces each named method by a skip that
carries the reason, and fails loudly if a name no longer exists (so the
list cannot go stale silently).
"""
import unittest


def exclude(cls, reasons):
    for name, reason in reasons.items():
        if not hasattr(cls, name):
            raise AttributeError(f'{cls.__name__} has no test {name!r} '
                                 f'to exclude')

        def skipped(self, _reason=reason):
            raise unittest.SkipTest(_reason)
        skipped.__name__ = name
        setattr(cls, name, skipped)
    return cls


def names_matching(cls, *words):
    """The test names of cls that contain any of the words."""
    return [n for n in dir(cls)
            if n.startswith('test_') and any(w in n for w in words)]
