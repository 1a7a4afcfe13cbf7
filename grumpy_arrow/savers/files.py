"""File steps that make a saver's overwrite or update all or nothing.

Directories (a Zarr dataset, a grumpy store) are replaced whole by
:func:`grumpy_arrow.storage.atomic.swap_in`. Files are replaced by ``os.replace``, which is
atomic for one file; for several files at once (a ragged ``.npy`` pair) a **commit
record** names the staged files and their final names: written (durably) once every staged
file is complete, it makes the replace happen: the next open rolls it forward
(:func:`finish_commit`). Everything is staged under hidden names beside the target
(``.<name>.new-<hex>``, from :func:`~grumpy_arrow.storage.atomic.sibling`) that
:func:`sweep_beside` removes when the next overwrite or update holds the target's lock.

A Zarr update clones the dataset's folder with hard links (:func:`clone_tree`) and
rewrites only the chunk files it touches, each first copied to a file of its own
(:func:`unshare`), so the live dataset never changes until the swap.

A reader that finds an unfinished commit repairs it only while holding the writer's lock
(:func:`recover_under_lock`). A full disk surfaces as ``StoreError`` with
``errno.ENOSPC`` naming the target (:func:`translate_no_space`, :func:`check_room`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

from grumpy_arrow.errors import StoreError, StoreFormatError, StoreLockedError
from grumpy_arrow.storage.atomic import fsync_dir, sibling, write_file

if sys.platform != "win32":
    import fcntl

__all__ = [
    "check_room",
    "clone_tree",
    "commit_files",
    "copy_file",
    "finish_commit",
    "is_no_space",
    "recover_under_lock",
    "stage_file",
    "sweep_beside",
    "translate_no_space",
    "unshare",
]

_FICLONE = 0x40049409  # Linux ioctl: share the extents of a file (btrfs, xfs, bcachefs)
LOCK_WAIT = 10.0  # seconds a reader waits for a live writer before giving up


def _remove(path: str) -> None:
    """Remove a file or folder; missing is fine."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def sweep_beside(*targets: str) -> None:
    """Remove the staged files (``.<name>.new-*``) killed saves left beside ``targets``
    (files of one folder: one listing of it).

    Call it holding the targets' lock, after recovery: nothing staged is in use then.
    Savers call it before they stage anything (an overwrite or update), not on every
    append: listing a large folder on every save would cost more than the leftovers.
    """
    if not targets:
        return
    parent = os.path.dirname(os.path.abspath(targets[0]))
    prefixes = tuple(f".{os.path.basename(t)}.new-" for t in targets)
    try:
        entries = os.listdir(parent)
    except OSError:
        return
    for entry in entries:
        if entry.startswith(prefixes):
            _remove(os.path.join(parent, entry))


def stage_file(target: str, write: Callable[[BinaryIO], Any]) -> str:
    """Write a complete file beside ``target`` (by ``write(fh)``), flushed to the disk.

    Returns the staged file's path; on any error the staged file is removed.
    """
    staged = sibling(target, "new")
    write_file(staged, write)
    return staged


def commit_files(record: str, moves: dict[str, str], removals: Iterable[str]) -> None:
    """Make the staged files ``moves`` (staged -> final) and the ``removals`` one step.

    The record (JSON, same folder, written beside and renamed in) is the commit point: a
    kill before it leaves the old files (the staged ones are swept later); after it,
    :func:`finish_commit` (run now, or by the next open) completes the replace.

    Parameters
    ----------
    record : str
        The commit record's path (a hidden file beside the targets).
    moves : dict of str to str
        Staged file -> the file it replaces, all in the record's folder.
    removals : iterable of str
        Files of the old state that the new one does not have.

    Examples
    --------
    >>> import os, tempfile
    >>> from grumpy_arrow.savers.files import commit_files, stage_file
    >>> folder = tempfile.mkdtemp()
    >>> a, b = os.path.join(folder, "a"), os.path.join(folder, "b")
    >>> staged = stage_file(a, lambda fh: fh.write(b"new a"))
    >>> open(b, "wb").close()
    >>> commit_files(os.path.join(folder, ".a.commit"), {staged: a}, [b])
    >>> from pathlib import Path
    >>> sorted(os.listdir(folder)), Path(a).read_bytes()
    (['a'], b'new a')
    """
    folder = os.path.dirname(os.path.abspath(record))
    doc = {
        "moves": {os.path.basename(k): os.path.basename(v) for k, v in moves.items()},
        "removals": sorted(os.path.basename(r) for r in removals),
    }
    staged = stage_file(record, lambda fh: fh.write(json.dumps(doc).encode()))
    try:
        os.replace(staged, record)
    except BaseException:
        _remove(staged)
        raise
    fsync_dir(folder)
    finish_commit(record)


def finish_commit(record: str) -> None:
    """Roll the replace of a commit record forward (idempotent), then remove the record.

    A staged file that is gone was already moved: the record is removed only after
    every move, so a staged file disappears only by its move.
    """
    folder = os.path.dirname(os.path.abspath(record))
    try:
        with open(record, "rb") as fh:
            doc = json.loads(fh.read())
        moves = dict(doc["moves"])
        removals = list(doc["removals"])
    except FileNotFoundError:
        return
    except (ValueError, KeyError, TypeError) as err:
        raise StoreFormatError(
            f"{record}: expected a saver's commit record (JSON with 'moves' and "
            f"'removals'); got unreadable content ({err})"
        ) from err
    for staged, final in moves.items():
        with contextlib.suppress(FileNotFoundError):
            os.replace(os.path.join(folder, staged), os.path.join(folder, final))
    for name in removals:
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(folder, name))
    fsync_dir(folder)
    with contextlib.suppress(FileNotFoundError):
        os.remove(record)
    fsync_dir(folder)


