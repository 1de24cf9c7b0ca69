"""Settlement runs on SQLite and PostgreSQL: statements agree with their lines and the ledger,
returns reverse where they happen, staged commission needs a live number, closed periods stay
closed and late events move to the next open period."""

from datetime import date, timedelta

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session

from backoffice.contracts.settlement import CommissionPlanCreate, CommissionRules
from backoffice.domain.channel import DealerKind
from backoffice.domain.settlement.accounts import Cadence, StatementAction
from backoffice.domain.settlement.commission import add_months
from backoffice.models import DealerAccountEntry, DealerLedgerEntry, SaleLine
from backoffice.models.settlement import SettlementPending
from backoffice.services.channel import dealers
from backoffice.services.errors import Conflict, InvalidInput
from backoffice.services.settlement import accounts, plans, runs
from tests.backoffice.channel.helpers import channel, pool, stocked_numbers
from tests.backoffice.settlement.helpers import (
    CARD_PRICE,
    NUMBER_PRICE,
    Counter,
    activation,
    dealer_fen_of,
    month_start,
    months_ago,
    plan,
    post,
    run,
    statement_of,
)


def _lines_sum(session: Session, statement_number: str) -> int:
    statement = runs.find_statement(session, statement_number)
    return sum(e.amount_fen for e in runs.statement_lines(session, statement))


def test_statement_totals_equal_its_lines_and_the_ledger(session: Session) -> None:
    pool(session, cards=2)
    shop = channel(session)
    first, second, card, _ = stocked_numbers(session, shop.outlet_code, 2, cards=2)
    plan(session, "D1", one_off=2_000)
    day = months_ago(1)
    counter = Counter(session, shop)
    counter.sell(day, [("number", first, NUMBER_PRICE), ("voucher", card, CARD_PRICE)])
    counter.sell(day + timedelta(days=1), [("number", second, NUMBER_PRICE)])
    post(session, "D1", "deposit", -100_000, day)
    post(session, "D1", "payment", -7_000, day + timedelta(days=2))
    post(session, "D1", "penalty", 500, day, reason="加收开卡费 50 元, 顾客投诉录音 #17")
    post(session, "D1", "adjustment", -300, day, reason="价格表录入错误", approver="manager1")

    summary = run(session, day)

    statement = statement_of(session, shop.dealer_id, month_start(day))
    owed = dealer_fen_of(session, [first, second, card])
    assert card and owed < 3 * NUMBER_PRICE  # the card settles at its dealer price
    assert statement.sales_fen == owed
    assert statement.retail_collected_fen == 2 * NUMBER_PRICE + CARD_PRICE
    assert statement.commission_fen == -4_000
    assert statement.penalties_fen == 500
    assert statement.payments_fen == -7_000
    assert statement.deposits_fen == -100_000
    assert statement.adjustments_fen == -300
    assert statement.opening_fen == 0
    assert statement.closing_fen == owed - 4_000 + 500 - 7_000 - 100_000 - 300
    assert statement.closing_fen == statement.opening_fen + _lines_sum(session, statement.number)
    assert statement.closing_fen == accounts.balance(session, shop.dealer_id)
    assert statement.line_count == summary.entries_booked + 4 == 9


def test_a_rerun_of_a_draft_books_nothing_twice(session: Session) -> None:
    pool(session)
    shop = channel(session)
    (number,) = stocked_numbers(session, shop.outlet_code, 1)
    plan(session, "D1", one_off=2_000)
    day = months_ago(1)
    Counter(session, shop).sell(day, [("number", number, NUMBER_PRICE)])
    first = run(session, day)
    again = run(session, day)
    statement = statement_of(session, shop.dealer_id, month_start(day))
    assert (first.entries_booked, again.entries_booked) == (2, 0)
    assert (
        statement.closing_fen == NUMBER_PRICE - 2_000 == accounts.balance(session, shop.dealer_id)
    )


