"""Checks every value crossing the wire passes before it can reach a database: text without
NUL characters, integers and dates within what the columns hold; and bounded, printable
excerpts of bad values for error messages."""

from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

# PostgreSQL's integer and bigint; SQLite's integers are 64-bit.
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

# What an INTEGER column holds (most counts, versions, ids, amounts in fen of one sale).
Int32 = Annotated[int, Field(ge=-(2**31), le=INT32_MAX)]
# What a BIGINT column holds (ledger amounts, credit limits).
Int64 = Annotated[int, Field(ge=-(2**63), le=INT64_MAX)]

# Dates far outside business use overflow time-zone arithmetic (year 1 minus 8 hours).
EARLIEST_YEAR = 1900
LATEST_YEAR = 9000

UNFIT = "unfit_for_storage"
NUL = "\x00"
_NUL_SHOWN = "\u2400"  # ␀, so that a message shows where the NUL was without carrying it


def problem(value: object) -> str | None:
    """What makes a parsed value unfit for storage, or None: NUL in text (PostgreSQL text cannot
    hold it), an integer beyond 64 bits, a date outside years 1900–9000. Looks inside lists
    and mappings, naming the item."""
    if isinstance(value, str):
        if NUL in value:
            at = value.index(NUL)
            return f"must not contain a NUL character (\\x00, at character {at + 1})"
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        if not -(2**63) <= value <= INT64_MAX:
            return f"must be between {-(2**63)} and {INT64_MAX}"
        return None
    if isinstance(value, date):  # datetimes are dates too
        if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
            return f"must be in the years {EARLIEST_YEAR} to {LATEST_YEAR}"
        return None
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = problem(key) or problem(item)
            if found:
                return f"key {excerpt(str(key), 40)!r}: {found}"
        return None
    if isinstance(value, list | tuple | set | frozenset):
        for index, item in enumerate(value):
            found = problem(item)
            if found:
                return f"item {index + 1}: {found}"
    return None


def fit_for_storage(value: Any) -> Any:
    """The value, or a validation error (its own type, the message never quoting the value, so
    that it may be shown anywhere) saying what `problem` found."""
    found = problem(value)
    if found:
        raise PydanticCustomError(UNFIT, "{problem}", {"problem": found})
    return value


# The check of every CheckedModel field, for a value that comes in on its own: a path, query or
# form parameter whose text the app-wide check sees, but not what it parses to.
FIT_FOR_STORAGE = AfterValidator(fit_for_storage)
# A date parameter: refused, with its name, outside the years 1900–9000.
CheckedDate = Annotated[date, FIT_FOR_STORAGE]


class CheckedModel(BaseModel):
    """Base of every request contract: each field, whatever its declared type, is refused with
    its name when `problem` finds something wrong, so that no route has to remember to check
    text for NUL or numbers for range. Nested models check their own fields."""

    # Fields whose items are checked elsewhere, one by one (a push's events).
    unchecked_fields: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="after")
    @classmethod
    def _fit_for_storage(cls, value: Any, info: ValidationInfo) -> Any:
        # Text, the bulk of every contract, checked here without the general walk: this
        # runs for every field of every event of a push.
        kind = type(value)
        if kind is str:
            if NUL in value:
                fit_for_storage(value)
            return value
        if kind is int:
            if not -(2**63) <= value <= INT64_MAX:
                fit_for_storage(value)
            return value
        if value is None or kind is bool or info.field_name in cls.unchecked_fields:
            return value
        # Nested models (alone or in a list) have checked their own fields.
        if isinstance(value, BaseModel) or (
            kind is list and all(isinstance(item, BaseModel) for item in value)
        ):
            return value
        return fit_for_storage(value)


def excerpt(text: str, limit: int = 100) -> str:
    """At most `limit` characters of a (bad) value for a message or report, NUL shown as ␀ and
    the rest counted, so that a 200 MB cell is never echoed back whole."""
    shown = text[:limit].replace(NUL, _NUL_SHOWN)
    if len(text) > limit:
        shown += f"… ({len(text) - limit:,} more characters)"
    return shown


def printable(text: str) -> str:
    """Text with NUL characters shown as ␀: safe to store and to log."""
    return text.replace(NUL, _NUL_SHOWN)
