"""Number search by index (SQLite and PostgreSQL): every kind of pattern answers exactly the
numbers it names, in order and page by page; the plans read an index for a number's ending
(also once psycopg has prepared the statement); statistics follow bulk inserts; migration
0009 on a database with numbers."""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, inspect, text
from sqlmodel import Session

from backoffice import migrate
from backoffice.contracts.billing import SegmentRequest
from backoffice.db import make_engine
from backoffice.services.billing import numbers
from tests.backoffice.helpers import csv_bytes
from tests.conftest import BACKENDS, Templates, alembic_step

# 1390575 0000-9999 and 1380000 000-999: every ending, two prefixes.
SEGMENTS = (("1390575", 0, 9999), ("1380000", 0, 999))
ENDING_INDEXES = ("ix_number_tail", "ix_number_rev")


def _generate(session: Session, prefix: str, start: int, end: int) -> None:
    numbers.generate_segment(
        session, SegmentRequest(prefix=prefix, start=start, end=end), "billing1"
    )


@pytest.fixture
def stocked(session: Session) -> list[str]:
    for prefix, start, end in SEGMENTS:
        _generate(session, prefix, start, end)
    width = {p: 11 - len(p) for p, _, _ in SEGMENTS}
    return sorted(f"{p}{i:0{width[p]}d}" for p, s, e in SEGMENTS for i in range(s, e + 1))


def _reference(pattern: str, stocked: list[str]) -> list[str]:
    text_ = pattern if "*" in pattern or "?" in pattern or len(pattern) == 11 else f"*{pattern}*"
    regex = re.compile("".join(".*" if c == "*" else "." if c == "?" else c for c in text_))
    return [m for m in stocked if regex.fullmatch(m)]


def _all_pages(session: Session, pattern: str) -> list[str]:
    found: list[str] = []
    after = None
    while True:
        page = numbers.search_numbers(session, pattern, after=after, limit=40)
        found += [n.msisdn for n in page.items]
        if page.next_after is None:
            return found
        after = page.next_after


@pytest.mark.parametrize(
    "pattern",
    [
        "*8",  # one final digit
        "*88",  # two
        "*888",  # three: the ending itself
        "*8888",  # four
        "*5758888",
        "*999",  # all nines: no upper bound on the reversed range
        "*9999",
        "*0000",
        "1390575*",
        "1380000*",
        "13905759*",
        "1390575*88",
        "1390575*888",
        "1380000*999",
        "1380000*0999",
        "139057?8888",
        "13800?0?999",
        "*5?8*8",
        "13905758888",  # a whole number
        "58888",  # contains
        "000",
        "*",
    ],
)
def test_each_kind_of_pattern_answers_exactly_its_numbers_in_order(
    session: Session, stocked: list[str], pattern: str
) -> None:
    expected = _reference(pattern, stocked)
    assert expected, pattern
    assert _all_pages(session, pattern) == expected


def test_patterns_combine_with_grade_status_and_paging(
    session: Session, stocked: list[str]
) -> None:
    grades = {
        n.msisdn: n.grade_code for n in numbers.search_numbers(session, "*88", limit=500).items
    }
    grade = grades["13905758888"]
    page = numbers.search_numbers(session, "*88", grade=grade, status="imported", limit=500)
    assert [n.msisdn for n in page.items] == [m for m, g in grades.items() if g == grade]
    assert numbers.search_numbers(session, "*888", status="sold").items == []
    later = numbers.search_numbers(session, "*0999", after="13800000999")
    assert [n.msisdn for n in later.items] == ["13905750999"]


