# The text readers are one extension built from small parts, like _codec: each part's .pxd
# below is its contract (what it gives the other parts), each .pyx its implementation.  The
# parts without one give only Python functions and classes: csv.pyx (CsvTokenizer, and the
# inline count_newlines that scan.pyx uses), jsonl.pyx (JsonTokenizer), scan.pyx (chunk
# scanning), sort.pyx (key sorts) and columns.pyx (the gather, shared with _codec).
from libc.stdint cimport int64_t, uint8_t, uint64_t

include "includes/rodata_c.pxd"
include "includes/rodata_types.pxd"
include "includes/rodata_text.pxd"
include "text/core.pxd"
include "text/values.pxd"
include "text/floats.pxd"
include "text/builders.pxd"
include "text/json_scan.pxd"
include "text/tokenizer.pxd"