def copy_file(src: str, dst: str) -> None:
    """Copy ``src`` to a new file ``dst``, flushed to the disk.

    A reflink (shared extents, copy-on-write) where the filesystem has them, so copying a
    large file costs no data; otherwise a kernel-side copy.
    """
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        if not _reflink(fin.fileno(), fout.fileno()):
            shutil.copyfileobj(fin, fout, 1 << 20)
        fout.flush()
        os.fsync(fout.fileno())


def _reflink(src: int, dst: int) -> bool:
    """Whether the file ``dst`` now shares the extents of ``src`` (False where the
    filesystem or the platform has no reflinks)."""
    if sys.platform == "win32":
        return False
    try:
        fcntl.ioctl(dst, _FICLONE, src)
    except OSError:
        return False
    return True


def unshare(path: str) -> None:
    """Give ``path`` an inode of its own (a hard-linked file becomes a private copy)."""
    if not os.path.exists(path):
        return
    staged = sibling(path, "new")
    try:
        shutil.copyfile(path, staged)
        os.replace(staged, path)
    except BaseException:
        _remove(staged)
        raise


def clone_tree(src: str, dst: str) -> None:
    """Copy the folder ``src`` to ``dst``, files as hard links (metadata JSON as copies).

    Where hard links are refused (another filesystem, no support) files are copied.
    """

    def link(a: str, b: str) -> None:
        if os.path.basename(a) in ("zarr.json", ".zarray", ".zgroup", ".zattrs"):
            shutil.copyfile(a, b)
            return
        try:
            os.link(a, b)
        except OSError:
            shutil.copyfile(a, b)

    shutil.copytree(src, dst, copy_function=link)


def check_room(path: str, needed: int, where: str) -> None:
    """Raise ``StoreError`` (ENOSPC) before writing when the disk lacks ``needed`` bytes."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        stat = os.statvfs(folder)
    except (OSError, AttributeError):  # no statvfs (Windows) or no folder: let the write tell
        return
    free = stat.f_bavail * stat.f_frsize
    if free < needed:
        raise StoreError(
            errno.ENOSPC,
            f"{where}: the save needs about {needed} bytes of free disk space; got {free} "
            "free on the device. Nothing was written: free some space and save again",
        )


def recover_under_lock(
    lock: Callable[[], contextlib.AbstractContextManager[Any]],
    what: str,
    needed: Callable[[], bool],
    recover: Callable[[], None],
) -> None:
    """Run ``recover`` while ``needed()``, holding the target's lock ``lock()`` (readers).

    A reader that finds what a killed save left (a commit record, an undo journal) must
    not repair it while the writer may still be alive: it takes the lock first, so it
    either waits for a live writer (which finishes and clears it) or repairs what a dead
    one left.

    Parameters
    ----------
    lock : callable
        Returns the target's writer lock (a context manager raising
        ``StoreLockedError`` while another process holds it).
    what : str
        The target, for messages.
    needed, recover : callable
        Whether there is something to repair; the repair.

    Raises
    ------
    StoreLockedError
        If a live writer held the lock for about ``LOCK_WAIT`` seconds.
    """
    deadline = time.monotonic() + LOCK_WAIT
    while needed():
        with contextlib.ExitStack() as stack:
            try:
                stack.enter_context(lock())
            except StoreLockedError as err:  # a live writer holds it
                if time.monotonic() > deadline:
                    raise StoreLockedError(
                        f"{what}: expected the writer's lock to be free to finish an "
                        f"interrupted save; got it held for {LOCK_WAIT:g} s ({err})"
                    ) from err
                time.sleep(0.01)
                continue
            if needed():
                recover()
            return


def is_no_space(err: BaseException) -> bool:
    """Whether ``err`` reports a full disk (ENOSPC), raw or in h5py's words (h5py raises
    ``OSError`` or ``RuntimeError`` with ``errno = 28`` in the message)."""
    if not isinstance(err, (OSError, RuntimeError)):
        return False
    text = str(err)
    return (
        getattr(err, "errno", None) == errno.ENOSPC
        or "No space left on device" in text
        or "errno = 28," in text
    )


@contextlib.contextmanager
def translate_no_space(where: str) -> Iterator[None]:
    """Turn a raw ENOSPC ``OSError`` into a :class:`StoreError` naming the target.

    The error keeps ``errno == errno.ENOSPC``; its cause is the original error. Other
    errors pass unchanged.

    Parameters
    ----------
    where : str
        The target (path, and dataset), for the message.

    Raises
    ------
    StoreError
        For a full disk met in the block.

    Examples
    --------
    >>> import errno
    >>> from grumpy_arrow.savers.files import translate_no_space
    >>> try:
    ...     with translate_no_space("results.zarr::scores"):
    ...         raise OSError(errno.ENOSPC, "No space left on device")
    ... except OSError as err:
    ...     print(type(err).__name__, err.errno, str(err)[:61])
    StoreError 28 [Errno 28] results.zarr::scores: the save needs free space on
    """
    try:
        yield
    except OSError as err:
        if not is_no_space(err) or (isinstance(err, StoreError) and err.errno == errno.ENOSPC):
            raise  # not a full disk, or already a saver's ENOSPC error naming the target
        raise StoreError(
            errno.ENOSPC,
            f"{where}: the save needs free space on the disk; got ENOSPC (no space left on "
            f"the device: {err}). The save did not complete: free some space and save again",
        ) from err
