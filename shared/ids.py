"""UUIDv7 identifiers (RFC 9562): generation, validation and the time they carry."""

import os
import re
import threading
import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_COUNTER_BITS = 12  # rand_a holds a counter (RFC 9562 §6.2, method 1)
_COUNTER_MAX = (1 << _COUNTER_BITS) - 1
_UUID7 = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", re.IGNORECASE
)

# Random bits come from the operating system's generator in blocks: one system call per
# _POOL_BYTES // 9 ids instead of one per id (an id takes 62 bits, and 11 when its
# millisecond is new). A forked child starts a block of its own, never its parent's.
_POOL_BYTES = 4096
_lock = threading.Lock()
_last_ms = -1
_counter = 0
_pool = b""
_taken = 0


def _forget_random() -> None:
    global _pool, _taken
    _pool, _taken = b"", 0


os.register_at_fork(after_in_child=_forget_random)


def _random_bits(count: int) -> int:
    """`count` (<= 64) random bits from the pool, refilled when used up. Under the lock."""
    global _pool, _taken
    if _taken + 8 > len(_pool):
        _pool, _taken = os.urandom(_POOL_BYTES), 0
    value = int.from_bytes(_pool[_taken : _taken + 8], "big")
    _taken += 8
    return value >> (64 - count)


def _next_stamp() -> tuple[int, int, int]:
    """Returns (unix milliseconds, counter, 62 random bits), the first two strictly
    increasing as a pair across the process's threads."""
    global _last_ms, _counter
    with _lock:
        now = time.time_ns() // 1_000_000
        if now > _last_ms:
            _last_ms = now
            # A random start hides how many ids were made this millisecond; the clear top
            # bit leaves at least 2048 increments before the counter can overflow.
            _counter = _random_bits(_COUNTER_BITS - 1)
        elif _counter < _COUNTER_MAX:
            # Same millisecond, or the clock stepped back: keep counting from the last stamp.
            _counter += 1
        else:
            # Counter exhausted: borrow the next millisecond rather than break ordering.
            _last_ms += 1
            _counter = 0
        return _last_ms, _counter, _random_bits(62)


def new_id() -> str:
    """A new UUIDv7 string, greater than every id made before it in this process."""
    ms, counter, rand_b = _next_stamp()
    value = (ms << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | rand_b
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def is_uuid7(text: str) -> bool:
    """True for a UUIDv7 in canonical 8-4-4-4-12 hex form (either letter case)."""
    return isinstance(text, str) and _UUID7.fullmatch(text) is not None


def id_time(text: str) -> datetime:
    """The UTC creation time (millisecond precision) embedded in a UUIDv7."""
    if not is_uuid7(text):
        raise ValueError(f"{text!r} is not a UUIDv7")
    ms = int(text[:8] + text[9:13], 16)
    return _EPOCH + timedelta(milliseconds=ms)
