"""What the lazy views of a store and of a sharded dataset share.

:class:`~grumpy_arrow.storage.handle.Handle` (one store) and
:class:`~grumpy_arrow.storage.shards.ShardedHandle` (a sharded dataset) have one
interface. Both keep the path, the options they were opened with
(:func:`handle_options`) and the columns of the view, and pickle as those (a new process
opens the store again); both describe their rows with one manifest (for a dataset, the
shards' common one). :class:`StoreView` holds what follows from that: the metadata
properties, ``h[key]``, column views and :meth:`~StoreView.take`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self

from grumpy_arrow.errors import SchemaError
from grumpy_arrow.frame.schema import parse_schema
from grumpy_arrow.storage.keys import select
from grumpy_arrow.storage.manifest import Manifest
from grumpy_arrow.storage.stores import check_column_names
from grumpy_arrow.storage.zarr import ChunkCache

if TYPE_CHECKING:
    from grumpy_arrow.storage.zarr import LeafStore

__all__ = ["StoreView", "chunk_cache", "handle_options"]

_UNSET: Any = object()


def handle_options(
    cache: str, cache_bytes: int, storage_options: dict[str, Any] | None
) -> dict[str, Any]:
    """What a handle keeps (and pickles) to open its store again."""
    return {"cache": cache, "cache_bytes": cache_bytes, "storage_options": storage_options}


def chunk_cache(options: dict[str, Any]) -> ChunkCache | None:
    """The chunk cache a handle's options ask for (None for ``cache="none"``)."""
    budget = options["cache_bytes"] if options["cache"] == "chunks" else 0
    return ChunkCache(int(budget)) if budget else None


class StoreView:
    """The members :class:`~grumpy_arrow.storage.handle.Handle` and
    :class:`~grumpy_arrow.storage.shards.ShardedHandle` share (see the module docstring).

    A subclass opens its store in ``__init__`` and :meth:`_reopen` (after unpickling),
    setting ``_store`` and ``_manifest``, and reads rows in :meth:`_take`.
    """

    _store: LeafStore
    _manifest: Manifest
    _schema: Any = _UNSET  # parsed on first use

    def __init__(self, path: Any, options: dict[str, Any], columns: list[str] | None) -> None:
        self._path = path
        self._options = options
        self._columns = columns

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self._path, "options": self._options, "columns": self._columns}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._path, self._options, self._columns = state["path"], state["options"], state["columns"]
        self._reopen(state)

    def _reopen(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    # -- metadata ---------------------------------------------------------------------

    @property
    def kind(self) -> str:
        """The kind of store: ``"array"`` or ``"dataframe"``.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.save(gr.array([[1, 2], [3]]), "memory://kind.gr")
        >>> gr.open("memory://kind.gr").kind
        'array'
        """
        return self._manifest.kind

    def __len__(self) -> int:
        return self._manifest.rows

    @property
    def columns(self) -> list[str]:
        """The frame's columns (those of this view).

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> gr.save(gr.dataframe({"id": [1, 2], "x": [[0.5], []]}), "memory://columns.gr")
        >>> h = gr.open("memory://columns.gr")
        >>> h.columns, h["x"].columns
        (['id', 'x'], ['x'])
        """
        if self._columns is not None:
            return list(self._columns)
        return [c.name for c in self._manifest.columns]

    @property
    def schema(self) -> Any:
        """The frame's schema (None for arrays and frames without one).

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, 2], "atom_q": [[0.5, -0.5], [1.0]]},
        ...                   schema=["mol", "atom"])
        >>> gr.save(df, "memory://schema.gr")
        >>> gr.open("memory://schema.gr").schema
        Schema(['mol', 'atom'])
        """
        if self._schema is _UNSET:
            self._schema = parse_schema(self._manifest.schema)
        return self._schema

    # -- reads ------------------------------------------------------------------------

    def __getitem__(self, key: Any) -> Any:
        return select(self, key)

    def _check_view(self, columns: list[str]) -> None:
        """Raise unless ``columns`` are columns of this frame."""
        if self._manifest.kind == "array":
            raise SchemaError(f"{self._store.url}: column views apply to frames")
        check_column_names([c.name for c in self._manifest.columns], columns, self._store.url)

    def _view(self, columns: list[str]) -> Self:
        """A view of ``columns``, sharing what this one has opened and read."""
        self._check_view(columns)
        out = type(self).__new__(type(self))
        out.__dict__.update(self.__dict__)
        out._columns = list(columns)
        return out

    def take(self, indices: Any, columns: list[str] | None = None, *, squeeze: bool = False) -> Any:
        """The rows at ``indices`` (any order) as an in-memory array or frame.

        With ``squeeze`` (what ``h[i]`` uses) an array store gives the row itself, as
        ``x[i]`` does; a frame store gives a one-row frame, as ``df[i]`` does.

        Parameters
        ----------
        indices : int, slice, array-like of int or bool mask
            The rows (repeats allowed; negative count from the end).
        columns : list of str, optional
            The columns to read (default: this view's).
        squeeze : bool, default False
            For an int of an array store, the row itself.

        Returns
        -------
        GrumpyArray, DataFrame or row
            The rows, in the order asked.

        Raises
        ------
        OutOfBoundsError
            For a row outside the store.
        ColumnNotFoundError
            For a name in ``columns`` the store does not have.

        Examples
        --------
        >>> import grumpy_arrow as gr
        >>> df = gr.dataframe({"mol_id": [1, 2, 3], "atom_q": [[0.5, -0.5], [1.0], [0.1]]})
        >>> gr.save(df, "memory://take.gr")
        >>> h = gr.open("memory://take.gr")
        >>> h.take([2, 0]).to_dict()
        {'mol_id': [3, 1], 'atom_q': [[0.1], [0.5, -0.5]]}
        >>> h.take([1], columns=["atom_q"]).to_dict()
        {'atom_q': [[1.0]]}
        """
        out = self._take(indices, columns)
        if squeeze and self._manifest.kind == "array":
            return out[0]
        return out

    def _take(self, indices: Any, columns: list[str] | None) -> Any:
        raise NotImplementedError
