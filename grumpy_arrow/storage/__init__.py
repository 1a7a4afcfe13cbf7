"""Zarr v3 stores: one 1-D Zarr array per Arrow buffer plus a ``grumpy.json`` manifest."""

from grumpy_arrow.storage.api import append, load, open_store, save
from grumpy_arrow.storage.fragments import Fragment
from grumpy_arrow.storage.handle import Handle
from grumpy_arrow.storage.shard_writer import ShardedWriter
from grumpy_arrow.storage.shards import ShardedHandle, consolidate
from grumpy_arrow.storage.upgrade import upgrade
from grumpy_arrow.storage.validate import store_info, validate

__all__ = [
    "Fragment",
    "Handle",
    "ShardedHandle",
    "ShardedWriter",
    "append",
    "consolidate",
    "load",
    "open_store",
    "save",
    "store_info",
    "upgrade",
    "validate",
]
