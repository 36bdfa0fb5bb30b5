# The compiled core is one extension built from small parts (asyncpg-style):
# each part's .pxd below is its contract, each .pyx its implementation.
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t

include "includes/rodata_types.pxd"
include "format.pxd"
include "mapping.pxd"
include "segment.pxd"
include "lookups.pxd"
include "validate.pxd"
include "rowjson.pxd"
include "keyjson.pxd"
