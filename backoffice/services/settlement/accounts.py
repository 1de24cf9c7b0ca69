"""A dealer's settlement account: the append-only ledger, its balance, payments, and
the settlement profile (cadence) that says which periods are closed."""

from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import (
    Select,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col
from sqlmodel import select as sql_select

from backoffice.contracts.channel import PaymentIn
from backoffice.contracts.settlement import (
    AccountEntryIn,
)
from backoffice.domain.calendar import business_day
from backoffice.domain.settlement.accounts import (
    Cadence,
    LedgerKind,
    SettlementError,
    StatementStatus,
    booking,
    check_entry,
    is_closed,
)
from backoffice.models import (
    Dealer,
    DealerAccountEntry,
    SettlementProfile,
    SettlementStatement,
)
from backoffice.models.settlement import SettlementVersion
from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.channel.dealers import charge_dealer, find_dealer
from backoffice.services.errors import Conflict, InvalidInput
from shared.ids import new_id

_ENTRIES = DealerAccountEntry.__table__  # type: ignore[attr-defined]
_VERSIONS = SettlementVersion.__table__  # type: ignore[attr-defined]


def _refuse(error: SettlementError) -> Conflict:
    return Conflict(error.message, code=error.code)


def cadence_of(session: Session, dealer_id: str) -> Cadence:
    profile = session.get(SettlementProfile, dealer_id)
    return Cadence(profile.cadence) if profile else Cadence.month


def set_cadence(session: Session, key: str, cadence: Cadence, actor: str) -> SettlementProfile:
    dealer = find_dealer(session, key)
    profile = session.get(SettlementProfile, dealer.id)
    before = profile.cadence if profile else Cadence.month.value
    if profile is None:
        profile = SettlementProfile(dealer_id=dealer.id, cadence=cadence.value, updated_by=actor)
    profile.cadence = cadence.value
    profile.updated_by = actor
    profile.updated_at = utcnow()
    session.add(profile)
    audit.record(
        session,
        actor=actor,
        entity_type="dealer",
        entity_id=dealer.id,
        action="settlement_cadence",
        from_status=before,
        to_status=cadence.value,
    )
    session.commit()
    return profile


def closed_periods(dealer_ids: Sequence[str]) -> Select[tuple[str, date]]:
    """The query of each dealer's last closed day, `closed_until`, for SQL that books."""
    return (
        select(
            SettlementStatement.dealer_id,  # type: ignore[call-overload]
            func.max(SettlementStatement.period_end).label("closed_until"),
        )
        .where(col(SettlementStatement.dealer_id).in_(dealer_ids))
        .where(
            col(SettlementStatement.status).in_([s.value for s in StatementStatus if is_closed(s)])
        )
        .group_by(SettlementStatement.dealer_id)
    )


def closed_until(session: Session, dealer_ids: Sequence[str]) -> dict[str, date]:
    """The last day of each dealer's latest confirmed or paid period, for dealers with one."""
    return dict(session.connection().execute(closed_periods(dealer_ids)).all())  # type: ignore[arg-type]


def touch(session: Session, dealer_ids: Iterable[str]) -> None:
    """Adds one to the dealers' settlement versions, in the caller's transaction: what their
    statements are computed from has changed. Rows are taken in key order, so that two
    writers never deadlock on them."""
    ids = sorted(set(dealer_ids))
    connection = session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    for start in range(0, len(ids), 1_000):
        statement = dialect.insert(_VERSIONS).values(
            [{"dealer_id": d, "version": 1} for d in ids[start : start + 1_000]]
        )
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["dealer_id"], set_={"version": _VERSIONS.c.version + 1}
            )
        )


def versions(session: Session, dealer_ids: Sequence[str]) -> dict[str, int]:
    """The dealers' settlement versions (0 for a dealer without a row)."""
    rows = session.connection().execute(
        select(_VERSIONS.c.dealer_id, _VERSIONS.c.version).where(
            _VERSIONS.c.dealer_id.in_(dealer_ids)
        )
    )
    return {dealer_id: int(version) for dealer_id, version in rows}


def post_entry(
    session: Session, key: str, request: AccountEntryIn, actor: str
) -> DealerAccountEntry:
    """Deposits, payments, adjustments and penalties posted by the sales centre. A payment
    also goes on the channel ledger, where it releases the dealer's credit for new stock:
    one payment, on both of the dealer's accounts."""
    dealer = find_dealer(session, key)
    kind = LedgerKind(request.kind)
    try:
        check_entry(kind, request.amount_fen, request.reason, request.approver)
    except SettlementError as exc:
        raise InvalidInput(exc.message, code=exc.code) from exc
    occurred = request.occurred_on or business_day(utcnow())
    booked, late = booking(occurred, closed_until(session, [dealer.id]).get(dealer.id))
    entry = DealerAccountEntry(
        id=new_id(),
        dealer_id=dealer.id,
        kind=kind.value,
        amount_fen=request.amount_fen,
        occurred_on=occurred,
        booked_on=booked,
        late=late,
        description=request.description,
        reason=request.reason,
        approver=request.approver,
        actor=actor,
    )
    session.add(entry)
    touch(session, [dealer.id])
    if kind is LedgerKind.payment:
        charge_dealer(
            session,
            dealer,
            request.amount_fen,
            kind="payment",
            actor=actor,
            note=request.description or f"payment {entry.id}",
        )
    audit.record(
        session,
        actor=actor,
        entity_type="dealer",
        entity_id=dealer.id,
        action=f"account_{kind.value}",
        reason=f"{request.amount_fen} fen; {request.reason or request.description}"[:255],
    )
    session.commit()
    return entry


def record_payment(session: Session, key: str, request: PaymentIn, actor: str) -> Dealer:
    """A payment received from the dealer: the same as posting a payment entry."""
    entry = AccountEntryIn(kind="payment", amount_fen=-request.amount_fen, description=request.note)
    post_entry(session, key, entry, actor)
    return find_dealer(session, key)


def balance(session: Session, dealer_id: str, before: date | None = None) -> int:
    """The sum of the dealer's entries (booked before `before`, when given)."""
    query = select(func.coalesce(func.sum(_ENTRIES.c.amount_fen), 0)).where(
        _ENTRIES.c.dealer_id == dealer_id
    )
    if before is not None:
        query = query.where(_ENTRIES.c.booked_on < before)
    return int(session.connection().execute(query).scalar_one())


def account_entries(
    session: Session, dealer_id: str, start: date | None = None, end: date | None = None
) -> list[DealerAccountEntry]:
    query = sql_select(DealerAccountEntry).where(DealerAccountEntry.dealer_id == dealer_id)
    if start is not None:
        query = query.where(DealerAccountEntry.booked_on >= start)
    if end is not None:
        query = query.where(DealerAccountEntry.booked_on <= end)
    return list(
        session.exec(query.order_by(col(DealerAccountEntry.booked_on), col(DealerAccountEntry.id)))
    )
