"""The checks every request contract passes: NUL in text anywhere (lists, keys, nested models),
integers beyond 64 bits, dates out of range; excerpts of bad values; answers from a newer back
office still readable."""

from datetime import UTC, date, datetime

import pytest
from pydantic import Field, ValidationError

from shared.checks import CheckedModel, Int32, excerpt, problem
from shared.sync import EventResult, RejectReason


class Inner(CheckedModel):
    note: str = ""


class Outer(CheckedModel):
    name: str = ""
    tags: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)
    inner: Inner | None = None
    count: int = 0
    small: Int32 = 0
    day: date | None = None
    at: datetime | None = None


@pytest.mark.parametrize(
    ("fields", "where", "why"),
    [
        ({"name": "a\x00b"}, "name", "NUL character (\\x00, at character 2)"),
        ({"tags": ["ok", "x\x00"]}, "tags", "item 2: must not contain a NUL"),
        ({"labels": {"k\x00": "v"}}, "labels", "must not contain a NUL"),
        ({"inner": {"note": "\x00"}}, "inner.note", "NUL"),
        ({"count": 2**63}, "count", "between"),
        ({"small": 2**31}, "small", "less than or equal to 2147483647"),
        ({"day": "0001-01-01"}, "day", "years 1900 to 9000"),
        ({"at": "9999-12-31T23:00:00+00:00"}, "at", "years 1900 to 9000"),
    ],
)
def test_unfit_values_are_refused_naming_their_field(
    fields: dict[str, object], where: str, why: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        Outer.model_validate(fields)
    (error,) = refused.value.errors()
    assert ".".join(str(p) for p in error["loc"]) == where
    assert why in error["msg"]


def test_fit_values_pass_unchanged() -> None:
    fine = Outer(
        name="越城通讯",
        tags=["a"],
        labels={"k": "v"},
        count=-(2**63),
        small=2**31 - 1,
        day=date(2026, 12, 7),
        at=datetime(2026, 12, 7, tzinfo=UTC),
    )
    assert fine.name == "越城通讯" and problem(fine.tags) is None


def test_an_excerpt_is_bounded_and_shows_nul() -> None:
    shown = excerpt("a\x00" + "b" * 10_000, 10)
    assert shown.startswith("a␀bbbbbbbb") and "10,000 more characters" not in shown
    assert "(9,992 more characters)" in shown and "\x00" not in shown
    assert excerpt("short") == "short"


def test_a_reason_added_by_a_newer_back_office_is_read_as_invalid_event() -> None:
    result = EventResult.model_validate(
        {"id": "x", "seq": 1, "status": "rejected", "reason": "brand_new_reason"}
    )
    assert result.reason is RejectReason.invalid_event