def test_a_return_in_a_later_period_reverses_in_that_period(session: Session) -> None:
    pool(session)
    shop = channel(session)
    kept, returned = stocked_numbers(session, shop.outlet_code, 2)
    plan(session, "D1", one_off=2_000)
    sold_on = months_ago(1)
    counter = Counter(session, shop)
    sale = counter.sell(
        sold_on, [("number", kept, NUMBER_PRICE), ("number", returned, NUMBER_PRICE)]
    )
    run(session, sold_on)
    october = statement_of(session, shop.dealer_id, month_start(sold_on))
    runs.move_statement(session, october.number, StatementAction.confirm, "sales1")

    counter.give_back(sale, [returned])  # accepted today, in this month
    today = months_ago(0)
    run(session, today)

    earlier = statement_of(session, shop.dealer_id, month_start(sold_on))
    assert (earlier.sales_fen, earlier.returns_fen, earlier.commission_fen) == (10_000, 0, -4_000)
    assert earlier.status == "confirmed"
    later = statement_of(session, shop.dealer_id, month_start(today))
    assert later.opening_fen == earlier.closing_fen
    assert later.sales_fen == 0
    assert later.returns_fen == -NUMBER_PRICE
    assert later.retail_collected_fen == -NUMBER_PRICE
    assert later.commission_fen == 2_000  # the one-off paid last month comes back
    assert later.closing_fen == accounts.balance(session, shop.dealer_id) == 3_000


def test_a_staged_commission_is_paid_only_while_the_number_is_active(session: Session) -> None:
    pool(session)
    shop = channel(session)
    live, switched_off, never_active = stocked_numbers(session, shop.outlet_code, 3)
    plan(session, "D1", stages=((3, 3_000), (6, 6_000)))
    sold_on = months_ago(4)
    Counter(session, shop).sell(
        sold_on,
        [
            ("number", live, NUMBER_PRICE),
            ("number", switched_off, NUMBER_PRICE),
            ("number", never_active, NUMBER_PRICE),
        ],
    )
    activation(session, live, "activated", sold_on)
    activation(session, switched_off, "activated", sold_on)
    activation(session, switched_off, "deactivated", sold_on + timedelta(days=40))
    due = add_months(sold_on, 3)

    run(session, sold_on)
    run(session, due)

    statement = statement_of(session, shop.dealer_id, month_start(due))
    lines = runs.statement_lines(session, statement)
    assert [(e.kind, e.item_key, e.amount_fen) for e in lines] == [("commission", live, -3_000)]
    assert statement.commission_fen == -3_000

    # Provisioning switches the live number off before its stage fell due: a rerun of the
    # draft appends the correction instead of rewriting what was booked.
    activation(session, live, "deactivated", due - timedelta(days=1))
    run(session, due)
    statement = statement_of(session, shop.dealer_id, month_start(due))
    assert statement.commission_fen == 0
    amounts = [e.amount_fen for e in runs.statement_lines(session, statement)]
    assert amounts == [-3_000, 3_000]


def test_a_confirmed_period_cannot_be_recomputed(session: Session) -> None:
    pool(session)
    shop = channel(session)
    channel(session, "D2")
    first, late = stocked_numbers(session, shop.outlet_code, 2)
    plan(session, "D1", one_off=2_000)
    day = months_ago(2)
    counter = Counter(session, shop)
    counter.sell(day, [("number", first, NUMBER_PRICE)])
    run(session, day, dealer=None)
    statement = statement_of(session, shop.dealer_id, month_start(day))
    runs.move_statement(session, statement.number, StatementAction.confirm, "sales1")

    with pytest.raises(Conflict) as refused:
        run(session, day)
    assert refused.value.code == "statement_closed"
    everyone = run(session, day, dealer=None)
    assert (everyone.statements, everyone.skipped_closed) == (1, 1)

    # A sale and a payment of the closed month arrive late: they go to the next month.
    counter.sell(day + timedelta(days=3), [("number", late, NUMBER_PRICE)])
    post(session, "D1", "payment", -1_000, day + timedelta(days=4))
    following = add_months(day, 1)
    run(session, following)
    closed = statement_of(session, shop.dealer_id, month_start(day))
    assert (closed.sales_fen, closed.payments_fen, closed.closing_fen) == (NUMBER_PRICE, 0, 3_000)
    nxt = statement_of(session, shop.dealer_id, month_start(following))
    lines = runs.statement_lines(session, nxt)
    assert {(e.kind, e.late, e.occurred_on, e.amount_fen) for e in lines} == {
        ("sale", True, day + timedelta(days=3), NUMBER_PRICE),
        ("payment", True, day + timedelta(days=4), -1_000),
        # the late sale's one-off, which its own (closed) month could not pay
        ("commission", True, nxt.period_end, -2_000),
    }
    assert {e.booked_on for e in lines if e.kind != "commission"} == {month_start(following)}
    assert nxt.closing_fen == 3_000 + NUMBER_PRICE - 2_000 - 1_000
    assert nxt.closing_fen == accounts.balance(session, shop.dealer_id)
    assert run(session, following).entries_booked == 0  # a rerun keeps the late one-off


