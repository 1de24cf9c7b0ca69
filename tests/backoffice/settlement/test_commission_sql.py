"""The commission a settlement run books in SQL against the rules' reference, the domain's
`commission_for`, on SQLite and PostgreSQL: random number sales of several grades (sold at
any time of day, some returned within or after their month, some activated and switched off
later) under two plans, one taking over from the other, settled and confirmed month by month
(confirming checks that each statement adds up to the ledger)."""

import random
from collections import Counter
from datetime import UTC, date, timedelta

import pytest
from sqlalchemy import select
from sqlmodel import Session

from backoffice.contracts.settlement import (
    CommissionPlanCreate,
    CommissionRules,
    SlabIn,
    StageIn,
)
from backoffice.domain.calendar import business_day, day_start
from backoffice.domain.settlement.accounts import StatementAction
from backoffice.domain.settlement.commission import NumberSale, Period, add_months, commission_for
from backoffice.models import DealerAccountEntry, NumberActivation, Sale, SaleLine
from backoffice.services.channel import dealers
from backoffice.services.settlement import plans, runs
from shared.ids import new_id
from tests.backoffice.channel.helpers import channel
from tests.backoffice.settlement.helpers import months_ago, run

GRADES = ("STD", "STD", "STD", "G1", "G2")


def _plans(session: Session, switch: date) -> None:
    """Two plans of the dealer: the second pays differently from `switch` on."""
    for code, since, until, rules in (
        (
            "OLD",
            date(2020, 1, 1),
            switch - timedelta(days=1),
            CommissionRules(
                one_off_fen={"*": 1_000, "G1": 5_000},
                stages=[StageIn(after_months=1, amount_fen=300)],
                slabs=[
                    SlabIn(min_volume=0, per_number_fen=0),
                    SlabIn(min_volume=4, per_number_fen=150),
                ],
            ),
        ),
        (
            "NEW",
            switch,
            None,
            CommissionRules(
                one_off_fen={"*": 1_200, "G2": 2_500},
                stages=[
                    StageIn(after_months=1, amount_fen=400),
                    StageIn(after_months=2, amount_fen=700),
                ],
                slabs=[
                    SlabIn(min_volume=3, per_number_fen=205),
                    SlabIn(min_volume=8, per_number_fen=333),
                ],
            ),
        ),
    ):
        plans.create_plan(
            session,
            CommissionPlanCreate(
                code=code, dealer="D1", effective_from=since, effective_to=until, rules=rules
            ),
            "sales1",
        )


def _sales(session: Session, rng: random.Random, dealer_id: str, first: date) -> list[NumberSale]:
    """Forty number sales (and a few cards) over the three months from `first`, written as a
    terminal's push would leave them; returns them as the domain sees them."""
    start = day_start(first).replace(tzinfo=None)
    span = int((day_start(add_months(first, 3)) - day_start(first)).total_seconds())
    sold: list[NumberSale] = []
    for i in range(48):
        sold_at = start + timedelta(seconds=rng.randrange(span))
        sale_id = new_id()
        card = i % 8 == 7
        msisdn = f"1390576{i:04d}"
        grade = rng.choice(GRADES)
        returned_at = None
        if rng.random() < 0.25:
            returned_at = sold_at + timedelta(days=rng.randrange(1, 50), hours=rng.randrange(24))
        session.add(
            Sale(
                id=sale_id,
                event_id=new_id(),
                receipt_no=f"T{i:016d}",
                terminal_id="t",
                outlet_id="o",
                dealer_id=dealer_id,
                clerk="clerk1",
                sold_at=sold_at.replace(tzinfo=UTC),
                total_fen=5_000,
                payments="[]",
            )
        )
        session.add(
            SaleLine(
                sale_id=sale_id,
                item_kind="voucher" if card else "number",
                item_key=f"1057600000000{i:04d}" if card else msisdn,
                product="voucher:5000" if card else f"number:{grade}",
                price_fen=5_000,
                list_price_fen=5_000,
                dealer_fen=4_850 if card else 5_000,
                returned_at=returned_at.replace(tzinfo=UTC) if returned_at else None,
            )
        )
        if card:
            continue
        sold_on = business_day(sold_at.replace(tzinfo=UTC))
        on = off = None
        if rng.random() < 0.8:
            on = sold_on + timedelta(days=rng.randrange(0, 20))
            if rng.random() < 0.3:
                off = on + timedelta(days=rng.randrange(1, 90))
            session.add(NumberActivation(msisdn=msisdn, activated_on=on, deactivated_on=off))
        returned_on = business_day(returned_at.replace(tzinfo=UTC)) if returned_at else None
        sold.append(NumberSale(msisdn, grade, sold_on, returned_on, on, off))
    session.commit()
    return sold


def _booked(session: Session, dealer_id: str, period: Period) -> Counter[tuple[object, ...]]:
    rows = session.connection().execute(
        select(
            DealerAccountEntry.item_key,  # type: ignore[call-overload]
            DealerAccountEntry.description,
            DealerAccountEntry.amount_fen,
            DealerAccountEntry.late,
        )
        .where(DealerAccountEntry.dealer_id == dealer_id)
        .where(DealerAccountEntry.kind == "commission")
        .where(DealerAccountEntry.booked_on >= period.start)
        .where(DealerAccountEntry.booked_on <= period.end)
    )
    return Counter(
        (item, description, amount, bool(late)) for item, description, amount, late in rows
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_the_run_books_what_the_rules_pay(session: Session, seed: int) -> None:
    rng = random.Random(seed)
    channel(session)
    dealer = dealers.find_dealer(session, "D1")
    first = months_ago(5).replace(day=1)
    _plans(session, add_months(first, 1) + timedelta(days=rng.randrange(28)))
    sales = _sales(session, rng, dealer.id, first)
    (rules,) = plans.plans_by_dealer(session, [dealer]).values()
    for back in range(5, 0, -1):
        month = months_ago(back).replace(day=1)
        period = Period(month, add_months(month, 1) - timedelta(days=1))
        run(session, month)
        expected = Counter(
            (line.msisdn, line.description, -line.amount_fen, False)
            for line in commission_for(rules, sales, period)
            if line.amount_fen
        )
        assert _booked(session, dealer.id, period) == expected, month
        assert run(session, month).entries_booked == 0  # the rerun finds it all booked
        # The statement adds up to the ledger: confirming checks it (statement_stale).
        runs.move_statement(session, f"ST-D1-{month:%Y%m%d}", StatementAction.confirm, "sales1")
