"""The interface every lazy store reader offers: :class:`~grumpy_arrow.storage.handle.Handle`
(one store) and :class:`~grumpy_arrow.storage.shards.ShardedHandle` (a sharded dataset).

Code that reads stores (streams, fragments, the PyTorch datasets, the command line) is
written against :class:`StoreReader`, so both kinds work everywhere; a test checks that
both classes implement every member.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from grumpy_arrow.storage.fragments import Fragment
    from grumpy_arrow.storage.manifest import Manifest

__all__ = ["StoreReader"]


@runtime_checkable
class StoreReader(Protocol):
    """A lazy, picklable view of a store: metadata at once, rows on demand."""

    @property
    def manifest(self) -> Manifest: ...

    @property
    def kind(self) -> str: ...

    @property
    def columns(self) -> list[str]: ...

    @property
    def schema(self) -> Any: ...

    def __len__(self) -> int: ...

    def __getitem__(self, key: Any) -> Any: ...

    def shape(self, dim: Any = 0) -> Any: ...

    def take(
        self, indices: Any, columns: list[str] | None = None, *, squeeze: bool = False
    ) -> Any: ...

    def read(
        self, i: int, *, ranges: dict[str, slice] | None = None, columns: list[str] | None = None
    ) -> Any: ...

    def load(self) -> Any: ...

    def stats(self) -> dict[str, int]: ...

    def fragments(self, rows_per_fragment: int | None = None) -> list[Fragment]: ...