def test_statement_lifecycle(session: Session) -> None:
    channel(session)
    day = months_ago(1)
    post(session, "D1", "deposit", -50_000, day)
    run(session, day)
    number = f"ST-D1-{month_start(day):%Y%m%d}"
    with pytest.raises(Conflict) as refused:
        runs.move_statement(session, number, StatementAction.mark_paid, "sales1")
    assert refused.value.code == "illegal_transition"
    disputed = runs.move_statement(session, number, StatementAction.dispute, "sales1", "押金未到账")
    assert (disputed.status, disputed.comment) == ("disputed", "押金未到账")
    assert run(session, day).statements == 1  # a disputed period may be recomputed
    runs.move_statement(session, number, StatementAction.confirm, "sales1")
    paid = runs.move_statement(session, number, StatementAction.mark_paid, "sales1")
    assert paid.status == "paid"


def test_entries_are_checked_and_the_ledger_is_append_only(session: Session) -> None:
    channel(session)
    today = date.today()
    with pytest.raises(InvalidInput) as unapproved:
        post(session, "D1", "adjustment", 100, today, reason="rounding")
    assert unapproved.value.code == "adjustment_unapproved"
    with pytest.raises(InvalidInput) as no_evidence:
        post(session, "D1", "penalty", 100, today)
    assert no_evidence.value.code == "penalty_without_evidence"
    with pytest.raises(InvalidInput) as wrong_sign:
        post(session, "D1", "payment", 100, today)
    assert wrong_sign.value.code == "wrong_sign"
    post(session, "D1", "payment", -100, today)  # on the account and the credit ledger
    for statement in (
        update(DealerAccountEntry).values(amount_fen=0),
        delete(DealerAccountEntry),
        update(DealerLedgerEntry).values(amount_fen=0),
        delete(DealerLedgerEntry),
    ):
        with pytest.raises((DBAPIError, IntegrityError)):
            session.connection().execute(statement)
        session.rollback()
    assert accounts.balance(session, dealers.find_dealer(session, "D1").id) == -100


def test_an_earlier_period_cannot_be_settled_after_a_later_one_closed(session: Session) -> None:
    channel(session)
    later = months_ago(1)
    post(session, "D1", "deposit", -1_000, later)
    run(session, later)
    runs.move_statement(
        session, f"ST-D1-{month_start(later):%Y%m%d}", StatementAction.confirm, "sales1"
    )
    with pytest.raises(Conflict) as refused:
        run(session, months_ago(2))
    assert refused.value.code == "later_period_closed"


