"""What the settlement run's SQL says differently on PostgreSQL and SQLite: the business
calendar over the naive-UTC timestamps the tables hold, month arithmetic, SHA-1 for the
commission keys, and UUIDv7 ids made for a whole INSERT … SELECT. A run's bookings are
written by the database from these, so that no sale line travels to Python and back."""

import hashlib
from datetime import date
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    Date,
    String,
    cast,
    false,
    func,
    literal,
    literal_column,
)

from backoffice.domain.settlement.commission import add_months
from shared.ids import new_id

# China has kept UTC+8 all year since 1991 (backoffice.domain.calendar.ZONE): in SQL, a
# business day is the date of the UTC instant moved on by these hours.
_CHINA_HOURS = 8
# The last 48 bits of a UUIDv7 (rand_b's low bits) count the rows of one statement on from a
# random start below this, so that they never wrap within it.
_ROW_BITS = (1 << 47) - 1


def _sqlite_add_months(day: str | None, months: int | None) -> str | None:
    if day is None or months is None:
        return None
    return add_months(date.fromisoformat(day), months).isoformat()


def _sqlite_sha1(text: str | None) -> str | None:
    return None if text is None else hashlib.sha1(text.encode()).hexdigest()


class Dialect:
    """The SQL expressions of one connection's database. On SQLite it registers the two
    functions SQLite lacks on the connection: the domain's add_months and SHA-1."""

    def __init__(self, connection: Connection) -> None:
        self.postgresql = connection.dialect.name == "postgresql"
        if not self.postgresql:
            raw = connection.connection.driver_connection
            raw.create_function("haoka_add_months", 2, _sqlite_add_months, deterministic=True)  # type: ignore[union-attr]
            raw.create_function("haoka_sha1", 1, _sqlite_sha1, deterministic=True)  # type: ignore[union-attr]

    def day(self, at: ColumnElement[Any]) -> ColumnElement[date]:
        """The business day of an instant (backoffice.domain.calendar.business_day)."""
        if self.postgresql:
            return cast(at + literal_column(f"INTERVAL '{_CHINA_HOURS} hours'"), Date)
        # SQLite holds the text 'YYYY-MM-DD HH:MM:SS.ffffff' and would round the fraction to
        # the millisecond, carrying 23:59:59.9999 China time into the next day: whole seconds
        # only (a day starts on a whole second). The result is the text a Date column holds.
        return func.date(func.substr(at, 1, 19), f"+{_CHINA_HOURS} hours", type_=Date)

    def next_day(self, day: ColumnElement[date]) -> ColumnElement[date]:
        if self.postgresql:
            return cast(day + literal_column("1"), Date)
        return func.date(day, "+1 day", type_=Date)

    def add_months(
        self, day: ColumnElement[date], months: ColumnElement[int] | int
    ) -> ColumnElement[date]:
        """The same day `months` later, clamped to the month's end (domain add_months):
        PostgreSQL's month interval clamps alike; SQLite calls the domain's function."""
        if self.postgresql:
            return cast(day + func.make_interval(0, months), Date)
        return func.haoka_add_months(day, months, type_=Date)

    def month_of(self, day: ColumnElement[date]) -> ColumnElement[date]:
        """The first of the day's month."""
        if self.postgresql:
            return cast(func.date_trunc("month", day), Date)
        return func.date(day, "start of month", type_=Date)

    def month_end(self, month: ColumnElement[date]) -> ColumnElement[date]:
        """The last day of the month that starts on `month`."""
        if self.postgresql:
            return cast(month + literal_column("INTERVAL '1 month - 1 day'"), Date)
        return func.date(month, "+1 month", "-1 day", type_=Date)

    def month_text(self, month: ColumnElement[date]) -> ColumnElement[str]:
        """'YYYY-MM', as f"{month:%Y-%m}" writes it."""
        if self.postgresql:
            return func.to_char(month, "YYYY-MM", type_=String)
        return func.strftime("%Y-%m", month, type_=String)

    def sha1_hex(self, value: ColumnElement[str]) -> ColumnElement[str]:
        """The SHA-1 of the text's UTF-8 bytes as 40 hex digits (pgcrypto on PostgreSQL,
        migration 0013)."""
        if self.postgresql:
            sha1 = func.digest(value, literal_column("'sha1'"))
            return func.encode(sha1, literal_column("'hex'"), type_=String)
        return func.haoka_sha1(value, type_=String)

    def all_digits(self, value: ColumnElement[str]) -> ColumnElement[bool]:
        """Whether the text is one or more ASCII digits."""
        if self.postgresql:
            return value.regexp_match("^[0-9]+$")
        return (value != "") & value.op("NOT GLOB")(literal("*[^0-9]*"))

    def fen_as_yuan(self, fen: ColumnElement[int]) -> ColumnElement[str]:
        """Whole fen (not negative) as yuan with two decimals: f"{fen / 100:.2f}"."""
        cents = fen % 100
        return (
            text_of(fen // 100)
            + "."
            + func.substr(literal("0") + text_of(cents), func.length(text_of(cents)), 2)
        )

    def ids(self, *order_by: ColumnElement[Any]) -> ColumnElement[str]:
        """A UUIDv7 for each row of a statement, rising in the given order: one id made here
        gives the time and the first 74 bits, the row's number within the statement the last
        48."""
        base = new_id()
        start = int(base[24:], 16) & _ROW_BITS
        row = literal(start, BigInteger) + func.row_number().over(order_by=list(order_by))
        if self.postgresql:
            suffix = func.lpad(func.to_hex(row), 12, "0")
        else:
            suffix = func.printf("%012x", row)
        return literal(base[:24]) + suffix

    def key(self, text: ColumnElement[str]) -> ColumnElement[str]:
        """A text to group or sort by, compared byte by byte: a PostgreSQL database may
        compare text by its locale, which is slower (SQLite compares bytes)."""
        return text.collate("C") if self.postgresql else text

    def flag(self, condition: ColumnElement[bool]) -> ColumnElement[bool]:
        """A condition that may be NULL as a boolean column's value (NULL is false)."""
        return func.coalesce(condition, false())


def text_of(value: ColumnElement[Any]) -> ColumnElement[str]:
    """An integer as its decimal text."""
    return cast(cast(value, BigInteger), String)
