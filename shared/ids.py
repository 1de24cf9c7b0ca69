"""UUIDv7 identifiers (RFC 9562): generation, validation and the time they carry."""

import re
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_COUNTER_BITS = 12  # rand_a holds a counter (RFC 9562 §6.2, method 1)
_COUNTER_MAX = (1 << _COUNTER_BITS) - 1
_UUID7 = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", re.IGNORECASE
)

_lock = threading.Lock()
_last_ms = -1
_counter = 0


def _next_stamp() -> tuple[int, int]:
    """Returns (unix milliseconds, counter), strictly increasing as a pair."""
    global _last_ms, _counter
    with _lock:
        now = time.time_ns() // 1_000_000
        if now > _last_ms:
            _last_ms = now
            # A random start hides how many ids were made this millisecond; the clear top
            # bit leaves at least 2048 increments before the counter can overflow.
            _counter = secrets.randbits(_COUNTER_BITS - 1)
        elif _counter < _COUNTER_MAX:
            # Same millisecond, or the clock stepped back: keep counting from the last stamp.
            _counter += 1
        else:
            # Counter exhausted: borrow the next millisecond rather than break ordering.
            _last_ms += 1
            _counter = 0
        return _last_ms, _counter


def new_id() -> str:
    """A new UUIDv7 string, greater than every id made before it in this process."""
    ms, counter = _next_stamp()
    rand_b = secrets.randbits(62)
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
