"""Streaming batches for training: plans, prefetch, ordered parallel transforms, resume,
and weighted mixes of several streams."""

from grumpy_arrow.streaming.mix import Mix, mix
from grumpy_arrow.streaming.stream import Stream, stream

__all__ = ["Mix", "Stream", "mix", "stream"]
