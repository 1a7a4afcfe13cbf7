"""Savers: persist results batch by batch to Zarr, HDF5, ``.npy`` or grumpy stores.

>>> import os, tempfile
>>> from grumpy_arrow.savers import NumpySaver
>>> path = os.path.join(tempfile.mkdtemp(), "values.npy")
>>> saver = NumpySaver(path, approach="overwrite")
>>> saver.save([0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
>>> saver.approach = "update"
>>> saver.save([99, 88, 77], indices=[2, 5, 8])
>>> import numpy as np
>>> np.load(path).tolist()
[0, 0, 99, 0, 0, 88, 0, 0, 77, 0]
"""

from __future__ import annotations

from grumpy_arrow.savers.base import APPROACHES, Saver
from grumpy_arrow.savers.grumpy import GrumpySaver
from grumpy_arrow.savers.hdf5 import HDF5Saver
from grumpy_arrow.savers.npy import NumpySaver
from grumpy_arrow.savers.zarr import ZarrSaver

__all__ = ["APPROACHES", "GrumpySaver", "HDF5Saver", "NumpySaver", "Saver", "ZarrSaver"]
