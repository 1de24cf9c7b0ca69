"""Revenue-share commission from the billing system's monthly revenue per number: paid by
the band of months since the sale, booked once, corrections booked as differences in the
next open period, and the report's checks (SQLite and PostgreSQL)."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from backoffice.contracts.settlement import (
    RevenueLine,
    RevenueReport,
)
from backoffice.domain.settlement.accounts import StatementAction
from backoffice.domain.users import Role
from backoffice.services.errors import InvalidInput
from backoffice.services.settlement import revenue, runs
from tests.backoffice.channel.helpers import channel, pool, stocked_numbers
from tests.backoffice.settlement.helpers import (
    NUMBER_PRICE,
    Counter,
    month_start,
    months_ago,
    plan,
    run,
    statement_of,
)

Login = Callable[[Role], dict[str, str]]


def _share_plan(session: Session) -> None:
    """10 % of revenue in months 1 to 12 after the sale, nothing in the sale's own month."""
    plan(session, "D1", share=(1, 12, 1_000), code="SHARE", since=months_ago(24))


def _report(session: Session, month_of: int, **fen_by_number: int) -> None:
    revenue.report_revenue(
        session,
        RevenueReport(
            month=month_start(months_ago(month_of)),
            lines=[RevenueLine(msisdn=m, revenue_fen=fen) for m, fen in fen_by_number.items()],
        ),
        "billing1",
    )


def _revenue_lines(session: Session, dealer_id: str, month_of: int) -> list[tuple[str, int]]:
    statement = statement_of(session, dealer_id, month_start(months_ago(month_of)))
    return [
        (entry.description, entry.amount_fen)
        for entry in runs.statement_lines(session, statement)
        if entry.kind == "commission"
    ]


def test_revenue_share_is_paid_by_band_once_and_corrections_book_the_difference(
    session: Session,
) -> None:
    pool(session)
    shop = channel(session)
    kept, never_billed = stocked_numbers(session, shop.outlet_code, 2)
    _share_plan(session)
    Counter(session, shop).sell(
        months_ago(3), [("number", kept, NUMBER_PRICE), ("number", never_billed, NUMBER_PRICE)]
    )
    sale_month = f"{months_ago(3):%Y-%m}"
    billed_month = f"{months_ago(2):%Y-%m}"
    # The sale's own month is month 0: no band pays it.
    _report(session, 3, **{kept: 2_000})
    _report(session, 2, **{kept: 3_000})
    run(session, months_ago(3))
    assert _revenue_lines(session, shop.dealer_id, 3) == []
    run(session, months_ago(2))
    assert _revenue_lines(session, shop.dealer_id, 2) == [(f"话费分成 {billed_month} 10%", -300)]
    run(session, months_ago(2))  # a rerun of the draft books nothing twice
    statement = statement_of(session, shop.dealer_id, month_start(months_ago(2)))
    assert statement.commission_fen == -300
    runs.move_statement(session, statement.number, StatementAction.confirm, "sales1")

    # Billing corrects the closed month and reports the next one: the next open period
    # books the correction as a difference, and the new month's share.
    _report(session, 2, **{kept: 5_000})
    _report(session, 1, **{kept: 1_000})
    run(session, months_ago(1))
    assert sorted(_revenue_lines(session, shop.dealer_id, 1)) == sorted(
        [
            (f"话费分成调整 {billed_month} 10%", -200),
            (f"话费分成 {months_ago(1):%Y-%m} 10%", -100),
        ]
    )
    # The closed month's statement is untouched.
    assert statement_of(session, shop.dealer_id, month_start(months_ago(2))).commission_fen == -300
    assert sale_month != billed_month


def test_a_number_returned_before_the_month_earns_no_share(session: Session) -> None:
    pool(session)
    shop = channel(session)
    (number,) = stocked_numbers(session, shop.outlet_code, 1)
    _share_plan(session)
    counter = Counter(session, shop)
    sale = counter.sell(months_ago(3), [("number", number, NUMBER_PRICE)])
    counter.give_back(sale, [number], on=months_ago(2))
    # Returned during the month: the sale stood when the month began, so it earns.
    _report(session, 2, **{number: 4_000})
    # Returned before the month began: nothing is due.
    _report(session, 1, **{number: 4_000})
    run(session, months_ago(3))
    run(session, months_ago(2))
    assert _revenue_lines(session, shop.dealer_id, 2) == [
        (f"话费分成 {months_ago(2):%Y-%m} 10%", -400)
    ]
    run(session, months_ago(1))
    assert _revenue_lines(session, shop.dealer_id, 1) == []


def test_the_revenue_report_is_checked_and_replaces_figures(
    session: Session, client: TestClient, login: Login
) -> None:
    month = str(month_start(months_ago(1)))
    body = {
        "month": month,
        "lines": [
            {"msisdn": "13905750001", "revenue_fen": 1_000},
            {"msisdn": "13905750002", "revenue_fen": 2_000},
        ],
    }
    assert client.post("/api/v1/revenue", json=body, headers=login(Role.clerk)).status_code == 403
    billing = login(Role.billing)
    first = client.post("/api/v1/revenue", json=body, headers=billing)
    assert first.status_code == 200, first.text
    assert first.json() == {"month": month, "numbers": 2, "revenue_fen": 3_000, "replaced": 0}
    again = client.post("/api/v1/revenue", json=body, headers=billing).json()
    assert again["replaced"] == 2

    twice = {**body, "lines": body["lines"] + [{"msisdn": "13905750001", "revenue_fen": 5}]}
    refused = client.post("/api/v1/revenue", json=twice, headers=billing)
    assert refused.status_code == 422
    assert "lines[2]: number 13905750001 already on lines[0]" in refused.text
    mid_month = {**body, "month": month[:-2] + "15"}
    assert (
        "is not the first day of a month"
        in client.post("/api/v1/revenue", json=mid_month, headers=billing).text
    )
    negative = {**body, "lines": [{"msisdn": "13905750001", "revenue_fen": -1}]}
    assert client.post("/api/v1/revenue", json=negative, headers=billing).status_code == 422
    with pytest.raises(InvalidInput) as future:
        revenue.report_revenue(
            session,
            RevenueReport(
                month=month_start(months_ago(-2)),
                lines=[RevenueLine(msisdn="13905750001", revenue_fen=1)],
            ),
            "billing1",
        )
    assert future.value.code == "future_month"


def test_a_share_paid_for_a_month_whose_sale_no_longer_stands_is_taken_back(
    session: Session,
) -> None:
    pool(session)
    shop = channel(session)
    (number,) = stocked_numbers(session, shop.outlet_code, 1)
    _share_plan(session)
    counter = Counter(session, shop)
    sale = counter.sell(months_ago(3), [("number", number, NUMBER_PRICE)])
    _report(session, 2, **{number: 4_000})
    run(session, months_ago(2))
    assert _revenue_lines(session, shop.dealer_id, 2) == [
        (f"话费分成 {months_ago(2):%Y-%m} 10%", -400)
    ]
    # The number had come back before that month began; the terminal synced it only now.
    counter.give_back(sale, [number], on=months_ago(3) + timedelta(days=5))
    run(session, months_ago(1))
    assert _revenue_lines(session, shop.dealer_id, 1) == [
        (f"话费分成调整 {months_ago(2):%Y-%m}", 400)
    ]


def test_a_month_reported_long_after_still_pays_its_share(session: Session) -> None:
    pool(session)
    shop = channel(session)
    (number,) = stocked_numbers(session, shop.outlet_code, 1)
    plan(session, "D1", share=(1, 2, 1_000), code="SHORT", since=months_ago(24))
    Counter(session, shop).sell(months_ago(6), [("number", number, NUMBER_PRICE)])
    # Month 1 after the sale, reported five months late: beyond the bands' reach from now,
    # but reported since the previous period began, so this run sees it.
    _report(session, 5, **{number: 2_000})
    run(session, months_ago(0))
    assert _revenue_lines(session, shop.dealer_id, 0) == [
        (f"话费分成 {months_ago(5):%Y-%m} 10%", -200)
    ]
