# The one writer of an answer's bytes on the connection: the status line, the server's default
# headers (the date), the reply's headers, ``connection: close`` when the connection ends after
# it, and the body when it is one bytes object, all in one bytes object for one transport write.
# The headers are the ones uvicorn's ASGI path writes for the same reply, in the same order.

cdef bytes CLOSE_HEADER = b"connection: close\r\n"
cdef bytes CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


cdef class Defaults:
    """The server's default headers (uvicorn renews the date header's list every second) as the
    bytes of a head, remade only when the list changes."""

    cdef object source
    cdef bytes head

    def __cinit__(self):
        self.source = None
        self.head = b""

    cdef bytes of(self, list headers):
        if headers is not self.source:
            self.head = b"".join([name + b": " + value + b"\r\n" for name, value in headers])
            self.source = headers
        return self.head


cdef inline char* _put(char* out, bytes data) noexcept:
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    memcpy(out, PyBytes_AS_STRING(data), n)
    return out + n


cdef bytes head_and_body(int status, bytes defaults, list headers, bint close, object body):
    """The answer's head, and `body` after it when `body` is bytes (None: the head alone).
    Every header name and value must be bytes (the handlers' replies always are)."""
    cdef bytes line = STATUS_LINE[status]
    cdef Py_ssize_t size = PyBytes_GET_SIZE(line) + PyBytes_GET_SIZE(defaults) + 2
    cdef object pair
    for pair in headers:
        if type(pair) is not tuple or PyTuple_GET_SIZE(pair) != 2:
            raise TypeError("a reply header is a (name, value) pair of bytes")
        name = <object>PyTuple_GET_ITEM(pair, 0)
        value = <object>PyTuple_GET_ITEM(pair, 1)
        if type(name) is not bytes or type(value) is not bytes:
            raise TypeError("a reply header is a (name, value) pair of bytes")
        size += PyBytes_GET_SIZE(<bytes>name) + PyBytes_GET_SIZE(<bytes>value) + 4
    if close:
        size += PyBytes_GET_SIZE(CLOSE_HEADER)
    if body is not None:
        size += PyBytes_GET_SIZE(<bytes>body)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, size)
    cdef char* at = PyBytes_AS_STRING(out)
    at = _put(at, line)
    at = _put(at, defaults)
    for pair in headers:
        at = _put(at, <bytes>PyTuple_GET_ITEM(pair, 0))
        at[0] = b':'
        at[1] = b' '
        at = _put(at + 2, <bytes>PyTuple_GET_ITEM(pair, 1))
        at[0] = b'\r'
        at[1] = b'\n'
        at += 2
    if close:
        at = _put(at, CLOSE_HEADER)
    at[0] = b'\r'
    at[1] = b'\n'
    at += 2
    if body is not None:
        _put(at, <bytes>body)
    return out
