# The segment layout's tables (the type table's Python face, section names, magics), the value
# helpers they need, and the nogil walk of a directory read in place.
# segment.pyx binds a file with them; validate.pyx and lookups.pyx share them.

cdef str _type_name(int code):
    return rd_type(code).name.decode("ascii")


# The type table (includes/rodata_types.h) as Python sees it, built once from the C rows.
_LAYOUTS = {LAYOUT_FIXED: "fixed", LAYOUT_VARWIDTH: "varwidth", LAYOUT_VECTOR: "vector"}
TYPE_TABLE = tuple({
    "code": rd_type(code).code,
    "name": _type_name(code),
    "layout": _LAYOUTS[rd_type(code).layout],
    "itemsize": rd_type(code).itemsize,
    "dtype": rd_type(code).dtype.decode("ascii") or None,
    "key": bool(rd_type(code).key),
    "limits": (rd_type(code).lo, rd_type(code).hi) if rd_type(code).ranged else None,
} for code in range(1, NTYPES + 1))
cdef dict _TYPE_CODES = {_type_name(code): code for code in range(1, NTYPES + 1)}   # schema name -> code
cdef dict _DTYPES = {code: np.dtype(rd_type(code).dtype.decode("ascii"))           # code -> numpy dtype
                     for code in range(1, NTYPES + 1) if rd_type(code).dtype[0] != 0}
cdef dict _SECTION_NAMES = {
    SEC_SCHEMA: "schema", SEC_VALIDITY: "validity", SEC_DATA: "data", SEC_OFFSETS: "offsets",
    SEC_INDEX: "index",
}
cdef bytes HEADER_MAGIC = b"\x89RODATA\n"
cdef bytes TRAILER_MAGIC = b"RODATEND"
cdef uint64_t KEY_SEED = 0
_UTC = datetime.timezone.utc
_np_bool = np.bool_
_np_integer = np.integer


cdef inline int64_t _floordiv(int64_t a, int64_t b) noexcept nogil:
    cdef int64_t q = a // b   # C division truncates toward zero (cdivision): correct it to floor
    if (a % b != 0) and ((a < 0) != (b < 0)):
        q -= 1
    return q


cdef object _timestamp(int64_t ns):
    """Nanoseconds since the epoch as an aware UTC datetime, floored to microseconds (its resolution)."""
    cdef int64_t us = _floordiv(ns, 1000)
    cdef int64_t days = _floordiv(us, 86400000000)
    cdef int64_t rest = us - days * 86400000000
    cdef int year, month, day
    rd_civil_from_days(days, &year, &month, &day)
    return datetime_new(year, month, day, <int>(rest // 3600000000), <int>(rest // 60000000 % 60),
                        <int>(rest // 1000000 % 60), <int>(rest % 1000000), _UTC)


cdef Py_ssize_t _first_past(const int64_t[::1] rows, Py_ssize_t nrows) noexcept nogil:
    """The index of the first row number >= `nrows` in `rows`, else -1."""
    cdef Py_ssize_t i
    for i in range(rows.shape[0]):
        if rows[i] >= nrows:
            return i
    return -1


def section_name(int kind):
    return _SECTION_NAMES.get(kind, f"kind {kind}")


cdef inline bint _known_kind(uint16_t kind) noexcept nogil:
    return SEC_SCHEMA <= kind <= SEC_INDEX


cdef Py_ssize_t _check_directory(const DirEntry *entries, Py_ssize_t count, uint64_t dir_off, unsigned minor,
                                 Py_ssize_t *known, bint *unknown) noexcept nogil:
    """The first misplaced entry, or one of a kind unknown to a file of this minor version
    (`unknown` set), else -1.  Entries are in file order, 64-aligned, non-overlapping and
    end before the directory."""
    cdef uint64_t prev_end = HEADER_SIZE
    cdef Py_ssize_t i
    cdef const DirEntry *e
    for i in range(count):
        e = &entries[i]
        if not _known_kind(e.kind):
            if minor <= FORMAT_MINOR:
                unknown[0] = True
                return i
        else:
            known[0] += 1
        if e.offset % ALIGN != 0 or e.offset < prev_end or not span_ok(dir_off, e.offset, e.length):
            return i
        prev_end = e.offset + e.length
    return -1
