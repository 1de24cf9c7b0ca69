"""The number search language, planned into LIKE plus index ranges."""

import pytest

from shared.number_search import SearchPatternError, plan_search, upper_bound


@pytest.mark.parametrize(
    ("pattern", "like", "prefix", "suffix"),
    [
        ("*88", "%88", "", "88"),
        ("139*", "139%", "139", ""),
        ("139057?8888", "139057_8888", "139057", "8888"),
        ("520", "%520%", "", ""),
        ("13905758888", "13905758888", "13905758888", "13905758888"),
    ],
)
def test_plans(pattern: str, like: str, prefix: str, suffix: str) -> None:
    plan = plan_search(pattern)
    assert (plan.like, plan.prefix, plan.suffix) == (like, prefix, suffix)


@pytest.mark.parametrize("pattern", ["", "88a", "139?", "1%"])
def test_bad_patterns(pattern: str) -> None:
    with pytest.raises(SearchPatternError):
        plan_search(pattern)


def test_upper_bound_carries_nines() -> None:
    assert upper_bound("139") == "14"
    assert upper_bound("1399") == "14"
    assert upper_bound("99") is None
