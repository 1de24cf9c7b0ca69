"""The audit log's hash chain: a row's canonical encoding, the link hash, anchors, and the walk
that finds the first row changed, removed or inserted. Pure: no database."""

import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

# The columns a row's hash covers, in this order: everything the application or the database
# wrote about the event. seq and hash themselves are the chain, not its content.
CONTENT = (
    "id",
    "at",
    "actor",
    "entity_type",
    "entity_id",
    "action",
    "from_status",
    "to_status",
    "item_count",
    "document_id",
    "reason",
)

# What the first row's hash chains from.
GENESIS = "0" * 64

_ANCHOR = re.compile(r"(\d+):((?:-?[0-9a-f]{16}){4})")


# Compact, ASCII only (other characters as \uXXXX escapes): built once, it runs in C.
_JSON = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


_AT = CONTENT.index("at")


def canonical(content: Sequence[object]) -> bytes:
    """One row's content (values in CONTENT order) as bytes: a compact JSON array, the time
    as 2026-12-07T10:50:53.936000+00:00, so that no two different rows encode alike."""
    if len(content) != len(CONTENT):
        raise ValueError(f"an audit row has {len(CONTENT)} content values, not {len(content)}")
    values = list(content)
    at = values[_AT]
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise ValueError(f"an audit row's time is an aware UTC datetime, not {at!r}")
    values[_AT] = at.astimezone(UTC).isoformat(timespec="microseconds")
    # A value JSON has no exact form for (another time, bytes) fails here, loudly.
    return _JSON.encode(values).encode("ascii")


def link(previous: str, content: Sequence[object]) -> str:
    """The hash of a row that follows the row hashed `previous`: SHA-256(previous ‖ row),
    as 64 hex digits."""
    return hashlib.sha256(bytes.fromhex(previous) + canonical(content)).hexdigest()


def chain(previous: str, rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """The hashes of rows sealed one after the other, following `previous`."""
    for content in rows:
        previous = link(previous, content)
        yield previous


@dataclass(frozen=True)
class Anchor:
    """The last sealed row's sequence number and hash: recorded by the operator (or the
    worker's log) outside the database, it proves later that no row up to it changed and that
    the chain was not cut short."""

    seq: int
    hash: str

    def __str__(self) -> str:
        # In groups of 16: no run of 18 digits that a log filter would take for an ID number.
        groups = (self.hash[i : i + 16] for i in range(0, len(self.hash), 16))
        return f"{self.seq}:{'-'.join(groups)}"

    @classmethod
    def parse(cls, text: str) -> "Anchor":
        """`SEQ:HASH` as `audit verify` prints it (the hash's 64 hex digits grouped or not);
        ValueError says what is wrong."""
        match = _ANCHOR.fullmatch(text.strip().lower())
        if match is None or int(match[1]) < 1:
            raise ValueError(
                f"anchor {text!r} is not SEQ:HASH (a sequence number from 1 and 64 hex digits)"
            )
        return cls(int(match[1]), match[2].replace("-", ""))


@dataclass(frozen=True)
class Sealed:
    """A sealed row as stored: its place in the chain, its hash and its content."""

    seq: int
    id: str
    hash: str | None
    content: Sequence[object]


class BreakKind(StrEnum):
    changed = "changed"
    removed = "removed"
    inserted = "inserted"


@dataclass(frozen=True)
class Break:
    """The first place where the stored chain is not the chain that was sealed."""

    kind: BreakKind
    seq: int
    id: str
    message: str


@dataclass(frozen=True)
class Walk:
    """What walking the sealed rows in sequence found."""

    rows: int
    last: Anchor | None
    broken: Break | None
    # The stored hash at the sequence number asked for (an anchor's), if the walk reached it.
    hash_at_anchor: str | None


def _follows(previous: str | None, row: Sealed | None) -> bool:
    return previous is not None and row is not None and link(previous, row.content) == row.hash


def walk(rows: Iterable[Sealed], anchor_seq: int | None = None) -> Walk:
    """Checks rows given in sequence order: sequence numbers 1, 2, 3 … without gaps, and each
    hash the link from the one before. Stops at the first break and names the row."""
    it = iter(rows)
    ahead = next(it, None)
    expected, previous, before = 1, GENESIS, None
    last_row: Sealed | None = None
    at_anchor = None
    count = 0
    while ahead is not None:
        row, ahead = ahead, next(it, None)
        if row.seq > expected:
            missing = (
                f"row {expected} is"
                if row.seq == expected + 1
                else f"rows {expected}–{row.seq - 1} are"
            )
            broken = Break(BreakKind.removed, row.seq, row.id, f"{missing} missing before it")
            return Walk(count, _anchor(last_row), broken, at_anchor)
        if row.seq < expected:
            # Only possible once the unique index on seq is gone.
            broken = Break(BreakKind.inserted, row.seq, row.id, "its sequence number repeats")
            return Walk(count, _anchor(last_row), broken, at_anchor)
        if not _follows(previous, row):
            if last_row is not None and _follows(before, row):
                # This row chains from the one before the previous: the previous one is extra.
                broken = Break(
                    BreakKind.inserted,
                    last_row.seq,
                    last_row.id,
                    f"it was inserted: row {row.seq} follows row {last_row.seq - 1} directly",
                )
            elif _follows(previous, ahead):
                assert ahead is not None
                broken = Break(
                    BreakKind.inserted,
                    row.seq,
                    row.id,
                    f"it was inserted: row {ahead.seq} follows row {row.seq - 1} directly",
                )
            else:
                broken = Break(
                    BreakKind.changed,
                    row.seq,
                    row.id,
                    "its content or hash was changed (or rows before it were removed and the "
                    "rest renumbered)",
                )
            return Walk(count, _anchor(last_row), broken, at_anchor)
        assert row.hash is not None
        if row.seq == anchor_seq:
            at_anchor = row.hash
        before, previous, last_row = previous, row.hash, row
        expected += 1
        count += 1
    return Walk(count, _anchor(last_row), None, at_anchor)


def _anchor(row: Sealed | None) -> Anchor | None:
    return None if row is None or row.hash is None else Anchor(row.seq, row.hash)


def check_anchor(result: Walk, anchor: Anchor) -> str | None:
    """Why the walked chain does not end in or pass through the recorded anchor, or None."""
    if result.broken is not None and result.broken.seq <= anchor.seq:
        return None  # the break already says what is wrong before the anchor
    if result.last is None or result.last.seq < anchor.seq:
        end = "is empty" if result.last is None else f"ends at row {result.last.seq}"
        return (
            f"the chain {end}, but the anchor recorded row {anchor.seq}: rows were removed "
            "from its end"
        )
    if result.hash_at_anchor != anchor.hash:
        return (
            f"the chain has {Anchor(anchor.seq, str(result.hash_at_anchor))} where the anchor "
            f"recorded {anchor}: the chain up to it was rewritten"
        )
    return None
