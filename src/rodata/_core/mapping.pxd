cdef class Mapping:
    """A read-only, shared mmap of a whole file that exports the buffer protocol.

    Every numpy view made from it holds a reference (through its base chain),
    so the pages are unmapped only when the last view is gone."""
    cdef const char *addr
    cdef size_t size
    cdef readonly object path
    cdef readonly tuple identity     # (st_dev, st_ino, st_size, st_mtime_ns) when mapped
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t strides[1]
