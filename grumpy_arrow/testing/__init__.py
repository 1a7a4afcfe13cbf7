"""Test helpers for code that uses grumpy_arrow.

``grumpy_arrow.testing`` holds NaN-aware equality assertions that need nothing beyond
grumpy_arrow itself. The Hypothesis strategies live in :mod:`grumpy_arrow.testing.strategies`,
which needs the optional ``hypothesis`` dependency (``pip install 'grumpy_arrow[test]'``).

Examples
--------
>>> import grumpy_arrow as gr
>>> from grumpy_arrow.testing import assert_array_equal
>>> nan = float("nan")
>>> assert_array_equal(gr.array([[1.0, nan], 2.0]), gr.array([[1.0, nan], 2.0]))
"""

from __future__ import annotations

from grumpy_arrow.testing.asserts import (
    assert_array_equal,
    assert_arrow_equal,
    assert_values_equal,
    values_equal,
)

__all__ = ["assert_array_equal", "assert_arrow_equal", "assert_values_equal", "values_equal"]
