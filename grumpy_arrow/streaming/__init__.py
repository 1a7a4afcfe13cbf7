"""Streaming batches for training: plans, prefetch, ordered parallel transforms, resume."""

from grumpy_arrow.streaming.stream import Stream, stream

__all__ = ["Stream", "stream"]