def test_periods_run_out_of_order_settle_a_sale_once(session: Session) -> None:
    pool(session)
    shop = channel(session)
    (number,) = stocked_numbers(session, shop.outlet_code, 1)
    plan(session, "D1", one_off=2_000)
    early, later = months_ago(2), months_ago(1)
    Counter(session, shop).sell(early, [("number", number, NUMBER_PRICE)])
    # The later month is run first: the earlier month is open, so the sale stays in it.
    run(session, later)
    run(session, early)
    first = statement_of(session, shop.dealer_id, month_start(early))
    assert (first.sales_fen, first.commission_fen) == (NUMBER_PRICE, -2_000)
    assert first.closing_fen == _lines_sum(session, first.number) + first.opening_fen

    # The later draft was computed before the earlier month's commission was booked.
    second = statement_of(session, shop.dealer_id, month_start(later))
    with pytest.raises(Conflict) as refused:
        runs.move_statement(session, second.number, StatementAction.confirm, "sales1")
    assert refused.value.code == "statement_stale"
    run(session, later)
    second = runs.move_statement(session, second.number, StatementAction.confirm, "sales1")
    assert (second.opening_fen, second.sales_fen, second.commission_fen) == (
        NUMBER_PRICE - 2_000,
        0,
        0,
    )
    assert second.closing_fen == accounts.balance(session, shop.dealer_id)


def test_a_disputed_period_recomputed_does_not_pay_a_late_sale_s_one_off_again(
    session: Session,
) -> None:
    pool(session)
    shop = channel(session)
    first, late = stocked_numbers(session, shop.outlet_code, 2)
    plan(session, "D1", one_off=2_000)
    early, later = months_ago(2), months_ago(1)
    counter = Counter(session, shop)
    counter.sell(early, [("number", first, NUMBER_PRICE)])
    run(session, early)
    number = f"ST-D1-{month_start(early):%Y%m%d}"
    runs.move_statement(session, number, StatementAction.confirm, "sales1")
    counter.sell(early + timedelta(days=2), [("number", late, NUMBER_PRICE)])
    run(session, later)  # the late sale and its one-off go to the later month
    runs.move_statement(session, number, StatementAction.dispute, "sales1", "核对")
    run(session, early)
    run(session, later)
    one_offs = [
        e.amount_fen
        for start in (month_start(early), month_start(later))
        for e in runs.statement_lines(session, statement_of(session, shop.dealer_id, start))
        if e.kind == "commission"
    ]
    assert sum(one_offs) == -4_000  # one one-off per number sold


def test_an_entry_posted_into_a_computed_draft_must_be_rerun_before_confirming(
    session: Session,
) -> None:
    channel(session)
    day = months_ago(1)
    run(session, day)
    post(session, "D1", "payment", -1_000, day)
    number = f"ST-D1-{month_start(day):%Y%m%d}"
    with pytest.raises(Conflict) as refused:
        runs.move_statement(session, number, StatementAction.confirm, "sales1")
    assert refused.value.code == "statement_stale"
    run(session, day)
    confirmed = runs.move_statement(session, number, StatementAction.confirm, "sales1")
    assert (confirmed.status, confirmed.payments_fen) == ("confirmed", -1_000)


def test_a_dealer_s_own_plan_wins_over_its_kind_s(session: Session) -> None:
    pool(session)
    own, by_kind = channel(session, "D1"), channel(session, "D2")
    own_number = stocked_numbers(session, own.outlet_code, 1)[0]
    kind_number = stocked_numbers(session, by_kind.outlet_code, 1)[0]
    plan(session, "D1", one_off=3_000, code="OWN")
    plans.create_plan(
        session,
        CommissionPlanCreate(
            code="PARTNERS",
            dealer_kind=DealerKind.partner,
            effective_from=date(2020, 1, 1),
            rules=CommissionRules(one_off_fen={"*": 1_000}),
        ),
        "sales1",
    )
    day = months_ago(1)
    Counter(session, own).sell(day, [("number", own_number, NUMBER_PRICE)])
    Counter(session, by_kind).sell(day, [("number", kind_number, NUMBER_PRICE)])
    run(session, day, dealer=None)
    assert statement_of(session, own.dealer_id, month_start(day)).commission_fen == -3_000
    assert statement_of(session, by_kind.dealer_id, month_start(day)).commission_fen == -1_000


