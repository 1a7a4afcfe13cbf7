"""The saver conformance suite: ``SaverTests``, one pytest base class for every saver.

Needs the optional ``pytest`` dependency: ``pip install 'grumpy_arrow[test]'``.

grumpy_arrow runs this suite on each of its savers (``ZarrSaver``, ``HDF5Saver``,
``NumpySaver``, ``GrumpySaver``). Your own :class:`~grumpy_arrow.savers.Saver` runs the
same tests when a test module subclasses :class:`SaverTests` for it, as zarr-python's stores
run ``zarr.testing.store.StoreTests``.

Examples
--------
>>> from grumpy_arrow.testing.savers import SaverTests
>>> SaverTests.supports_update, SaverTests.strings
(True, 'any-length')
"""

from __future__ import annotations

import importlib.util

# exercised by a test with pytest hidden (tests/test_savers.py)
if importlib.util.find_spec("pytest") is None:
    raise ImportError(
        "grumpy_arrow.testing.savers needs pytest; install it with pip install 'grumpy_arrow[test]'"
    )

from grumpy_arrow.testing.savers.base import Make, rows_of
from grumpy_arrow.testing.savers.rows import RowTests
from grumpy_arrow.testing.savers.rules import RuleTests
from grumpy_arrow.testing.savers.strings import StringTests

__all__ = ["Make", "SaverTests", "rows_of"]


class SaverTests(RowTests, RuleTests, StringTests):
    """The contract every saver keeps, as a pytest base class to subclass per saver.

    A subclass named ``Test...`` in a test module runs every test below on its saver. Each
    test builds a **new saver instance for every call** (the ``make`` fixture), so each
    call re-opens the target: nothing passes because state was cached in one object. Every
    check is exact: values, dtypes and shapes by ``load()`` (and by the plain library,
    where the subclass gives :meth:`plain`), and a refused call leaves the target's files
    byte-identical (lock files aside).

    Covered: approach parsing (case, spaces, the setter, the ``ValueError`` listing the
    three) and ``repr``; appends of lists, NumPy arrays of any rank, ``GrumpyArray``\\ s,
    ragged rows, many batches == one save, empty batches; overwrites; updates with every
    index form; refused calls (bad indices, dtype kinds, row shapes, unknown options);
    the ``dtype`` option; threads; the lock file against another live process and a dead
    one's; strings and bytes of any length.

    Attributes
    ----------
    saver_cls : type
        The class of the savers :meth:`new` returns (required).
    supports_overwrite, supports_update : bool
        Whether the saver takes ``approach="overwrite"`` / ``"update"`` (default True;
        False skips the tests that need it).
    supports_ragged : bool
        Whether ragged rows are stored and loaded as a ``GrumpyArray`` (default True).
    strings : {"any-length", "fixed-width", None}
        How ``load`` gives back ``str`` / ``bytes``: NumPy ``object`` arrays (default),
        NumPy ``<U`` / ``S`` arrays as wide as the first batch needs, or ``None`` to skip
        the string tests.
    strict_shapes : bool
        Rows of another shape are refused with ``SchemaError`` (default True).
    ragged_update_resizes : bool
        An update may change a ragged row's length (default False: refused).
    KNOWN_BUGS : dict
        Test id (``request.node.name``) -> reason: the test is ``xfail(strict=True)``.
    WIDENED : dict
        Refused-call case id -> the rows after it, for a saver that widens the stored
        type instead of refusing.

    Notes
    -----
    Hooks to implement: :meth:`target` (the path in pytest's ``tmp_path``) and :meth:`new`
    (a saver of that path for an approach and a dataset name). Optional: :meth:`lock_file`
    (the file the saver ``flock``\\ s while writing; without it the lock tests skip),
    :meth:`plain` (rows and dtype read without grumpy_arrow; without it only ``load`` is
    checked) and :meth:`as_numpy` (a rectangular ``load()`` as NumPy).

    The saver's ``load()`` must raise
    :class:`~grumpy_arrow.errors.DatasetNotFoundError` when nothing was saved, and
    messages are checked against grumpy_arrow's (``"indices repeat a row"``...): mark a
    deliberate difference in ``KNOWN_BUGS`` or override that test.

    Examples
    --------
    In a test module (``test_my_saver.py``), where ``MySaver`` writes one ``.npy`` file:

    >>> from grumpy_arrow.savers import NumpySaver as MySaver
    >>> from grumpy_arrow.testing.savers import SaverTests
    >>> class TestMySaver(SaverTests):
    ...     saver_cls = MySaver
    ...     strings = "fixed-width"
    ...
    ...     def target(self, tmp_path):
    ...         return str(tmp_path / "results.npy")
    ...
    ...     def new(self, target, approach, name):
    ...         return MySaver(target, approach=approach)
    ...
    ...     def lock_file(self, saver):
    ...         return f"{saver.path}.lock"

    ``pytest test_my_saver.py`` then runs every test. One by hand, with the ``make`` that
    the fixture of that name builds from the two hooks:

    >>> import pathlib, tempfile
    >>> suite = TestMySaver()
    >>> target = suite.target(pathlib.Path(tempfile.mkdtemp()))
    >>> def make(approach="append", name="dataset"):
    ...     return suite.new(target, approach, name)
    >>> suite.test_update_seed_example(make)
    >>> make().load().tolist()
    [0, 0, 99, 0, 0, 88, 0, 0, 77, 0]
    """
