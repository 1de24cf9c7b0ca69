"""The terminal's number search over a shelf of thousands: each kind of pattern answers exactly
the shelf's numbers it names, in order; the page is chosen from an index in number order,
nothing sorted (an ending index for three or more final digits)."""

import re
import sqlite3
from pathlib import Path

import pytest

from pos_terminal.services.stock import search_numbers
from pos_terminal.store import MIGRATIONS, Store, split_sql

SHELF = [f"1390571{i:04d}" for i in range(0, 10_000, 3)]  # every third of 10,000
GONE = [f"1390571{i:04d}" for i in range(1, 10_000, 3)]  # sold: not on the shelf


def _stock(conn: sqlite3.Connection) -> None:
    rows = [(m, "number", "number:STD", "in_stock") for m in SHELF]
    rows += [(m, "number", "number:STD", "sold") for m in GONE]
    rows += [(f"05000{n:012d}", "voucher", "voucher:5000", "in_stock") for n in range(500)]
    conn.executemany(
        "INSERT INTO stock (item, item_kind, product, status, item_rev, updated_at) "
        "VALUES (?, ?, ?, ?, '', '2026-12-01T00:00:00+00:00')",
        rows,
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    store = Store(tmp_path / "terminal.db")
    with store.write() as conn:
        _stock(conn)
    return store


def _reference(pattern: str) -> list[str]:
    text = pattern if "*" in pattern or "?" in pattern or len(pattern) == 11 else f"*{pattern}*"
    regex = re.compile("".join(".*" if c == "*" else "." if c == "?" else c for c in text))
    return [m for m in SHELF if regex.fullmatch(m)]


@pytest.mark.parametrize(
    "pattern",
    ["*8", "*88", "*888", "*6666", "*999", "*9999", "13905719*", "139057?6666", "1390571*99",
     "13905710003", "520", "*"],
)  # fmt: skip
def test_each_kind_of_pattern_answers_the_shelf_numbers_in_order(
    store: Store, pattern: str
) -> None:
    expected = _reference(pattern)[:50]
    assert expected, pattern
    assert [e.item for e in search_numbers(store.conn, pattern)] == expected


def _plan(store: Store, pattern: str) -> str:
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    search_numbers(store.conn, pattern)
    store.conn.set_trace_callback(None)
    rows = store.conn.execute(f"EXPLAIN QUERY PLAN {seen[-1]}")
    return "\n".join(row[3] for row in rows)


@pytest.mark.parametrize("pattern", ["*888", "*9999", "139057?6666"])
def test_three_or_more_final_digits_read_the_ending_index(store: Store, pattern: str) -> None:
    plan = _plan(store, pattern)
    assert "USING INDEX ix_stock_tail" in plan and "TEMP B-TREE" not in plan, plan


@pytest.mark.parametrize("pattern", ["*8", "*88", "520", "1390571*"])
def test_other_patterns_read_the_shelf_in_number_order(store: Store, pattern: str) -> None:
    plan = _plan(store, pattern)
    assert "COVERING INDEX ix_stock_status" in plan and "TEMP B-TREE" not in plan, plan


def test_a_version_4_store_gets_the_ending_index(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for migration in MIGRATIONS[:4]:
        for statement in split_sql(migration):
            conn.execute(statement)
    _stock(conn)
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()
    store = Store(path)
    indexes = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master")}
    assert "ix_stock_tail" in indexes and "ix_stock_rev" not in indexes
    assert [e.item for e in search_numbers(store.conn, "*9999")] == ["13905719999"]
    store.close()
