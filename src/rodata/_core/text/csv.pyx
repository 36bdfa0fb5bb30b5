# The CSV tokenizer (RFC 4180): quoted fields with delimiters, doubled quotes and line breaks
# inside, CRLF or LF line ends, blank lines skipped.  Fields go straight into the column
# builders, so no per-field Python object is ever made.
#
# Record boundaries follow quote parity: a newline ends a record when an even number of
# quote characters precede it in the record.  That is what lets the ETL split a file at
# any byte and still find the record boundaries (rodata.etl.plan).

cdef enum:
    R_MORE = -1           # the record runs past the end of the buffer
    T_DELIM = 1
    T_EOL = 2
    T_EOF = 3


cdef inline int64_t count_newlines(const uint8_t *p, Py_ssize_t n) noexcept nogil:
    cdef int64_t count = 0
    cdef const uint8_t *end = p + n
    cdef const uint8_t *hit
    while p < end:
        hit = <const uint8_t *>memchr(p, 10, end - p)
        if hit == NULL:
            break
        count += 1
        p = hit + 1
    return count


cdef inline uint64_t has_zero_byte(uint64_t v) noexcept nogil:
    return (v - 0x0101010101010101ULL) & ~v & 0x8080808080808080ULL


cdef class CsvTokenizer(Tokenizer):
    """CSV records into typed columns.

    `columns` is [(name, type, dim, inferred, not_null, is_key)] with type a storage type
    name or ``"infer"`` (classify only); `field_map[i]` is the column of field i, or -1 for a
    dropped field.  `null_values` are the texts read as null (b"" for empty fields)."""

    FORMAT = "CSV"  # for messages

    cdef int *field_col
    cdef int nfields
    cdef uint8_t delim
    cdef uint8_t quote
    cdef bint quoting
    cdef uint8_t special[256]
    cdef uint64_t m_delim, m_quote

    def __init__(self, list columns, list field_map, null_values, bytes delimiter=b",", bytes quote=b'"',
                 int64_t rows_hint=1024):
        cdef int i
        if len(delimiter) != 1 or delimiter in (b"\n", b"\r"):
            raise ValueError("the delimiter must be one byte, not a line break")
        if len(quote) > 1 or quote == delimiter or quote in (b"\n", b"\r"):
            raise ValueError("the quote must be one byte (or empty for none), other than the delimiter")
        self._setup(columns, null_values, rows_hint)
        self.nfields = len(field_map)
        if self.nfields < 1:
            raise ValueError("a CSV record has at least one field")
        self.field_col = <int *>malloc(self.nfields * sizeof(int))
        if self.field_col == NULL:
            raise MemoryError()
        for i in range(self.nfields):
            ci = field_map[i]
            if ci < -1 or ci >= self.core.ncols:
                raise ValueError(f"field {i} maps to column {ci}, out of range")
            self.field_col[i] = ci
        self.delim = delimiter[0]
        self.quoting = len(quote) == 1
        self.quote = quote[0] if self.quoting else 0
        memset(self.special, 0, 256)
        self.special[self.delim] = 1
        self.special[10] = 1
        if self.quoting:
            self.special[self.quote] = 1
        self.m_delim = self.delim * 0x0101010101010101ULL
        self.m_quote = (self.quote if self.quoting else 10) * 0x0101010101010101ULL

    def __dealloc__(self):
        free(self.field_col)
        self.field_col = NULL

    cdef int _run(self, const uint8_t *buf, Py_ssize_t n, Py_ssize_t *pos_io, Py_ssize_t limit, bint eof,
                  int64_t *line_io) noexcept nogil:
        cdef Core *c = &self.core
        cdef Py_ssize_t pos = pos_io[0], rec_end = 0, nxt = 0
        cdef int64_t line = line_io[0], nl = 0
        cdef int st, status
        cdef uint8_t ch
        while True:
            if pos >= limit:
                status = S_DONE
                break
            if pos >= n:
                status = S_DONE if eof else S_MORE
                break
            ch = buf[pos]
            if ch == 10:            # a blank line
                pos += 1
                line += 1
                continue
            if ch == 13:
                if pos + 1 >= n:
                    if not eof:
                        status = S_MORE
                        break
                    pos += 1
                    continue
                if buf[pos + 1] == 10:
                    pos += 2
                    line += 1
                    continue
            if c.nrows >= c.cap and core_grow_rows(c, c.nrows + 1) != V_OK:
                status = F_NOMEM
                break
            st = self._record(buf, n, pos, eof, &rec_end, &nxt, &nl)
            if st == V_OK:
                c.lines[c.nrows] = line
                if c.pending:
                    core_commit_pending(c)
                c.nrows += 1
                pos = nxt
                line += nl
                continue
            core_rollback(c)
            if st == R_MORE:
                status = S_MORE
                break
            if st == F_NOMEM:
                status = F_NOMEM
                break
            self._set_bad(st, pos, rec_end, c.err_pos, c.err_field, line)
            line += count_newlines(buf + pos, nxt - pos)
            pos = nxt
            status = S_BAD
            break
        pos_io[0] = pos
        line_io[0] = line
        return status

    cdef int _skip(self, const uint8_t *buf, Py_ssize_t n, Py_ssize_t k, bint in_quote, bint eof,
                   Py_ssize_t *rec_end, Py_ssize_t *nxt) noexcept nogil:
        """Find the end of a bad record from position `k` by quote parity."""
        cdef uint8_t ch
        while k < n:
            ch = buf[k]
            if self.quoting and ch == self.quote:
                in_quote = not in_quote
            elif ch == 10 and not in_quote:
                nxt[0] = k + 1
                rec_end[0] = k - 1 if k > 0 and buf[k - 1] == 13 else k
                return V_OK
            k += 1
        if not eof:
            return R_MORE
        nxt[0] = n
        rec_end[0] = n
        return V_OK

    cdef int _fail(self, int code, Py_ssize_t at, int field, const uint8_t *buf, Py_ssize_t n, Py_ssize_t k,
                   bint in_quote, bint eof, Py_ssize_t *rec_end, Py_ssize_t *nxt) noexcept nogil:
        if self._skip(buf, n, k, in_quote, eof, rec_end, nxt) == R_MORE:
            return R_MORE
        self.core.err_pos = at
        self.core.err_field = field
        return code

    cdef int _record(self, const uint8_t *buf, Py_ssize_t n, Py_ssize_t rec, bint eof, Py_ssize_t *rec_end,
                     Py_ssize_t *nxt, int64_t *nl) noexcept nogil:
        """Tokenize and store the record at `rec` (row `nrows`, not committed here)."""
        cdef Core *c = &self.core
        cdef Py_ssize_t p = rec, q, qq, fe = 0, end = 0, vlen, bad_at, i, j
        cdef const uint8_t *hit
        cdef const uint8_t *v
        cdef int f = 0, ci, st, term
        cdef int64_t lines = 0
        cdef bint esc
        cdef uint8_t ch, quote = self.quote, delim = self.delim
        cdef int nfields = self.nfields
        cdef int64_t row = c.nrows
        cdef uint64_t w, hits, acc = 0
        cdef bint esc_or_quoted
        while True:
            esc_or_quoted = True
            if self.quoting and p < n and buf[p] == quote:
                q = p + 1
                esc = False
                while True:
                    hit = <const uint8_t *>memchr(buf + q, quote, n - q)
                    if hit == NULL:
                        if not eof:
                            return R_MORE
                        nxt[0] = n
                        rec_end[0] = n
                        c.err_pos = p
                        c.err_field = f
                        return F_UNTERMINATED
                    qq = hit - buf
                    if qq + 1 < n and buf[qq + 1] == quote:
                        esc = True
                        q = qq + 2
                        continue
                    if qq + 1 >= n and not eof:
                        return R_MORE
                    break
                lines += count_newlines(buf + p + 1, qq - p - 1)
                fe = qq + 1           # the terminator's position
                if fe >= n:
                    term = T_EOF
                    end = n
                else:
                    ch = buf[fe]
                    if ch == delim:
                        term = T_DELIM
                    elif ch == 10:
                        term = T_EOL
                        end = fe
                    elif ch == 13 and fe + 1 < n and buf[fe + 1] == 10:
                        term = T_EOL
                        end = fe
                        fe += 1
                    elif ch == 13 and fe + 1 >= n and not eof:
                        return R_MORE
                    elif ch == 13 and fe + 1 >= n:
                        term = T_EOF
                        end = fe
                        fe = n
                    else:
                        return self._fail(F_AFTER_QUOTE, fe, f, buf, n, fe, False, eof, rec_end, nxt)
                if esc:
                    # Collapse the doubled quotes into the scratch buffer.
                    if core_reserve_scratch(c, qq - p) != V_OK:
                        return F_NOMEM
                    j = 0
                    i = p + 1
                    while i < qq:
                        c.scratch[j] = buf[i]
                        j += 1
                        i += 2 if buf[i] == quote else 1
                    v = c.scratch
                    vlen = j
                else:
                    v = buf + p + 1
                    vlen = qq - p - 1
            else:
                # Eight bytes at a time: the first delimiter, newline or quote of the word is
                # its lowest flagged byte (the zero-byte test is exact there).  The words seen
                # also tell whether the field is plain ASCII (then UTF-8 needs no check).
                q = p
                acc = 0
                while q + 8 <= n:
                    memcpy(&w, buf + q, 8)
                    hits = (has_zero_byte(w ^ self.m_delim) | has_zero_byte(w ^ 0x0A0A0A0A0A0A0A0AULL)
                            | has_zero_byte(w ^ self.m_quote))
                    if hits:
                        q += rdt_ctz64(hits) >> 3
                        acc |= w
                        break
                    acc |= w
                    q += 8
                else:
                    while q < n and not self.special[buf[q]]:
                        acc |= buf[q]
                        q += 1
                if q >= n:
                    if not eof:
                        return R_MORE
                    term = T_EOF
                    vlen = q - p
                    if vlen > 0 and buf[q - 1] == 13:
                        vlen -= 1
                    end = p + vlen
                    fe = n
                else:
                    ch = buf[q]
                    fe = q
                    if ch == delim:
                        term = T_DELIM
                        vlen = q - p
                    elif ch == 10:
                        term = T_EOL
                        vlen = q - p
                        if vlen > 0 and buf[q - 1] == 13:
                            vlen -= 1
                        end = p + vlen
                    else:   # a quote inside an unquoted field
                        return self._fail(F_QUOTE_IN_FIELD, q, f, buf, n, q + 1, True, eof, rec_end, nxt)
                v = buf + p
                esc = False
                esc_or_quoted = False
            if f >= nfields:
                # One field too many: the fault is where it starts.
                if term == T_DELIM:
                    return self._fail(F_FIELDS, p, f, buf, n, fe, False, eof, rec_end, nxt)
                c.err_pos = p
                c.err_field = f
                rec_end[0] = end
                nxt[0] = fe + 1 if term == T_EOL else n
                return F_FIELDS
            ci = self.field_col[f]
            if ci >= 0:
                st = col_put_text(c, &c.cols[ci], row, v, vlen, &bad_at,
                                  not esc_or_quoted and (acc & 0x8080808080808080ULL) == 0)
                if st != V_OK:
                    if st == F_NOMEM:
                        return st
                    if st == F_UTF8 and not esc:
                        bad_at += v - buf
                    else:
                        bad_at = p
                    if term == T_DELIM:
                        return self._fail(st, bad_at, f, buf, n, fe, False, eof, rec_end, nxt)
                    c.err_pos = bad_at
                    c.err_field = f
                    rec_end[0] = end
                    nxt[0] = fe + 1 if term == T_EOL else n
                    return st
            f += 1
            if term == T_DELIM:
                p = fe + 1
                continue
            break
        if f != nfields:
            # Too few fields: the fault is at the end of the record, where the next field should be.
            c.err_pos = end
            c.err_field = f
            rec_end[0] = end
            nxt[0] = fe + 1 if term == T_EOL else n
            return F_FIELDS
        rec_end[0] = end
        if term == T_EOL:
            nxt[0] = fe + 1
            nl[0] = lines + 1
        else:
            nxt[0] = n
            nl[0] = lines
        return V_OK


