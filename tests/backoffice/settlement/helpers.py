"""Builders for the settlement tests: a stocked dealer, sales and returns pushed through the
sync service at chosen times, commission plans and provisioning callbacks."""

from datetime import UTC, date, datetime, time, timedelta

from sqlmodel import Session, select

from backoffice.contracts.settlement import (
    AccountEntryIn,
    ActivationCallback,
    CommissionPlanCreate,
    CommissionRules,
    SettlementRunIn,
    SettlementRunPublic,
    ShareBandIn,
    SlabIn,
    StageIn,
)
from backoffice.core.config import Settings
from backoffice.domain.settlement.accounts import Cadence
from backoffice.models import SaleLine, SettlementStatement
from backoffice.services.settlement import accounts, plans, revenue, runs
from shared.ids import new_id
from shared.sync import EventStatus, ReturnEvent, ReturnPayload, SaleEvent
from tests.backoffice.channel.helpers import Channel, push, sale_event

# Returns of sales from last month are allowed, so that a return lands in a later period.
LONG_WINDOW = Settings(database_url="sqlite://", return_window_days=200)
NUMBER_PRICE = 5_000
CARD_PRICE = 5_000


def noon(day: date) -> datetime:
    """Midday in China on `day`, safely inside that business day."""
    return datetime.combine(day, time(4, 0), UTC)


class Counter:
    """Pushes sales and returns from one terminal with rising sequence numbers."""

    def __init__(self, session: Session, shop: Channel) -> None:
        self.session, self.shop, self.seq = session, shop, 0

    def sell(self, day: date, items: list[tuple[str, str, int]]) -> SaleEvent:
        self.seq += 1
        event = sale_event(self.shop.terminal_no, self.seq, items, occurred_at=noon(day))
        (result,) = push(self.session, self.shop, event, settings=LONG_WINDOW)
        assert result.status is EventStatus.accepted, result
        return event

    def give_back(self, sale: SaleEvent, items: list[str], on: date | None = None) -> None:
        """Returns items of a sale, now or at noon on `on`."""
        self.seq += 1
        refund = sum(line.price_fen for line in sale.payload.lines if line.item in items)
        event = ReturnEvent(
            id=new_id(),
            seq=self.seq,
            occurred_at=noon(on) if on else datetime.now(UTC),
            payload=ReturnPayload(
                return_id=new_id(),
                original_receipt_no=sale.payload.receipt_no,
                clerk=sale.payload.clerk,
                items=items,
                refund_fen=refund,
            ),
        )
        (result,) = push(self.session, self.shop, event, settings=LONG_WINDOW)
        assert result.status is EventStatus.accepted, result


def dealer_fen_of(session: Session, items: list[str]) -> int:
    lines = session.exec(select(SaleLine).where(SaleLine.item_key.in_(items))).all()  # type: ignore[attr-defined]
    assert len(lines) == len(items)
    return sum(line.dealer_fen for line in lines)


def plan(
    session: Session,
    dealer: str,
    *,
    one_off: int = 0,
    stages: tuple[tuple[int, int], ...] = (),
    slabs: tuple[tuple[int, int], ...] = (),
    share: tuple[int, int, int] | None = None,
    code: str = "P1",
    since: date = date(2020, 1, 1),
) -> None:
    """A commission plan of the dealer: a one-off for every grade, (months, fen) stages,
    (min volume, fen) slabs, and one (first month, last month, basis points) share band."""
    plans.create_plan(
        session,
        CommissionPlanCreate(
            code=code,
            dealer=dealer,
            effective_from=since,
            rules=CommissionRules(
                one_off_fen={"*": one_off} if one_off else {},
                stages=[StageIn(after_months=m, amount_fen=a) for m, a in stages],
                slabs=[SlabIn(min_volume=v, per_number_fen=a) for v, a in slabs],
                share_bands=[
                    ShareBandIn(first_month=share[0], last_month=share[1], basis_points=share[2])
                ]
                if share
                else [],
            ),
        ),
        "sales1",
    )


def activation(session: Session, msisdn: str, status: str, on: date) -> None:
    revenue.record_activation(
        session,
        ActivationCallback(msisdn=msisdn, status=status, on=on),
        "provisioning1",  # type: ignore[arg-type]
    )


def post(session: Session, dealer: str, kind: str, amount: int, on: date, **extra: str) -> None:
    accounts.post_entry(
        session,
        dealer,
        AccountEntryIn(kind=kind, amount_fen=amount, occurred_on=on, **extra),  # type: ignore[arg-type]
        "sales1",
    )


def run(
    session: Session, day: date, dealer: str | None = "D1", cadence: Cadence = Cadence.month
) -> SettlementRunPublic:
    return runs.run_settlement(
        session, SettlementRunIn(day=day, cadence=cadence, dealer=dealer), "sales1"
    )


def statement_of(session: Session, dealer_id: str, start: date) -> SettlementStatement:
    row = session.exec(
        select(SettlementStatement)
        .where(SettlementStatement.dealer_id == dealer_id)
        .where(SettlementStatement.period_start == start)
    ).one()
    session.refresh(row)
    return row


def month_start(day: date) -> date:
    return day.replace(day=1)


def months_ago(months: int) -> date:
    """The 10th of the month `months` before this one."""
    today = datetime.now(UTC).date()
    index = today.year * 12 + today.month - 1 - months
    return date(index // 12, index % 12 + 1, 10)


def days_ago(days: int) -> date:
    return datetime.now(UTC).date() - timedelta(days=days)
