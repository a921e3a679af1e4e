"""Counter-based, vectorised pseudo-random numbers for the generators.

Every draw is a pure function of (seed, stream label, counter): the same inputs give the same
numbers on every machine and every run, independent of draw order or chunking. The mixer is
SplitMix64 evaluated with pyarrow compute on uint64 arrays (wrapping arithmetic), so no
per-row Python code runs and no numpy is needed.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pyarrow.compute as pc

_GOLDEN = 0x9E3779B97F4A7C15
_MUL1 = 0xBF58476D1CE4E5B9
_MUL2 = 0x94D049BB133111EB
_MASK64 = (1 << 64) - 1


def _u64(value: int) -> pa.Scalar:
    return pa.scalar(value & _MASK64, pa.uint64())


def arange(n: int) -> pa.Array:
    """0, 1, ..., n-1 as a uint64 array."""
    return pc.indices_nonzero(pc.is_null(pa.nulls(n)))


def stream_key(seed: int, *labels: object) -> int:
    """A 64-bit key for one named random stream of one seed."""
    text = "\x1f".join(str(part) for part in (seed, *labels)).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def mix64(x: pa.Array) -> pa.Array:
    """The SplitMix64 output function applied element-wise to a uint64 array."""
    z = pc.multiply(pc.bit_wise_xor(x, pc.shift_right(x, _u64(30))), _u64(_MUL1))
    z = pc.multiply(pc.bit_wise_xor(z, pc.shift_right(z, _u64(27))), _u64(_MUL2))
    return pc.bit_wise_xor(z, pc.shift_right(z, _u64(31)))


def bits(key: int, counters: pa.Array) -> pa.Array:
    """64 random bits per counter (uint64) from the stream `key`."""
    state = pc.add(
        _u64(key), pc.multiply(pc.add(pc.cast(counters, pa.uint64()), _u64(1)), _u64(_GOLDEN))
    )
    return mix64(state)


def uniform(key: int, counters: pa.Array) -> pa.Array:
    """Uniform doubles in [0, 1), one per counter."""
    top53 = pc.shift_right(bits(key, counters), _u64(11))
    return pc.multiply(pc.cast(top53, pa.float64()), 2.0**-53)


def below(key: int, counters: pa.Array, n: int | pa.Array) -> pa.Array:
    """Uniform integers in [0, n) as int64, one per counter; `n` may vary per element."""
    n_arr = n if isinstance(n, pa.Array) else pa.scalar(n, pa.int64())
    scaled = pc.cast(
        pc.floor(pc.multiply(uniform(key, counters), pc.cast(n_arr, pa.float64()))), pa.int64()
    )
    # u * n can round up to n for u just below 1.
    return pc.min_element_wise(scaled, pc.subtract(n_arr, 1))
