"""XXH64 in the compiled core agrees with the reference implementation (the xxhash package)."""

from __future__ import annotations

import numpy as np
import xxhash
from hypothesis import given
from hypothesis import strategies as st

from rodata._core import xxh64


@given(data=st.binary(max_size=300), seed=st.integers(0, 2**64 - 1))
def test_matches_reference_for_any_bytes_and_seed(data: bytes, seed: int) -> None:
    assert xxh64(data, seed) == xxhash.xxh64_intdigest(data, seed)


def test_accepts_any_contiguous_buffer() -> None:
    arr = np.arange(1000, dtype=np.int64)
    assert xxh64(arr.view(np.uint8)) == xxhash.xxh64_intdigest(arr.tobytes())
    assert xxh64(memoryview(b"abc")) == xxhash.xxh64_intdigest(b"abc")
    assert xxh64(b"") == xxhash.xxh64_intdigest(b"")
