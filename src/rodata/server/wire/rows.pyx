# The row route's common request, answered without a Python object per request but the answer:
# ``GET /v1/datasets/{name}/rows/{key}`` with a plain name and key (no percent-encoding) and at
# most a plain ``columns=`` parameter, a key that is there, no If-None-Match.  Everything about a
# (dataset, columns) pair that does not change between requests (the compiled plan, the version
# header, the ETag prefix) is made once, by the same functions the row handler uses, and cached
# until the dataset's version changes (rodata.server.rowtargets makes them).  Any other request returns None here and is answered by
# the row handler itself: misses, errors, HEAD and 304s, so every answer is the handler's (the
# differential test holds the two to the same bytes).

cdef bytes _PREFIX = b"/v1/datasets/"
cdef bytes _ROWS = b"rows/"
cdef bytes _COLUMNS = b"columns="
cdef bytes _TYPE_AND_LENGTH = b"content-type: application/json\r\ncontent-length: "
cdef bytes _ETAG = b"etag: "
cdef bytes _OK = STATUS_LINE[200]
cdef int _MAX_CACHED = 4096


cdef class _RowTarget:
    """What the answers of one dataset version and one projection share."""

    cdef object ds_ref, plan, columns_text  # the dataset by a weak reference: a version swapped out
    cdef bint single                          # is unmapped when its last answer is gone, not kept here
    cdef str name
    cdef bint string_key
    cdef bytes version_header  # b"\r\nx-rodata-version: V\r\n", after the content-length digits
    cdef bytes etag_prefix  # b'"V.', or None when the version has no name (no ETag)


cdef class Rows:
    """The cache of row targets of one server, and the answers made from them."""

    cdef object catalog, make, etag, _serving
    cdef dict targets  # (name, columns text or None) -> _RowTarget

    def __cinit__(self, catalog, make, etag):
        """`make(catalog, name, columns)`: a target's parts (rodata.server.rowtargets.row_target);
        `etag(ds, key text, columns text)`: the row handler's ETag."""
        self.catalog = catalog
        self._serving = catalog.get
        self.make = make
        self.etag = etag
        self.targets = {}

    cdef tuple _target(self, bytes name, bytes columns):
        """The target for dataset `name` (raw, without '%') and ``columns=`` (raw, or None) and the
        dataset being served, the target remade when the dataset's version changed; None when the
        handler must answer."""
        cdef object key = (name, columns)
        cdef _RowTarget target = self.targets.get(key)
        if target is not None:
            ds = target.ds_ref()
            if ds is not None and self._serving(target.name) is ds:
                return target, ds
            del self.targets[key]
        return self._make(key, name, columns)

    cdef tuple _make(self, object key, bytes name, bytes columns):
        made = self.make(self.catalog, name, columns)
        if made is None:
            return None
        cdef _RowTarget target = _RowTarget.__new__(_RowTarget)
        (ds, target.name, target.plan, target.columns_text, target.string_key, seg,
         target.version_header, target.etag_prefix) = made
        target.ds_ref = weakref.ref(ds)
        target.single = seg is not None
        if len(self.targets) >= _MAX_CACHED:
            self.targets.clear()
        self.targets[key] = target
        return target, ds

    cdef bytes answer(self, bytes url, bytes defaults, object gate, bytes authorization):
        """The whole answer (200) to a GET of `url`, or None when the row handler must answer
        (a refusal of the `gate` included: it is answered there)."""
        cdef const char* u = PyBytes_AS_STRING(url)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(url), name_end, key_start, key_end, i
        if n <= 13 or memcmp(u, PyBytes_AS_STRING(_PREFIX), 13) != 0:
            return None
        name_end = 13
        while name_end < n and u[name_end] != b'/' and u[name_end] != b'%' and u[name_end] != b'?':
            name_end += 1
        if name_end == 13 or name_end + 6 > n or u[name_end] != b'/' or memcmp(u + name_end + 1, b"rows/", 5) != 0:
            return None
        key_start = name_end + 6
        key_end = key_start
        while key_end < n and u[key_end] != b'?':
            if u[key_end] == b'/' or u[key_end] == b'%':
                return None
            key_end += 1
        if key_end == key_start:
            return None
        cdef bytes columns = None
        if key_end < n:
            i = key_end + 1  # the query: nothing, or one plain columns=
            if n - i <= 8 or memcmp(u + i, b"columns=", 8) != 0:
                return None
            for i in range(key_end + 9, n):
                if u[i] == b'&' or u[i] == b'%' or u[i] == b'+' or u[i] == b'=':
                    return None
            columns = url[key_end + 9:]
        found = self._target(url[13:name_end], columns)
        if found is None:
            return None
        cdef _RowTarget target = <_RowTarget>found[0]
        ds = found[1]
        if gate is not None and gate.decide(authorization, "row", target.name) is not None:
            return None
        cdef bytes raw = url[key_start:key_end]
        cdef object key
        if target.string_key:
            try:
                key = raw.decode("utf-8")
            except UnicodeDecodeError:
                return None
        else:
            key = _decimal_int64(u + key_start, key_end - key_start)
            if key is None:
                return None
        cdef object seg = ds.single_part if target.single else ds.part_for(key)
        if seg is None:
            return None
        body = get_json(seg, key, target.plan)
        if body is None:
            return None
        cdef bytes tag = None
        if target.etag_prefix is not None:
            if columns is None and PyBytes_GET_SIZE(raw) <= 40 and _alnum(u + key_start, key_end - key_start):
                tag = target.etag_prefix + raw + b'"'
            else:
                tag = self.etag(ds, raw.decode("utf-8"), target.columns_text)
        return _row_answer(defaults, target.version_header, tag, <bytes>body)


