"""The hash chain's pure rules: the canonical encoding, and the walk that names the first row
changed, removed or inserted."""

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.core.logging import redact
from backoffice.domain.audit import (
    GENESIS,
    Anchor,
    BreakKind,
    Sealed,
    canonical,
    chain,
    check_anchor,
    link,
    walk,
)

T0 = datetime(2026, 12, 7, 2, 30, 0, 123456, tzinfo=UTC)


def content(n: int, **changes: object) -> tuple[object, ...]:
    row = {
        "id": f"0193a{n:031d}",
        "at": T0 + timedelta(seconds=n),
        "actor": "terminal:7/clerk1",
        "entity_type": "number",
        "entity_id": f"139057{n:05d}",
        "action": "sell",
        "from_status": "in_stock",
        "to_status": "sold",
        "item_count": 1,
        "document_id": None,
        "reason": f"sale R7-{n}",
    }
    row.update(changes)
    return tuple(row.values())


def sealed(contents: list[tuple[object, ...]]) -> list[Sealed]:
    hashes = list(chain(GENESIS, contents))
    return [
        Sealed(i + 1, str(c[0]), h, c)
        for i, (c, h) in enumerate(zip(contents, hashes, strict=True))
    ]


def test_a_link_is_sha256_of_the_previous_hash_and_the_canonical_row() -> None:
    row = content(1, reason='说明, "quoted"\n', document_id=None)
    encoded = canonical(row)
    assert encoded.startswith(b'["0193a')
    assert b'"2026-12-07T02:30:01.123456+00:00"' in encoded
    assert link(GENESIS, row) == hashlib.sha256(bytes(32) + encoded).hexdigest()


def test_encoding_tells_apart_what_a_naive_join_would_not() -> None:
    variants = [
        content(1),
        content(1, document_id="None"),
        content(1, actor="terminal:7", entity_type="clerk1number"),
        content(1, actor="terminal:7/clerk1,", entity_type="number"),
        content(1, item_count=10),
        content(1, reason=None),
        content(1, reason=""),
        content(1, at=T0 + timedelta(seconds=1, microseconds=1)),
    ]
    assert len({canonical(v) for v in variants}) == len(variants)


def test_the_same_instant_in_another_zone_encodes_alike_and_naive_times_are_refused() -> None:
    shanghai = timezone(timedelta(hours=8))
    assert canonical(content(1, at=T0.astimezone(shanghai))) == canonical(content(1, at=T0))
    with pytest.raises(ValueError, match="aware UTC"):
        canonical(content(1, at=T0.replace(tzinfo=None)))
    with pytest.raises(ValueError, match="11 content values"):
        canonical(content(1)[:-1])


def test_an_intact_chain_walks_to_its_end() -> None:
    rows = sealed([content(n) for n in range(1, 6)])
    result = walk(rows, anchor_seq=3)
    assert result.broken is None and result.rows == 5
    assert result.last == Anchor(5, str(rows[-1].hash))
    assert result.hash_at_anchor == rows[2].hash
    assert walk([]).last is None


def test_a_changed_row_is_named_by_sequence_and_id() -> None:
    rows = sealed([content(n) for n in range(1, 6)])
    rows[2] = replace(rows[2], content=content(3, actor="mallory"))
    broken = walk(rows).broken
    assert broken is not None
    assert (broken.kind, broken.seq, broken.id) == (BreakKind.changed, 3, rows[2].id)
    # A changed hash is a change too.
    rows = sealed([content(n) for n in range(1, 6)])
    rows[4] = replace(rows[4], hash="f" * 64)
    assert walk(rows).broken.kind == BreakKind.changed  # type: ignore[union-attr]


def test_a_removed_row_leaves_a_gap() -> None:
    rows = sealed([content(n) for n in range(1, 7)])
    del rows[2:4]
    broken = walk(rows).broken
    assert broken is not None
    assert (broken.kind, broken.seq, broken.id) == (BreakKind.removed, 5, rows[2].id)
    assert "rows 3–4 are missing" in broken.message
    first = sealed([content(n) for n in range(1, 4)])[1:]
    assert walk(first).broken.message == "row 1 is missing before it"  # type: ignore[union-attr]


def test_a_removed_row_with_the_rest_renumbered_breaks_the_next_link() -> None:
    contents = [content(n) for n in range(1, 6)]
    rows = sealed(contents)
    kept = rows[:2] + [replace(r, seq=r.seq - 1) for r in rows[3:]]
    broken = walk(kept).broken
    assert broken is not None and (broken.seq, broken.id) == (3, rows[3].id)


