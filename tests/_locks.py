"""Test helper: whether a writer lock (an ``flock``) is held."""

from __future__ import annotations


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