def csv_split_record(const uint8_t[::1] buf not None, Py_ssize_t start, bytes delimiter=b",", bytes quote=b'"',
                     bint eof=True):
    """Split the one record at `start` (a header) into a list of bytes fields.

    Returns (fields, next position, newlines consumed), or None when the record runs past
    the buffer and `eof` is false.  Raises ValueError(reason, position) on a malformed record."""
    cdef Py_ssize_t n = buf.shape[0], p = start, q
    cdef uint8_t d = delimiter[0]
    cdef bint quoting = len(quote) == 1
    cdef uint8_t qc = quote[0] if quoting else 0
    cdef int64_t lines = 0
    fields = []
    if start < 0 or start > n:
        raise ValueError("start out of range", start)
    while True:
        if quoting and p < n and buf[p] == qc:
            q = p + 1
            value = bytearray()
            while True:
                if q >= n:
                    if not eof:
                        return None
                    raise ValueError("unterminated quoted field", p)
                if buf[q] == qc:
                    if q + 1 < n and buf[q + 1] == qc:
                        value.append(qc)
                        q += 2
                        continue
                    if q + 1 >= n and not eof:
                        return None
                    break
                if buf[q] == 10:
                    lines += 1
                value.append(buf[q])
                q += 1
            fields.append(bytes(value))
            q += 1
            if q < n and buf[q] == 13 and q + 1 < n and buf[q + 1] == 10:
                q += 1
            if q >= n:
                return fields, n, lines
            if buf[q] == d:
                p = q + 1
                continue
            if buf[q] == 10:
                return fields, q + 1, lines + 1
            raise ValueError("unexpected character after a closing quote", q)
        q = p
        while q < n and buf[q] != d and buf[q] != 10 and not (quoting and buf[q] == qc):
            q += 1
        if q < n and quoting and buf[q] == qc:
            raise ValueError("quote inside an unquoted field", q)
        if q >= n and not eof:
            return None
        end = q
        if end > p and buf[end - 1] == 13 and (q >= n or buf[q] == 10):
            end -= 1
        fields.append(bytes(buf[p:end]))
        if q >= n:
            return fields, n, lines
        if buf[q] == 10:
            return fields, q + 1, lines + 1
        p = q + 1
