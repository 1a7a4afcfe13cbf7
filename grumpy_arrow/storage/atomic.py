"""Replacing a whole directory in one atomic step, and the fsyncs that make it durable.

A store, a sharded dataset or a saver's dataset that is overwritten is first built
complete in a sibling directory (:func:`sibling`), then swapped in by :func:`swap_in`:

* on Linux, ``renameat2(RENAME_EXCHANGE)`` exchanges the two directory entries in one
  step, so every reader and every crash sees either the old or the new directory, whole;
* elsewhere (or on a filesystem without the exchange), the old directory is renamed to
  ``.<name>.old-<hex>`` and the new one into place; a crash between the two renames
  leaves no directory at the target, and :func:`recover` (called by every opener) renames
  the old one back.

What was swapped out is deleted afterwards; a crash before that leaves a hidden
``.<name>.*`` sibling that :func:`sweep` removes on the next replace.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import uuid
from collections.abc import Callable
from typing import Any, BinaryIO

__all__ = ["fsync_dir", "fsync_file", "recover", "sibling", "swap_in", "sweep", "write_file"]

_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def sibling(target: str, tag: str = "new") -> str:
    """A fresh hidden path beside ``target`` (same filesystem, so renames are atomic)."""
    parent, name = os.path.split(os.path.abspath(target))
    return os.path.join(parent, f".{name}.{tag}-{uuid.uuid4().hex[:12]}")


def fsync_file(path: str) -> None:
    """Flush a file's data to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path: str, write: Callable[[BinaryIO], Any], *, sync: bool = True) -> None:
    """Write a new file at ``path`` by ``write(fh)``, flushed to the disk when ``sync``;
    on any error (a full disk, an interrupt) the partial file is removed."""
    try:
        with open(path, "wb") as fh:
            write(fh)
            if sync:
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(path)
        raise


def fsync_dir(path: str) -> None:
    """Flush a directory's entries (a rename or a new file in it) to the disk."""
    with contextlib.suppress(OSError):  # some filesystems refuse to fsync directories
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _exchange(a: str, b: str) -> bool:
    """Exchange two directory entries atomically; False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), b)


def swap_in(new: str, target: str, *, durable: bool = True) -> None:
    """Make ``target`` the directory ``new`` (built complete beforehand), atomically.

    The old ``target`` (if any) is deleted once the new one is in place.
    """
    parent = os.path.dirname(os.path.abspath(target))
    if durable:
        fsync_dir(new)
    if not os.path.lexists(target):
        os.rename(new, target)
        if durable:
            fsync_dir(parent)
        return
    if _exchange(new, target):
        if durable:
            fsync_dir(parent)
        shutil.rmtree(new, ignore_errors=True)  # ``new`` now holds the old directory
        return
    old = sibling(target, "old")
    os.rename(target, old)
    os.rename(new, target)
    if durable:
        fsync_dir(parent)
    shutil.rmtree(old, ignore_errors=True)


def recover(target: str) -> None:
    """Undo a replace cut between its two renames (no ``target``, an ``.old-`` sibling)."""
    if os.path.lexists(target):
        return
    parent, name = os.path.split(os.path.abspath(target))
    try:
        entries = os.listdir(parent)
    except OSError:
        return
    olds = sorted(
        (e for e in entries if e.startswith(f".{name}.old-")),
        key=lambda e: os.stat(os.path.join(parent, e)).st_mtime,
    )
    if olds:
        with contextlib.suppress(FileNotFoundError, FileExistsError, OSError):
            os.rename(os.path.join(parent, olds[-1]), target)


def sweep(target: str) -> None:
    """Delete the leftovers of replaces of ``target`` that a crash cut short."""
    parent, name = os.path.split(os.path.abspath(target))
    try:
        entries = os.listdir(parent)
    except OSError:
        return
    for entry in entries:
        if entry.startswith((f".{name}.new-", f".{name}.old-")):
            shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)