class Statements:
    """The SQL (with its parameters) of each number search the engine runs."""

    def __init__(self, engine: Engine) -> None:
        self.seen: list[tuple[str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._grab)

    def _grab(self, *args: Any) -> None:
        statement, parameters = args[2], args[3]  # (conn, cursor, statement, parameters, …)
        if "FROM mobile_number JOIN number_grade" in statement:
            self.seen.append((statement, parameters))


def _plan(session: Session, statement: str, parameters: Any) -> str:
    """The plan of `statement` in the session's transaction (its settings included)."""
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    if session.get_bind().dialect.name == "postgresql":
        cursor.execute(f"EXPLAIN {statement}", parameters)
        return "\n".join(row[0] for row in cursor.fetchall())
    return "\n".join(
        row[3] for row in cursor.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
    )


@pytest.mark.parametrize("pattern", ["*888", "*99999", "*5758888", "139057?8888", "1390575*888"])
def test_a_search_by_three_or_more_final_digits_reads_an_ending_index(
    engine: Engine, session: Session, stocked: list[str], pattern: str
) -> None:
    statements = Statements(engine)
    numbers.search_numbers(session, pattern)
    plan = _plan(session, *statements.seen[-1])
    assert any(index in plan for index in ENDING_INDEXES), plan
    if session.get_bind().dialect.name == "sqlite":
        # The ending's index keeps its numbers in number order: nothing left to sort.
        assert "ix_number_tail" in plan and "TEMP B-TREE" not in plan, plan


def test_a_common_ending_is_never_a_read_of_the_whole_table(
    engine: Engine, session: Session, stocked: list[str]
) -> None:
    statements = Statements(engine)
    numbers.search_numbers(session, "*88")
    plan = _plan(session, *statements.seen[-1])
    if session.get_bind().dialect.name == "sqlite":
        # Walked in number order, stopping at the page's end: nothing sorted.
        assert "USING INDEX sqlite_autoindex_mobile_number_1" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
    else:
        # By the reversed-number range or in number order, as the table's size has it.
        assert "Seq Scan on mobile_number" not in plan, plan


@pytest.fixture
def pg_session(templates: Templates) -> Iterator[Session]:
    """A migrated PostgreSQL database of this test's own (server-side prepared statements
    and auto_explain are PostgreSQL's alone)."""
    url = templates.pg_copy()
    engine = make_engine(url)
    with Session(engine) as session:
        yield session
    engine.dispose()
    templates.drop(url)


def test_the_prepared_search_still_reads_an_ending_index(pg_session: Session) -> None:
    """psycopg prepares a statement on its fifth run; every run's plan, as PostgreSQL's
    auto_explain reports it, reads an ending index."""
    for prefix, start, end in SEGMENTS:
        _generate(pg_session, prefix, start, end)
    driver: Any = pg_session.connection().connection.driver_connection
    plans: list[str] = []
    driver.add_notice_handler(lambda notice: plans.append(notice.message_primary or ""))
    for setting in (
        "LOAD 'auto_explain'",
        "SET auto_explain.log_min_duration = 0",
        "SET auto_explain.log_level = 'notice'",
    ):
        driver.execute(setting)
    for _ in range(8):
        page = numbers.search_numbers(pg_session, "*9999")
        assert [n.msisdn for n in page.items] == ["13905759999"]
    # The last run's plan is reported as its portal closes, at the next statement.
    driver.execute("SELECT 1")
    searches = [p for p in plans if "mobile_number" in p and "number_grade" in p]
    assert len(searches) == 8
    for plan in searches:
        assert any(index in plan for index in ENDING_INDEXES), plan
        assert "Seq Scan on mobile_number" not in plan, plan


def _statistics_rows(session: Session) -> int:
    connection = session.connection()
    if session.get_bind().dialect.name == "postgresql":
        sql = "SELECT reltuples FROM pg_class WHERE relname = 'mobile_number'"
        return int(connection.exec_driver_sql(sql).scalar_one())
    stats = connection.exec_driver_sql(
        "SELECT stat FROM sqlite_stat1 WHERE tbl = 'mobile_number'"
    ).scalars()
    return max(int(stat.split()[0]) for stat in stats)


def test_statistics_follow_a_bulk_insert_but_not_a_small_one(session: Session) -> None:
    _generate(session, "1390575", 0, 9999)
    assert _statistics_rows(session) == 10_000
    numbers.import_numbers(session, csv_bytes("msisdn", "13812345678"), "n.csv", "billing1")
    assert _statistics_rows(session) == 10_000  # one more row: not worth an ANALYZE
    _generate(session, "1390576", 0, 999)
    assert _statistics_rows(session) == 11_001


# --- migration 0009 on a database with numbers ---------------------------------------------


@pytest.fixture(params=BACKENDS)
def old_engine(
    request: pytest.FixtureRequest, templates: Templates, tmp_path: Path
) -> Iterator[Engine]:
    """A database at revision 0008 holding 2,000 numbers, one with a wrong msisdn_rev."""
    url = templates.empty(request.param, tmp_path)
    migrate.upgrade(url, "0008")
    engine = make_engine(url)
    with Session(engine) as session:
        _generate(session, "1390575", 0, 1999)
        session.connection().exec_driver_sql(
            "UPDATE mobile_number SET msisdn_rev = '00000000000' WHERE msisdn = '13905751888'"
        )
        session.commit()
    yield engine
    engine.dispose()
    if request.param == "postgresql":
        templates.drop(url)


def test_migration_0009_indexes_existing_numbers_and_mends_their_reversed_digits(
    old_engine: Engine,
) -> None:
    alembic_step(old_engine, "upgrade", "0009")
    with Session(old_engine) as session:
        rows = session.connection().execute(text("SELECT msisdn, msisdn_rev FROM mobile_number"))
        assert all(rev == msisdn[::-1] for msisdn, rev in rows)
    indexes = {i["name"] for i in inspect(old_engine).get_indexes("mobile_number")}
    if old_engine.dialect.name == "postgresql":  # SQLite does not reflect expression indexes
        assert "ix_number_tail" in indexes
    alembic_step(old_engine, "downgrade", "0008")
    assert "ix_number_tail" not in {
        i["name"] for i in inspect(old_engine).get_indexes("mobile_number")
    }
    # The search (which reads the tables as the models have them now, later columns too)
    # finds the mended number.
    alembic_step(old_engine, "upgrade", "head")
    with Session(old_engine) as session:
        found = [n.msisdn for n in numbers.search_numbers(session, "*1888").items]
        assert found == ["13905751888"]
