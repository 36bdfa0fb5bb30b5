"""One thread for NumPy's BLAS and OpenMP pools: a server process is one core.

Environment variables only work for libraries loaded after they are set, and
NumPy is already imported when a command runs, so the pools of libraries
already loaded are also resized through their own C functions."""

from __future__ import annotations

import ctypes
import os
import re

__all__ = ["THREAD_ENV_VARS", "limit_native_threads", "native_thread_counts"]

THREAD_ENV_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                   "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
_LIBRARY_RE = re.compile(r"\s(/\S*(?:openblas|libgomp|libiomp|mkl_rt|libblis)\S*\.so[^\s]*)$", re.M)
# (setter, getter) symbol names, tried in order, per library family.
_SYMBOLS = {
    "openblas": [("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
                 ("openblas_set_num_threads64_", "openblas_get_num_threads64_"),
                 ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
                 ("openblas_set_num_threads", "openblas_get_num_threads")],
    "omp": [("omp_set_num_threads", "omp_get_max_threads")],
    "mkl": [("MKL_Set_Num_Threads", "MKL_Get_Max_Threads")],
    "blis": [("bli_thread_set_num_threads", "bli_thread_get_num_threads")],
}


def _loaded_libraries() -> list[str]:
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            maps = fh.read()
    except OSError:
        return []
    return sorted(set(_LIBRARY_RE.findall(maps)))


def _family(path: str) -> str:
    name = os.path.basename(path)
    if "openblas" in name:
        return "openblas"
    if "gomp" in name or "iomp" in name:
        return "omp"
    return "mkl" if "mkl" in name else "blis"


def _calls(path: str) -> tuple[ctypes.CDLL, str, str] | None:
    try:
        lib = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
    except OSError:
        return None
    for setter, getter in _SYMBOLS[_family(path)]:
        if hasattr(lib, setter) and hasattr(lib, getter):
            return lib, setter, getter
    return None


def native_thread_counts() -> dict[str, int]:
    """Threads each loaded BLAS/OpenMP library will use, by library path."""
    out = {}
    for path in _loaded_libraries():
        found = _calls(path)
        if found is not None:
            lib, _, getter = found
            out[path] = int(getattr(lib, getter)())
    return out


def limit_native_threads(threads: int = 1) -> dict[str, int]:
    """Set every BLAS/OpenMP pool (loaded now or later) to `threads`; returns :func:`native_thread_counts`."""
    for var in THREAD_ENV_VARS:
        os.environ[var] = str(threads)
    for path in _loaded_libraries():
        found = _calls(path)
        if found is not None:
            lib, setter, _ = found
            getattr(lib, setter)(ctypes.c_int(threads))
    return native_thread_counts()
