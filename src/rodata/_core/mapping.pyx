# Mapping: owns one read-only mmap and exports it through the buffer protocol.

cdef class Mapping:

    def __cinit__(self, path):
        self.addr = NULL
        self.size = 0
        self.path = os.fspath(path)
        # O_NONBLOCK: opening a FIFO put in a part's place must not wait for a writer.
        cdef int fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        cdef void *addr
        cdef size_t size
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise FormatError(f"{self.path}: not a regular file")
            self.identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            if st.st_size < HEADER_SIZE + TRAILER_SIZE:
                raise FormatError(
                    f"{self.path}: file: {st.st_size} bytes is shorter than a header and a trailer "
                    f"({HEADER_SIZE + TRAILER_SIZE} bytes) at offset 0"
                )
            size = <size_t>st.st_size
            with nogil:
                addr = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0)
            if addr == MAP_FAILED:
                raise OSError(errno.errno, f"mmap failed: {os.strerror(errno.errno)}", self.path)
            self.addr = <const char *>addr
            self.size = size
        finally:
            os.close(fd)
        self.shape[0] = <Py_ssize_t>self.size
        self.strides[0] = 1

    def __dealloc__(self):
        cdef void *addr = <void *>self.addr
        self.addr = NULL
        if addr != NULL:
            # Tearing down the page tables of a large, faulted-in mapping takes tens of
            # milliseconds: not with the GIL held, or the server's loop stalls for it.
            with nogil:
                munmap(addr, self.size)

    def __len__(self):
        return self.size

    def advise(self, str how):
        """madvise the whole mapping: 'willneed' (prefault), 'random' or 'sequential'."""
        cdef int advice
        if how == "willneed":
            advice = MADV_WILLNEED
        elif how == "random":
            advice = MADV_RANDOM
        elif how == "sequential":
            advice = MADV_SEQUENTIAL
        else:
            raise ValueError(f"unknown advice {how!r}")
        if madvise(<void *>self.addr, self.size, advice) != 0:
            raise OSError(errno.errno, os.strerror(errno.errno), self.path)

    def __getbuffer__(self, Py_buffer *view, int flags):
        if flags & PyBUF_WRITABLE:
            raise BufferError("a rodata mapping is read-only")
        view.buf = <void *>self.addr
        view.obj = self
        view.len = <Py_ssize_t>self.size
        view.readonly = 1
        view.itemsize = 1
        view.format = NULL
        if flags & PyBUF_FORMAT:
            view.format = b"B"
        view.ndim = 1
        view.shape = self.shape if (flags & PyBUF_ND) else NULL
        view.strides = self.strides if (flags & PyBUF_STRIDES) == PyBUF_STRIDES else NULL
        view.suboffsets = NULL
        view.internal = NULL

    def __releasebuffer__(self, Py_buffer *view):
        pass
