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


def is_locked(path: object) -> bool:
    """Whether some process holds the writer lock (an ``flock``) on the lock file ``path``.

    Lock files are never deleted: a free lock is an unlocked file (or no file at all).
    """
    import fcntl
    import os

    try:
        fd = os.open(os.fspath(path), os.O_RDONLY)  # type: ignore[arg-type]
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
