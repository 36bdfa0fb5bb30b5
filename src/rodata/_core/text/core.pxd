# The text readers' shared vocabulary (every part uses it): the status codes of values and
# records, the kinds that inference sees, and the column builders (Col) of a tokenizer (Core).

# Status of one value or record.  V_OK is success; everything else says what is wrong.
cdef enum:
    V_OK = 0
    F_SYNTAX = 1          # the text is not a value of the column's type
    F_RANGE = 2           # a number outside the column type's range
    F_NOMEM = 3
    F_NULL_KEY = 4
    F_NULL = 5            # null in a column declared not nullable
    F_UTF8 = 6
    F_FIELDS = 7          # wrong number of fields
    F_QUOTE_IN_FIELD = 8
    F_AFTER_QUOTE = 9
    F_UNTERMINATED = 10
    F_DIM = 11            # a vector with the wrong number of values
    F_JSON = 12           # malformed JSON
    F_MISSING_KEY = 13
    F_DUP_FIELD = 14
    F_NOT_OBJECT = 15
    F_TOO_MANY_NEW = 16   # too many unknown fields in JSON Lines
    F_BAD_ESCAPE = 17
    F_NOT_IMPLEMENTED = 18  # the base Tokenizer has no record loop

# Kinds seen by inference: a column's type is resolved from the set of kinds of its values.
cdef enum:
    KIND_NULL = 1
    KIND_BOOL = 2
    KIND_INT = 4
    KIND_FLOAT = 8
    KIND_DATE = 16
    KIND_TIMESTAMP = 32
    KIND_STRING = 64
    KIND_VECTOR = 128
    KIND_VECTOR_MIXED = 256
    KIND_DATE_WIDE = 512  # a date outside what a timestamp (int64 ns) holds: a date, never a timestamp

# Column storage kinds are the type codes (includes/rodata_types.pxd, T_*), and one more:
cdef enum:
    C_INFER = NTYPES + 1  # sample mode: classify values, store nothing (not a column type)

# What feed() stopped on.
cdef enum:
    S_DONE = 0            # reached the limit or the end of the data
    S_MORE = 1            # a record runs past the buffer: feed more bytes from the returned position
    S_BAD = 2             # a bad record: details in .error(); the returned position is after it


ctypedef struct Col:
    int kind
    Py_ssize_t itemsize      # bytes per row of `values` (a vector: 4 * dim)
    Py_ssize_t dim
    int64_t lo, hi           # accepted range of signed integer kinds
    bint inferred            # an inferred type: a value that does not fit widens it, never fails
    bint not_null            # declared not nullable
    bint is_key
    char *values
    uint8_t *valid           # one byte per row
    uint64_t *offsets        # strings and bytes: rows + 1
    uint8_t *data
    size_t data_len, data_cap
    int widen                # kinds seen that the type could not hold (inferred columns)
    int seen                 # kinds seen (sample mode and JSON inference)
    int pending_widen, pending_seen   # of the record being parsed, kept only if it is good
    int64_t vec_dim          # JSON inference: the length of the first numeric array (-1: none yet)
    int64_t pending_vec_dim  # ... met in the record being parsed (0: none), kept only if it is good


ctypedef struct Core:
    Col *cols
    int ncols
    int64_t nrows, cap
    int64_t *lines
    uint8_t *scratch
    size_t scratch_cap
    # null tokens (copies owned here)
    int nnull
    uint8_t **null_ptr
    Py_ssize_t *null_len
    Py_ssize_t null_maxlen
    bint empty_is_null
    uint8_t null_first[256]
    bint pending             # some column holds a pending widen/seen mask
    # the last failure
    int err_code
    Py_ssize_t err_pos
    int err_field
