"""The one thing pyproject.toml cannot say: the optional compiled kernels.

``grumpy_arrow._kernels`` (grumpy_arrow/_kernels.c, Python's C API only) is built when a C
compiler is present; without one the build skips it and ``grumpy_arrow._native`` uses NumPy
(docs/architecture.md, "Compiled kernels").
"""

import sys

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "grumpy_arrow._kernels",
            sources=["grumpy_arrow/_kernels.c"],
            optional=True,  # no compiler: install without it
            extra_compile_args=[] if sys.platform == "win32" else ["-O3"],
        )
    ]
)