cdef inline bint _alnum(const char* s, Py_ssize_t n) noexcept:
    """ASCII letters and digits only (``bytes.isalnum``)."""
    cdef Py_ssize_t i
    cdef char c
    for i in range(n):
        c = s[i]
        if not (b'0' <= c <= b'9' or b'a' <= c <= b'z' or b'A' <= c <= b'Z'):
            return False
    return n > 0


cdef object _decimal_int64(const char* s, Py_ssize_t n):
    """``-?[0-9]{1,19}`` within the int64 range as an int, else None (the handler's 422)."""
    cdef bint negative = n > 0 and s[0] == b'-'
    cdef Py_ssize_t i = 1 if negative else 0
    cdef unsigned long long v = 0, limit = 9223372036854775808ULL if negative else 9223372036854775807ULL
    if n - i < 1 or n - i > 19:
        return None
    for i in range(i, n):
        if s[i] < b'0' or s[i] > b'9':
            return None
        v = v * 10 + <unsigned long long>(s[i] - 48)  # 19 digits fit in 64 unsigned bits
    if v > limit:
        return None
    if negative:
        return -<long long>(v - 1) - 1
    return <long long>v


cdef bytes _row_answer(bytes defaults, bytes version_header, bytes tag, bytes body):
    """``200``, the defaults, content-type, content-length, x-rodata-version, etag, the body:
    the headers of the row handler's reply, in its order."""
    cdef char digits[24]
    cdef Py_ssize_t blen = PyBytes_GET_SIZE(body), nd = 0, v = blen
    while True:
        digits[23 - nd] = <char>(48 + v % 10)
        nd += 1
        v //= 10
        if v == 0:
            break
    cdef Py_ssize_t size = (PyBytes_GET_SIZE(_OK) + PyBytes_GET_SIZE(defaults) + PyBytes_GET_SIZE(_TYPE_AND_LENGTH)
                            + nd + PyBytes_GET_SIZE(version_header) + 2 + blen)
    if tag is not None:
        size += PyBytes_GET_SIZE(_ETAG) + PyBytes_GET_SIZE(tag) + 2
    cdef bytes out = PyBytes_FromStringAndSize(NULL, size)
    cdef char* at = PyBytes_AS_STRING(out)
    at = _put(at, _OK)
    at = _put(at, defaults)
    at = _put(at, _TYPE_AND_LENGTH)
    memcpy(at, &digits[24 - nd], nd)
    at = _put(at + nd, version_header)
    if tag is not None:
        at = _put(at, _ETAG)
        at = _put(at, tag)
        at[0] = b'\r'
        at[1] = b'\n'
        at += 2
    at[0] = b'\r'
    at[1] = b'\n'
    _put(at + 2, body)
    return out
