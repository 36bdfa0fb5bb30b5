# The compiled row renderer (rowjson.pyx): a row's JSON object written from the mapped columns,
# as rodata.encode defines each value's text.  includes/rodata_json.h writes the values.
cdef extern from "rodata_json.h" nogil:
    ctypedef struct rd_jbuf:
        char *p
        size_t len
        size_t cap
        bint heap
    void rd_jb_init(rd_jbuf *b, char *storage, size_t cap)
    void rd_jb_free(rd_jbuf *b)
    int rd_jb_reserve(rd_jbuf *b, size_t more)
    size_t rd_jb_size(size_t n, size_t k, size_t extra)
    size_t rd_json_u64(char *out, uint64_t u)
    size_t rd_json_i64(char *out, int64_t v)
    size_t rd_json_float(char *out, double v, bint single)
    size_t rd_json_date(char *out, int64_t days)
    size_t rd_json_timestamp(char *out, int64_t ns)
    size_t rd_json_string(char *out, const uint8_t *s, size_t n)
    size_t rd_json_base64(char *out, const uint8_t *s, size_t n)


# Statuses of the nogil renderer beyond format.pxd's: the value at (column, row) is faulty (its
# Python read raises the error), or memory ran out.
cdef enum:
    JST_BAD_VALUE = -10
    JST_NO_MEMORY = -11


cdef class JsonPlan:
    """A projection as the renderer takes it: column numbers (the first of a repeated name) and
    each one's key text ``"name":``, made once per (schema, columns)."""
    cdef Py_ssize_t n
    cdef Py_ssize_t *cols
    cdef Py_ssize_t *key_at     # n + 1 offsets into keys
    cdef bytes keys
    cdef Py_ssize_t max_col     # -1 for none
    cdef readonly tuple columns
