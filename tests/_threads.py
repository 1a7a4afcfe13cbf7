"""Test helper: run a function on several threads at once and collect what they raised."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any


def run_threads(work: Callable[[Any], None], args: Iterable[Any]) -> list[BaseException]:
    """``work(a)`` on one thread per ``a``, all started before any is joined; the
    exceptions they raised (an assertion in a thread would otherwise only be printed)."""
    errors: list[BaseException] = []

    def guarded(a: Any) -> None:
        try:
            work(a)
        except BaseException as err:  # reported to the caller
            errors.append(err)

    threads = [threading.Thread(target=guarded, args=(a,)) for a in args]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors
