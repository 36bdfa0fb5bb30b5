# The segment format's constants: docs/FORMAT.md is the prose of this file.
cdef enum:
    FORMAT_MAJOR = 1
    FORMAT_MINOR = 0
    ALIGN = 64                  # every section, the directory and the trailer start on 64 bytes
    HEADER_SIZE = 64
    PIPELINE = 16               # keys in flight per block in batch lookups (prefetch distance)
    ROW_PREFETCH = 4            # rows ahead whose values are prefetched while dicts are built
    TRAILER_SIZE = 64
    DIR_ENTRY_SIZE = 32
    ENDIAN_TAG = 0x0A0B0C0D
    # Limits that bound the work done with the GIL held while a (possibly forged) file
    # is opened: the schema is parsed as JSON, once per column.
    MAX_SCHEMA_BYTES = 4 * 1024 * 1024
    MAX_COLUMNS = 32768

# Constants wider than a C int (enums are ints) come from rodata_c.h.
cdef extern from "rodata_c.h":
    const unsigned long long NO_COLUMN "RD_NO_COLUMN"   # directory entry of a section of no column
    const unsigned long long MAX_ROWS "RD_MAX_ROWS"     # an index slot stores row + 1 in 32 bits

# One directory entry, exactly as stored (32 bytes, little-endian): the directory
# is read in place.
ctypedef struct DirEntry:
    uint16_t kind
    uint16_t reserved
    uint32_t column
    uint64_t offset
    uint64_t length
    uint64_t checksum

# Section kinds (directory entry field `kind`).
cdef enum SectionKind:
    SEC_SCHEMA = 1
    SEC_VALIDITY = 2
    SEC_DATA = 3
    SEC_OFFSETS = 4
    SEC_INDEX = 5

# Column type codes, item sizes, dtypes and limits: includes/rodata_types.pxd (one table for both
# extensions).

# Status codes returned from nogil code and turned into exceptions after it.
cdef enum Status:
    ST_OK = 0
    ST_NOT_FOUND = 1
    ST_BAD_OFFSETS = -1
    ST_BAD_INDEX = -2
    ST_BAD_ROW = -3
