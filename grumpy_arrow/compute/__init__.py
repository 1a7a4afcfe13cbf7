"""Kernels over layout nodes: gathering, broadcasting, elementwise maths, reductions,
indexing, sorting, strings and structural operations. Arrays call into these; nothing here
knows about :class:`~grumpy_arrow.array.GrumpyArray`."""
