"""Shared fixtures for the test suite."""

from __future__ import annotations

import pytest

import grumpy_arrow as gr


@pytest.fixture
def ragged() -> gr.GrumpyArray:
    """Three rows, the middle one empty."""
    return gr.array([[1, 2, 3], [], [4, 5]])


@pytest.fixture
def union() -> gr.GrumpyArray:
    """Scalar-or-list rows with a null scalar and an empty list."""
    return gr.array([1, [2, 3], 4, None, []])
