"""Optional dependencies: imported where they are used, with one error when missing.

Every optional dependency (h5py, torch, dask, ray, polars, numba, tqdm, Pillow, msgpack)
is imported through :func:`require`, the package's one place for such imports: the module
is loaded on first use (``import grumpy_arrow`` stays light), and a missing one raises an
``ImportError`` that says what needed it and how to install it.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["require"]


def require(module: str, *, what: str, install: str, package: str | None = None) -> ModuleType:
    """Import ``module`` (an optional dependency) or say how to install it.

    Parameters
    ----------
    module : str
        The module to import (``"h5py"``, ``"dask.dataframe"``...).
    what : str
        What needs it, for the message (``"HDF5Saver"``).
    install : str
        The pip arguments that install it (``"'grumpy_arrow[hdf5]'"``).
    package : str, optional
        The distribution's name when it differs from the module's (``"Pillow"`` for
        ``PIL``); the message names it.

    Returns
    -------
    module
        The imported module.

    Raises
    ------
    ImportError
        ``"<what> needs <package>: pip install <install>"`` when it is missing
        (``package`` defaults to the top-level module's name).

    Examples
    --------
    >>> from grumpy_arrow._optional import require
    >>> require("json", what="this example", install="nothing").__name__
    'json'
    >>> require("no_such_module", what="this example", install="'grumpy_arrow[all]'")
    Traceback (most recent call last):
    ...
    ImportError: this example needs no_such_module: pip install 'grumpy_arrow[all]'
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        name = package or module.split(".")[0]
        raise ImportError(f"{what} needs {name}: pip install {install}") from err