def test_a_weekly_dealer_settles_by_monday_to_sunday_weeks(session: Session) -> None:
    channel(session)
    accounts.set_cadence(session, "D1", Cadence.week, "sales1")
    monday = months_ago(1) - timedelta(days=months_ago(1).weekday())
    post(session, "D1", "deposit", -1_000, monday + timedelta(days=6))
    post(session, "D1", "deposit", -2_000, monday + timedelta(days=7))
    with pytest.raises(Conflict) as wrong:
        run(session, monday)  # a monthly run for a weekly dealer
    assert wrong.value.code == "wrong_cadence"
    assert run(session, monday, dealer=None).statements == 0
    run(session, monday + timedelta(days=3), cadence=Cadence.week)
    week = statement_of(session, dealers.find_dealer(session, "D1").id, monday)
    assert (week.period_end, week.deposits_fen) == (monday + timedelta(days=6), -1_000)


def test_late_sales_recount_a_closed_month_s_slab_in_the_next_open_period(
    session: Session,
) -> None:
    pool(session)
    shop = channel(session)
    first, second, third = stocked_numbers(session, shop.outlet_code, 3)
    plan(session, "D1", slabs=((0, 0), (2, 300)), code="SLABS")
    counter = Counter(session, shop)
    closed_month, open_month = months_ago(2), months_ago(1)
    counter.sell(closed_month, [("number", first, NUMBER_PRICE)])
    run(session, closed_month)
    closed = statement_of(session, shop.dealer_id, month_start(closed_month))
    assert closed.commission_fen == 0  # one number: below the first paying slab
    runs.move_statement(session, closed.number, StatementAction.confirm, "sales1")

    # A terminal that was offline pushes a second sale of the closed month: the month now
    # reaches the 2-number slab, and the open period pays the difference, marked late.
    counter.sell(closed_month, [("number", second, NUMBER_PRICE)])
    run(session, open_month)
    statement = statement_of(session, shop.dealer_id, month_start(open_month))
    tiered = [
        (e.description, e.amount_fen, e.late)
        for e in runs.statement_lines(session, statement)
        if e.kind == "commission"
    ]
    label = f"{closed_month:%Y-%m}"
    assert tiered == [(f"阶梯佣金补记 {label} 2户 × 3.00元", -600, True)]
    # A third late sale before the open period closes: the rerun books only what is new.
    counter.sell(closed_month, [("number", third, NUMBER_PRICE)])
    run(session, open_month)
    statement = statement_of(session, shop.dealer_id, month_start(open_month))
    assert statement.commission_fen == -900
    amounts = [
        e.amount_fen for e in runs.statement_lines(session, statement) if e.kind == "commission"
    ]
    assert amounts == [-600, -300]
    assert statement_of(session, shop.dealer_id, month_start(closed_month)).commission_fen == 0


def test_a_late_return_from_a_closed_month_takes_back_its_one_off_and_slab(
    session: Session,
) -> None:
    pool(session)
    shop = channel(session)
    first, second = stocked_numbers(session, shop.outlet_code, 2)
    plan(session, "D1", one_off=2_000, slabs=((0, 0), (2, 300)), code="BOTH")
    counter = Counter(session, shop)
    closed_month, open_month = months_ago(2), months_ago(1)
    sale = counter.sell(
        closed_month, [("number", first, NUMBER_PRICE), ("number", second, NUMBER_PRICE)]
    )
    run(session, closed_month)
    closed = statement_of(session, shop.dealer_id, month_start(closed_month))
    assert closed.commission_fen == -(2 * 2_000 + 2 * 300)
    runs.move_statement(session, closed.number, StatementAction.confirm, "sales1")

    # The customer brought one number back the next day, but the terminal only synced it now.
    counter.give_back(sale, [second], on=closed_month + timedelta(days=1))
    run(session, open_month)
    statement = statement_of(session, shop.dealer_id, month_start(open_month))
    lines = {
        (e.description, e.amount_fen, e.late)
        for e in runs.statement_lines(session, statement)
        if e.kind == "commission"
    }
    label = f"{closed_month:%Y-%m}"
    # The one-off comes back, and the month's volume falls below the paying slab.
    assert lines == {("退货冲回一次性佣金", 2_000, True), (f"阶梯佣金补记 {label} 0户", 600, True)}
    assert statement.returns_fen == -NUMBER_PRICE
    run(session, open_month)  # a rerun books nothing twice
    assert statement_of(session, shop.dealer_id, month_start(open_month)).commission_fen == 2_600


