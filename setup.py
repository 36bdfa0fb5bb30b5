"""Build the compiled parts: ``rodata._core._codec`` (the segment reader, index and validation) and
``rodata._core._text`` (the ETL's text readers, value parsers and key sorts), made of small ``.pyx``
parts that include the C headers and the column-type table of ``_core/includes``; and
``rodata.server._http``, the HTTP/1.1 protocol (``server/wire/*.pyx``)."""

from __future__ import annotations

import os

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

CORE = os.path.join("src", "rodata", "_core")
DEBUG = os.environ.get("RODATA_DEBUG_BUILD") == "1"

extra_compile_args = ["-O3", "-fno-strict-aliasing", "-Wno-unused-function"]
if DEBUG:
    extra_compile_args = ["-O0", "-g", "-fno-strict-aliasing"]

extensions = [
    Extension(
        "rodata._core._codec",
        [os.path.join(CORE, "_codec.pyx")],
        include_dirs=[np.get_include(), os.path.join(CORE, "includes")],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=extra_compile_args,
    ),
    # The ETL's text readers (CSV, JSON Lines), value parsers and key sorts.
    Extension(
        "rodata._core._text",
        [os.path.join(CORE, "_text.pyx")],
        include_dirs=[np.get_include(), os.path.join(CORE, "includes")],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=extra_compile_args,
    ),
    # The HTTP/1.1 protocol that answers the hot routes on the connection (over httptools).
    Extension(
        "rodata.server._http",
        [os.path.join("src", "rodata", "server", "_http.pyx")],
        extra_compile_args=extra_compile_args,
    ),
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={
            "boundscheck": False,
            "wraparound": False,
            "initializedcheck": False,
            "cdivision": True,
            "embedsignature": True,
        },
        include_path=[CORE],
    )
)
