"""Test helpers for code that uses grumpy_arrow.

``grumpy_arrow.testing`` holds NaN-aware equality assertions that need nothing beyond
grumpy_arrow itself. Two submodules need optional dependencies of the ``test`` extra
(``pip install 'grumpy_arrow[test]'``) and are imported by name, never by this package:

- :mod:`grumpy_arrow.testing.strategies`: Hypothesis strategies (needs ``hypothesis``);
- :mod:`grumpy_arrow.testing.savers`: ``SaverTests``, the conformance suite every saver
  passes, to subclass in a test module for a saver of your own (needs ``pytest``).

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