def _pending(session: Session) -> set[tuple[str, str]]:
    """What no run has booked yet, as (item, kind)."""
    rows = session.connection().execute(
        select(SaleLine.item_key, SettlementPending.kind).join(  # type: ignore[call-overload]
            SettlementPending, SettlementPending.line_id == SaleLine.id
        )
    )
    return {(item, kind) for item, kind in rows}


def test_a_run_books_what_is_pending_up_to_its_end_and_takes_it_off(session: Session) -> None:
    pool(session)
    shop = channel(session)
    first, second = stocked_numbers(session, shop.outlet_code, 2)
    early, later = months_ago(2), months_ago(1)
    counter = Counter(session, shop)
    sale = counter.sell(early, [("number", first, NUMBER_PRICE)])
    counter.sell(later, [("number", second, NUMBER_PRICE)])
    counter.give_back(sale, [first], on=later)
    assert _pending(session) == {(first, "sale"), (second, "sale"), (first, "return")}

    assert run(session, early).entries_booked == 1
    assert _pending(session) == {(second, "sale"), (first, "return")}
    assert run(session, early).entries_booked == 0

    assert run(session, later).entries_booked == 2
    assert _pending(session) == set()
    statement = statement_of(session, shop.dealer_id, month_start(later))
    assert (statement.sales_fen, statement.returns_fen) == (NUMBER_PRICE, -NUMBER_PRICE)


def test_a_draft_is_recomputed_when_another_period_s_run_booked_a_sale_it_pays_for(
    session: Session,
) -> None:
    pool(session)
    shop = channel(session)
    (number,) = stocked_numbers(session, shop.outlet_code, 1)
    plan(session, "D1", stages=((3, 3_000),))
    sold_on = months_ago(4)
    due = add_months(sold_on, 3)
    activation(session, number, "activated", sold_on)
    run(session, due)
    assert statement_of(session, shop.dealer_id, month_start(due)).commission_fen == 0

    # The sale reaches the office only now, and the run of its own month books it.
    Counter(session, shop).sell(sold_on, [("number", number, NUMBER_PRICE)])
    run(session, sold_on)
    run(session, due)

    statement = statement_of(session, shop.dealer_id, month_start(due))
    assert statement.commission_fen == -3_000
    assert statement.opening_fen == NUMBER_PRICE
    assert statement.closing_fen == accounts.balance(session, shop.dealer_id)


def test_a_rerun_with_nothing_new_keeps_the_figures_and_records_the_computation(
    session: Session,
) -> None:
    pool(session)
    shop = channel(session)
    (number,) = stocked_numbers(session, shop.outlet_code, 1)
    plan(session, "D1", one_off=2_000)
    day = months_ago(1)
    Counter(session, shop).sell(day, [("number", number, NUMBER_PRICE)])
    run(session, day)
    first = statement_of(session, shop.dealer_id, month_start(day))
    figures = first.model_dump(include={"closing_fen", "commission_fen", "line_count"})
    computed = first.computed_at

    run(session, day)
    again = statement_of(session, shop.dealer_id, month_start(day))
    assert again.model_dump(include=set(figures)) == figures
    assert again.computed_at >= computed

    # An entry posted into the draft moves it: the next run recomputes it.
    post(session, "D1", "payment", -1_000, day)
    run(session, day)
    moved = statement_of(session, shop.dealer_id, month_start(day))
    assert moved.closing_fen == figures["closing_fen"] - 1_000
    assert moved.line_count == figures["line_count"] + 1
    runs.move_statement(session, moved.number, StatementAction.confirm, "sales1")