def test_an_inserted_row_is_found_even_with_a_correct_hash() -> None:
    contents = [content(n) for n in range(1, 6)]
    rows = sealed(contents)
    # Back-dated and slipped in after row 2, its own hash computed properly, the rest
    # renumbered: row 3 is the forgery, and the old row 3 (now 4) still follows row 2.
    forged = content(99, at=T0 - timedelta(days=30), actor="mallory")
    forged_row = Sealed(3, str(forged[0]), link(str(rows[1].hash), forged), forged)
    tampered = rows[:2] + [forged_row] + [replace(r, seq=r.seq + 1) for r in rows[2:]]
    broken = walk(tampered).broken
    assert broken is not None
    assert (broken.kind, broken.seq, broken.id) == (BreakKind.inserted, 3, forged_row.id)
    # With a made-up hash, the forgery itself fails, and the row after it still follows.
    garbage = replace(forged_row, hash="0" * 64)
    tampered = rows[:2] + [garbage] + [replace(r, seq=r.seq + 1) for r in rows[2:]]
    broken = walk(tampered).broken
    assert broken is not None and (broken.kind, broken.seq) == (BreakKind.inserted, 3)


def test_the_anchor_catches_a_cut_tail_and_a_rewritten_chain() -> None:
    rows = sealed([content(n) for n in range(1, 6)])
    anchor = Anchor(5, str(rows[4].hash))
    assert check_anchor(walk(rows, 5), anchor) is None
    cut = walk(rows[:3], 5)
    assert cut.broken is None
    assert "ends at row 3" in str(check_anchor(cut, anchor))
    assert "is empty" in str(check_anchor(walk([], 5), anchor))
    # Rewritten consistently from row 2 on: every link holds, the anchor does not.
    rewritten = sealed([content(1)] + [content(n, actor="mallory") for n in range(2, 6)])
    result = walk(rewritten, 5)
    assert result.broken is None
    assert "was rewritten" in str(check_anchor(result, anchor))


def test_anchors_parse_from_what_verify_prints() -> None:
    anchor = Anchor(42, "ab" * 32)
    assert str(anchor) == "42:" + "-".join(["ab" * 8] * 4)
    assert Anchor.parse(str(anchor)) == anchor
    assert Anchor.parse(f" 42:{'AB' * 32} ") == anchor
    for bad in ("42", "0:" + "ab" * 32, "x:" + "ab" * 32, "42:" + "ab" * 31, "42:" + "zz" * 32):
        with pytest.raises(ValueError, match="SEQ:HASH"):
            Anchor.parse(bad)


def test_an_anchor_survives_the_log_filter_that_hides_id_numbers() -> None:
    # The worker logs each anchor; a hash with 18 digits in a row must not come out redacted.
    anchor = Anchor(7, "0123456789012345678901234567890123456789012345678901234567890123")
    assert redact(f"audit: sealed 3 rows, anchor {anchor}") == (
        f"audit: sealed 3 rows, anchor {anchor}"
    )
    assert Anchor.parse(str(anchor)) == anchor


@given(
    st.integers(min_value=2, max_value=12),
    st.data(),
)
def test_any_single_tampering_is_found_at_or_before_its_row(n: int, data: st.DataObject) -> None:
    rows = sealed([content(i) for i in range(1, n + 1)])
    at = data.draw(st.integers(min_value=0, max_value=n - 1), label="row")
    how = data.draw(st.sampled_from(["edit", "delete", "delete-renumber", "rehash"]))
    if how == "edit":
        rows[at] = replace(rows[at], content=content(at + 1, reason="edited"))
    elif how == "rehash":
        rows[at] = replace(rows[at], hash=hashlib.sha256(b"x").hexdigest())
    elif how == "delete":
        del rows[at]
    else:
        rows = rows[:at] + [replace(r, seq=r.seq - 1) for r in rows[at + 1 :]]
    result = walk(rows, anchor_seq=n)
    anchor = Anchor(n, str(sealed([content(i) for i in range(1, n + 1)])[-1].hash))
    # Found by the walk, or (the last row removed) by the anchor.
    assert result.broken is not None or check_anchor(result, anchor) is not None
    if result.broken is not None:
        assert result.broken.seq <= at + 2
