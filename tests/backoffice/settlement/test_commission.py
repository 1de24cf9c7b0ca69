"""Commission rules: one-off, staged, revenue share and tiered slabs (no database)."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.domain.settlement.commission import (
    CommissionError,
    CommissionKind,
    CommissionPlan,
    NumberSale,
    Period,
    ShareBand,
    Slab,
    Stage,
    add_months,
    commission_for,
    plan_on,
    revenue_share,
    share_of,
)

PLAN = CommissionPlan(
    code="P1",
    effective_from=date(2026, 1, 1),
    one_off_fen={"*": 2_000, "G1": 10_000},
    stages=(Stage(3, 1_500), Stage(6, 1_500)),
    share_bands=(ShareBand(1, 6, 1_000), ShareBand(7, 12, 500)),
    slabs=(Slab(0, 0), Slab(10, 300), Slab(50, 800)),
)
JAN = Period(date(2026, 1, 1), date(2026, 1, 31))


def _total(lines, kind: CommissionKind | None = None) -> int:  # type: ignore[no-untyped-def]
    return sum(line.amount_fen for line in lines if kind is None or line.kind == kind)


def test_add_months_clamps_to_the_end_of_the_month() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert add_months(date(2026, 3, 15), -3) == date(2025, 12, 15)


def test_share_rounds_half_up_to_the_fen() -> None:
    assert share_of(1_005, 1_000) == 101  # 100.5 fen
    assert share_of(1_004, 1_000) == 100


def test_one_off_by_grade_with_a_default() -> None:
    sales = [
        NumberSale("13905750001", "STD", date(2026, 1, 5)),
        NumberSale("13905758888", "G1", date(2026, 1, 6)),
        NumberSale("13905750002", "STD", date(2026, 2, 1)),  # next period
    ]
    lines = commission_for([PLAN], sales, JAN)
    assert _total(lines, CommissionKind.one_off) == 12_000


def test_return_in_the_same_period_earns_nothing_and_later_reverses_there() -> None:
    same = NumberSale("13905750001", "STD", date(2026, 1, 5), returned_on=date(2026, 1, 9))
    later = NumberSale("13905750002", "STD", date(2026, 1, 5), returned_on=date(2026, 2, 3))
    assert _total(commission_for([PLAN], [same], JAN), CommissionKind.one_off) == 0
    assert _total(commission_for([PLAN], [later], JAN), CommissionKind.one_off) == 2_000
    feb = Period(date(2026, 2, 1), date(2026, 2, 28))
    reversal = [
        line for line in commission_for([PLAN], [later], feb) if line.kind == CommissionKind.one_off
    ]
    assert [(r.amount_fen, r.msisdn) for r in reversal] == [(-2_000, "13905750002")]


def test_staged_commission_is_paid_only_while_the_number_is_active() -> None:
    active = NumberSale("13905750001", "STD", date(2026, 1, 10), activated_on=date(2026, 1, 11))
    gone = NumberSale(
        "13905750002",
        "STD",
        date(2026, 1, 10),
        activated_on=date(2026, 1, 11),
        deactivated_on=date(2026, 3, 1),
    )
    never = NumberSale("13905750003", "STD", date(2026, 1, 10))
    april = Period(date(2026, 4, 1), date(2026, 4, 30))
    lines = commission_for([PLAN], [active, gone, never], april)
    staged = [line for line in lines if line.kind == CommissionKind.staged]
    assert [(s.msisdn, s.amount_fen) for s in staged] == [("13905750001", 1_500)]
    july = Period(date(2026, 7, 1), date(2026, 7, 31))
    assert _total(commission_for([PLAN], [active, gone, never], july)) == 1_500


def test_revenue_share_follows_the_band_of_months_since_the_sale() -> None:
    sale = NumberSale("13905750001", "STD", date(2026, 1, 20))
    billed = {
        date(2026, 1, 1): 5_000,  # month 0: no band
        date(2026, 2, 1): 10_000,  # month 1: 10 %
        date(2026, 8, 1): 10_000,  # month 7: 5 %
        date(2026, 12, 1): 20_000,  # month 11: 5 %
    }
    lines = {month: revenue_share([PLAN], sale, month, fen) for month, fen in billed.items()}
    assert {m: line.amount_fen if line else None for m, line in lines.items()} == {
        date(2026, 1, 1): None,
        date(2026, 2, 1): 1_000,
        date(2026, 8, 1): 500,
        date(2026, 12, 1): 1_000,
    }
    line = lines[date(2026, 2, 1)]
    assert line is not None
    assert (line.kind, line.msisdn, line.description) == (
        CommissionKind.revenue_share,
        "13905750001",
        "话费分成 2026-02 10%",
    )
    # The sales' own rules never pay revenue share: it follows the billing figures.
    year = Period(date(2026, 1, 1), date(2026, 12, 31))
    assert all(
        line.kind is not CommissionKind.revenue_share
        for line in commission_for([PLAN], [sale], year)
    )


def test_revenue_share_needs_a_plan_on_the_sale_day_and_revenue() -> None:
    before_any_plan = NumberSale("13905750001", "STD", PLAN.effective_from - timedelta(days=1))
    assert revenue_share([PLAN], before_any_plan, date(2026, 3, 1), 10_000) is None
    sale = NumberSale("13905750001", "STD", date(2026, 1, 20))
    assert revenue_share([PLAN], sale, date(2026, 3, 1), 0) is None


def test_a_period_lists_the_calendar_months_it_touches() -> None:
    assert Period(date(2026, 11, 20), date(2027, 1, 5)).months() == [
        (2026, 11),
        (2026, 12),
        (2027, 1),
    ]


def test_tiered_slab_pays_every_number_at_the_rate_reached() -> None:
    sales = [NumberSale(f"139057{i:05d}", "STD", date(2026, 1, 1 + i % 28)) for i in range(12)]
    lines = commission_for([PLAN], sales, JAN)
    assert _total(lines, CommissionKind.tiered) == 12 * 300
    # A month is paid in the period that holds its last day.
    first_half = Period(date(2026, 1, 1), date(2026, 1, 15))
    assert _total(commission_for([PLAN], sales, first_half), CommissionKind.tiered) == 0


def test_each_sale_is_judged_by_the_plan_of_its_day() -> None:
    newer = CommissionPlan("P2", date(2026, 1, 15), one_off_fen={"*": 5_000})
    old = CommissionPlan("P1", date(2025, 1, 1), date(2026, 1, 14), one_off_fen={"*": 1_000})
    sales = [
        NumberSale("13905750001", "STD", date(2026, 1, 14)),
        NumberSale("13905750002", "STD", date(2026, 1, 15)),
    ]
    lines = commission_for([old, newer], sales, JAN)
    assert [(line.plan, line.amount_fen) for line in lines] == [("P1", 1_000), ("P2", 5_000)]
    assert plan_on([old, newer], date(2024, 12, 31)) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stages": (Stage(0, 100),)}, "not payable"),
        ({"share_bands": (ShareBand(1, 6, 100), ShareBand(6, 9, 100))}, "overlap"),
        ({"share_bands": (ShareBand(1, 6, 20_000),)}, "not valid"),
        ({"slabs": (Slab(10, 100), Slab(5, 200))}, "must rise"),
        ({"effective_to": date(2025, 1, 1)}, "effective_to before"),
    ],
)
def test_bad_plans_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(CommissionError, match=message):
        CommissionPlan("BAD", date(2026, 1, 1), **kwargs)


sales_strategy = st.lists(
    st.builds(
        NumberSale,
        msisdn=st.from_regex(r"1390575[0-9]{4}", fullmatch=True),
        grade=st.sampled_from(["STD", "G1", "G3"]),
        sold_on=st.dates(date(2026, 1, 1), date(2026, 12, 31)),
        returned_on=st.none() | st.dates(date(2026, 1, 1), date(2027, 6, 30)),
        activated_on=st.none() | st.dates(date(2026, 1, 1), date(2027, 6, 30)),
        deactivated_on=st.none() | st.dates(date(2026, 1, 1), date(2027, 12, 31)),
    ).filter(lambda s: s.returned_on is None or s.returned_on >= s.sold_on),
    max_size=40,
)


@given(sales=sales_strategy, cut=st.integers(1, 540))
def test_splitting_a_span_into_periods_pays_the_same(sales: list[NumberSale], cut: int) -> None:
    """Nothing is paid twice or lost at a period boundary: two adjacent periods earn exactly
    what the span they make up earns."""
    start, end = date(2026, 1, 1), date(2027, 12, 31)
    middle = start + timedelta(days=cut)
    whole = commission_for([PLAN], sales, Period(start, end))
    parts = commission_for([PLAN], sales, Period(start, middle - timedelta(days=1)))
    parts += commission_for([PLAN], sales, Period(middle, end))
    assert _total(parts) == _total(whole)
    for kind in CommissionKind:
        assert _total(parts, kind) == _total(whole, kind)


@given(sales=sales_strategy)
def test_a_returned_sale_earns_no_net_one_off(sales: list[NumberSale]) -> None:
    span = Period(date(2026, 1, 1), date(2027, 6, 30))
    for sale in sales:
        earned = _total(commission_for([PLAN], [sale], span), CommissionKind.one_off)
        expected = 0 if sale.returned_on is not None else PLAN.one_off_for(sale.grade)
        assert earned == expected
