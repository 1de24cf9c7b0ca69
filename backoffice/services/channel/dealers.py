"""Dealers, their outlets, terminals (with device credentials), staff and account ledger."""

import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import func, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from backoffice.contracts.channel import (
    DealerCreate,
    DealerStatusChange,
    DealerUpdate,
    OutletCreate,
    StaffCreate,
    TerminalCreate,
    TerminalPublic,
    TerminalRegistered,
)
from backoffice.contracts.users import UserCreate
from backoffice.core.i18n import N_
from backoffice.domain.channel import (
    ChannelRuleError,
    DealerStatus,
    TerminalStatus,
    check_dealer_move,
)
from backoffice.domain.users import Role
from backoffice.models import Dealer, DealerLedgerEntry, Outlet, SyncEvent, Terminal, User
from backoffice.models.types import utcnow
from backoffice.services import audit, users
from backoffice.services.channel import product_range
from backoffice.services.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)
from shared import pins
from shared.ids import new_id


def _add(
    session: Session, row: Dealer | Outlet | Terminal, action: str, actor: str, reason: str
) -> None:
    """A new master-data row with its audit entry (committed by `_commit`)."""
    session.add(row)
    audit.record(
        session,
        actor=actor,
        entity_type=type(row).__name__.lower(),
        entity_id=row.id,
        action=action,
        to_status=getattr(row, "status", None),
        reason=reason,
    )


def _commit(session: Session, what: str) -> None:
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"{what} already exists", code="already_exists") from exc


# --- dealers --------------------------------------------------------------------------------


def create_dealer(session: Session, request: DealerCreate, actor: str) -> Dealer:
    """A new active dealer with its product range."""
    dealer = Dealer(
        id=new_id(),
        code=request.code,
        name=request.name,
        kind=request.kind.value,
        status=DealerStatus.active.value,
        credit_limit_fen=request.credit_limit_fen,
    )
    _add(
        session,
        dealer,
        "create",
        actor,
        f"{request.code} {request.name}; credit limit {request.credit_limit_fen} fen",
    )
    if request.product_range != product_range.EVERYTHING:
        session.flush()
        product_range.set_range(session, dealer, request.product_range, actor)
    _commit(session, f"dealer {request.code!r}")
    return dealer


def find_dealer(session: Session, key: str) -> Dealer:
    dealer = session.exec(select(Dealer).where((Dealer.code == key) | (Dealer.id == key))).first()
    if dealer is None:
        raise NotFound(f"dealer {key!r} not found", code="dealer_not_found")
    return dealer


def list_dealers(session: Session) -> list[Dealer]:
    return list(session.exec(select(Dealer).order_by(col(Dealer.code))))


def dealer_by_code(session: Session, code: str) -> Dealer | None:
    """The dealer of this code, or None."""
    return session.exec(select(Dealer).where(Dealer.code == code)).first()


def dealer_choices(session: Session) -> list[tuple[str, str]]:
    """Every dealer as (code, "code name") by code, for a dealer menu: the two columns only
    (a province has thousands of dealers; whole rows would cost more than the page)."""
    rows = session.exec(select(Dealer.code, Dealer.name).order_by(col(Dealer.code)))
    return [(code, f"{code} {name}") for code, name in rows]


def dealers_by_id(session: Session, ids: set[str]) -> dict[str, Dealer]:
    """The dealers of these ids (a page's worth), by id."""
    if not ids:
        return {}
    return {d.id: d for d in session.exec(select(Dealer).where(col(Dealer.id).in_(ids)))}


def update_dealer(session: Session, key: str, request: DealerUpdate, actor: str) -> Dealer:
    dealer = find_dealer(session, key)
    changes = request.model_dump(exclude_unset=True, exclude_none=True, exclude={"product_range"})
    if not changes and request.product_range is None:
        raise InvalidInput("nothing to change: give name, kind, credit_limit_fen or product_range")
    before = {k: getattr(dealer, k) for k in changes}
    changes = {k: v for k, v in changes.items() if before[k] != v}
    if changes:
        dealer.sqlmodel_update(changes)
        dealer.updated_at = utcnow()
        session.add(dealer)
        audit.record(
            session,
            actor=actor,
            entity_type="dealer",
            entity_id=dealer.id,
            action="update",
            reason="; ".join(f"{k}: {before[k]} → {v}" for k, v in changes.items()),
        )
    if request.product_range is not None:
        product_range.set_range(session, dealer, request.product_range, actor)
    session.commit()
    return dealer


def change_dealer_status(
    session: Session, key: str, request: DealerStatusChange, actor: str
) -> Dealer:
    dealer = find_dealer(session, key)
    current = DealerStatus(dealer.status)
    try:
        check_dealer_move(current, request.status)
    except ChannelRuleError as exc:
        raise Conflict(str(exc), code=exc.code) from exc
    dealer.status = request.status.value
    dealer.updated_at = utcnow()
    session.add(dealer)
    audit.record(
        session,
        actor=actor,
        entity_type="dealer",
        entity_id=dealer.id,
        action="status",
        from_status=current.value,
        to_status=dealer.status,
        reason=request.reason,
    )
    session.commit()
    return dealer


def owed(session: Session, dealer_id: str) -> int:
    """What the dealer owes for the stock it was charged for, less payments and credits: the
    sum of its ledger (there is no running balance to drift from it)."""
    return owed_by_dealer(session, [dealer_id]).get(dealer_id, 0)


def owed_by_dealer(session: Session, dealer_ids: list[str] | None = None) -> dict[str, int]:
    query = select(
        DealerLedgerEntry.dealer_id, func.coalesce(func.sum(DealerLedgerEntry.amount_fen), 0)
    ).group_by(DealerLedgerEntry.dealer_id)
    if dealer_ids is not None:
        query = query.where(col(DealerLedgerEntry.dealer_id).in_(dealer_ids))
    return {dealer_id: int(total) for dealer_id, total in session.exec(query)}


def charge_dealer(
    session: Session,
    dealer: Dealer,
    amount_fen: int,
    *,
    kind: str,
    actor: str,
    document_id: str | None = None,
    note: str = "",
) -> None:
    """Adds a ledger entry within the dealer's credit limit. Touching the dealer row first
    locks it (the row on PostgreSQL, the database on SQLite), so concurrent charges take
    turns and each sums a ledger that holds the ones before it."""
    touch = update(Dealer).where(col(Dealer.id) == dealer.id).values(updated_at=utcnow())
    if amount_fen > 0:
        touch = touch.where(col(Dealer.status) == DealerStatus.active.value)
    if session.connection().execute(touch).rowcount != 1:
        session.rollback()
        fresh = find_dealer(session, dealer.id)
        raise Conflict(
            f"dealer {fresh.code} is {fresh.status}; nothing may be charged to it",
            code="dealer_not_active",
        )
    if amount_fen > 0:
        now_owed = owed(session, dealer.id)
        limit = session.exec(select(Dealer.credit_limit_fen).where(Dealer.id == dealer.id)).one()
        if now_owed + amount_fen > limit:
            session.rollback()
            fresh = find_dealer(session, dealer.id)
            raise Conflict(
                f"dealer {fresh.code} owes {now_owed} fen of a {limit} fen credit limit; "
                f"{amount_fen} fen more would exceed it",
                code="credit_limit_exceeded",
            )
    session.add(
        DealerLedgerEntry(
            id=new_id(),
            dealer_id=dealer.id,
            kind=kind,
            amount_fen=amount_fen,
            document_id=document_id,
            actor=actor,
            note=note[:255],
        )
    )
    # The next charge in this transaction sums the ledger; it must see this entry.
    session.flush()


def ledger(session: Session, key: str, limit: int = 200) -> list[DealerLedgerEntry]:
    dealer = find_dealer(session, key)
    return list(
        session.exec(
            select(DealerLedgerEntry)
            .where(DealerLedgerEntry.dealer_id == dealer.id)
            .order_by(col(DealerLedgerEntry.id).desc())
            .limit(limit)
        )
    )


# --- outlets --------------------------------------------------------------------------------


def create_outlet(session: Session, request: OutletCreate, actor: str) -> Outlet:
    dealer = find_dealer(session, request.dealer)
    if dealer.status == DealerStatus.terminated.value:
        raise Conflict(f"dealer {dealer.code} is terminated", code="dealer_not_active")
    outlet = Outlet(
        id=new_id(),
        dealer_id=dealer.id,
        code=request.code,
        name=request.name,
        address=request.address,
        timezone=request.timezone,
        reservation_quota=request.reservation_quota,
    )
    _add(session, outlet, "create", actor, f"{request.code} {request.name} of dealer {dealer.code}")
    _commit(session, f"outlet {request.code!r}")
    return outlet


def find_outlet(session: Session, key: str, dealer_scope: str | None = None) -> Outlet:
    """The outlet by code or id; with a dealer scope, another dealer's outlet is not found."""
    outlet = session.exec(select(Outlet).where((Outlet.code == key) | (Outlet.id == key))).first()
    if outlet is None or (dealer_scope is not None and outlet.dealer_id != dealer_scope):
        raise NotFound(f"outlet {key!r} not found", code="outlet_not_found")
    return outlet


def list_outlets(session: Session, dealer_scope: str | None = None) -> list[Outlet]:
    query = select(Outlet).order_by(col(Outlet.code))
    if dealer_scope is not None:
        query = query.where(Outlet.dealer_id == dealer_scope)
    return list(session.exec(query))


def page_of_outlets(
    session: Session, dealer_scope: str | None = None, after: str = "", limit: int = 50
) -> tuple[list[Outlet], str | None]:
    """Outlets in code order from after `after`, `limit` of them, and the code to go on from
    (None on the last page)."""
    query = select(Outlet).order_by(col(Outlet.code)).limit(limit + 1)
    if dealer_scope is not None:
        query = query.where(Outlet.dealer_id == dealer_scope)
    if after:
        query = query.where(col(Outlet.code) > after)
    rows = list(session.exec(query))
    return rows[:limit], (rows[limit - 1].code if len(rows) > limit else None)


def outlets_by_id(session: Session, ids: set[str]) -> dict[str, Outlet]:
    """The outlets of these ids (a page's worth), by id."""
    if not ids:
        return {}
    return {o.id: o for o in session.exec(select(Outlet).where(col(Outlet.id).in_(ids)))}


# --- staff ----------------------------------------------------------------------------------


def create_staff(session: Session, dealer_key: str, request: StaffCreate, actor: str) -> User:
    dealer = find_dealer(session, dealer_key)
    outlet_id = None
    if request.outlet is not None:
        outlet_id = find_outlet(session, request.outlet, dealer_scope=dealer.id).id
    return users.create_user(
        session,
        UserCreate(
            username=request.username,
            password=request.password,
            full_name=request.full_name,
            role=request.role,
        ),
        actor,
        dealer_id=dealer.id,
        outlet_id=outlet_id,
        pin=request.pin,
        note=f" of dealer {dealer.code}",
    )


def assign_user(
    session: Session,
    username: str,
    role: Role,
    dealer_key: str | None,
    outlet_key: str | None,
    actor: str,
) -> User:
    """An admin's change of a user's role, dealer and outlet (users.assign), the dealer and
    outlet found by code or id and the outlet one of the dealer's."""
    user = users.find_user(session, username)
    dealer = find_dealer(session, dealer_key) if dealer_key else None
    outlet = None
    if outlet_key:
        if dealer is None:
            raise InvalidInput(
                N_("An outlet belongs to a dealer: choose the dealer too."),
                code="dealer_required",
            )
        outlet = find_outlet(session, outlet_key, dealer_scope=dealer.id)
    note = (
        f"role {user.role} → {role.value}; dealer {_code(session, Dealer, user.dealer_id)} → "
        f"{dealer.code if dealer else '-'}; outlet {_code(session, Outlet, user.outlet_id)} → "
        f"{outlet.code if outlet else '-'}"
    )
    return users.assign(
        session,
        username,
        role,
        actor,
        dealer_id=dealer.id if dealer else None,
        outlet_id=outlet.id if outlet else None,
        note=note,
    )


def _code(session: Session, model: type[Dealer] | type[Outlet], row_id: str | None) -> str:
    row = None if row_id is None else session.get(model, row_id)
    return "-" if row is None else row.code


def outlet_staff(session: Session, outlet: Outlet) -> list[User]:
    """Dealer staff who may log in at this outlet's terminals."""
    return list(
        session.exec(
            select(User)
            .where(User.dealer_id == outlet.dealer_id)
            .where(col(User.is_active))
            .where((col(User.outlet_id).is_(None)) | (User.outlet_id == outlet.id))
            .order_by(col(User.username))
        )
    )


def dealer_staff(session: Session, dealer_id: str) -> dict[str, str]:
    """Username → role of the dealer's active staff: who may act at its counters (the clerk
    named on an event) and approve there (its dealer managers)."""
    users = User.__table__  # type: ignore[attr-defined]
    rows = session.connection().execute(
        sa_select(users.c.username, users.c.role)
        .where(users.c.dealer_id == dealer_id)
        .where(users.c.is_active)
        .where(users.c.role.in_([Role.clerk.value, Role.dealer_manager.value]))
    )
    return {username: role for username, role in rows}


# --- terminals ------------------------------------------------------------------------------


def _credential_hash(secret: str) -> str:
    # The terminal derives its PIN verifier key from the same digest (shared/pins.py).
    return pins.credential_digest(secret)


def terminal_public(terminal: Terminal) -> TerminalPublic:
    return TerminalPublic.model_validate(terminal, from_attributes=True)


def register_terminal(session: Session, request: TerminalCreate, actor: str) -> TerminalRegistered:
    outlet = find_outlet(session, request.outlet)
    dealer = find_dealer(session, outlet.dealer_id)
    if dealer.status != DealerStatus.active.value:
        raise Conflict(f"dealer {dealer.code} is {dealer.status}", code="dealer_not_active")
    secret = secrets.token_urlsafe(32)
    # Receipt numbers carry the terminal number, so it is never reused.
    last_no = session.exec(select(func.max(Terminal.terminal_no))).one() or 0
    terminal = Terminal(
        id=new_id(),
        terminal_no=last_no + 1,
        outlet_id=outlet.id,
        name=request.name,
        credential_hash=_credential_hash(secret),
        status=TerminalStatus.active.value,
    )
    _add(
        session,
        terminal,
        "register",
        actor,
        f"terminal {terminal.terminal_no} {request.name} at outlet {outlet.code}",
    )
    _commit(session, f"terminal number {terminal.terminal_no}")
    return TerminalRegistered(
        terminal=terminal_public(terminal), credential=f"{terminal.id}.{secret}"
    )


def find_terminal(session: Session, terminal_id: str) -> Terminal:
    terminal = session.get(Terminal, terminal_id)
    if terminal is None:
        raise NotFound(f"terminal {terminal_id!r} not found", code="terminal_not_found")
    return terminal


def list_terminals(session: Session, outlet_key: str | None = None) -> list[Terminal]:
    query = select(Terminal).order_by(col(Terminal.terminal_no))
    if outlet_key:
        query = query.where(Terminal.outlet_id == find_outlet(session, outlet_key).id)
    return list(session.exec(query))


def revoke_terminal(session: Session, terminal_id: str, reason: str, actor: str) -> Terminal:
    terminal = find_terminal(session, terminal_id)
    if terminal.status == TerminalStatus.revoked.value:
        raise Conflict(f"terminal {terminal.terminal_no} is already revoked", code="revoked")
    terminal.status = TerminalStatus.revoked.value
    terminal.revoked_at = utcnow()
    session.add(terminal)
    audit.record(
        session,
        actor=actor,
        entity_type="terminal",
        entity_id=terminal.id,
        action="revoke",
        from_status=TerminalStatus.active.value,
        to_status=terminal.status,
        reason=reason,
    )
    session.commit()
    return terminal


@dataclass(frozen=True)
class TerminalRow:
    """A terminal as the administrators' list shows it: where it stands, and what the office
    last heard from it. How many events the terminal still holds is known only to the
    terminal; the office knows the last event it received, by the terminal's own sequence."""

    terminal: Terminal
    outlet_code: str
    outlet_name: str
    dealer_code: str
    dealer_name: str
    last_seq: int | None


def _terminal_rows() -> Select:  # type: ignore[type-arg]
    """Terminals with their outlet, dealer and last event received: one index probe per
    terminal (the newest sync_event by terminal and seq), whatever the number of events."""
    last_seq = (
        sa_select(func.max(SyncEvent.seq))
        .where(col(SyncEvent.terminal_id) == col(Terminal.id))
        .correlate(Terminal)
        .scalar_subquery()
    )
    return (
        select(Terminal, Outlet.code, Outlet.name, Dealer.code, Dealer.name, last_seq)
        .join(Outlet, col(Outlet.id) == Terminal.outlet_id)
        .join(Dealer, col(Dealer.id) == Outlet.dealer_id)
    )


def page_of_terminals(
    session: Session,
    *,
    status: TerminalStatus | None = None,
    dealer_id: str | None = None,
    outlet_id: str | None = None,
    after: int | None = None,
    limit: int = 50,
) -> tuple[list[TerminalRow], int | None]:
    """One page of terminals by number after `after` (keyset), filtered, and the next page's
    key (None at the end)."""
    query = _terminal_rows().order_by(col(Terminal.terminal_no)).limit(limit + 1)
    if status is not None:
        query = query.where(Terminal.status == status.value)
    if dealer_id is not None:
        query = query.where(Outlet.dealer_id == dealer_id)
    if outlet_id is not None:
        query = query.where(Terminal.outlet_id == outlet_id)
    if after is not None:
        query = query.where(col(Terminal.terminal_no) > after)
    rows = [TerminalRow(*row) for row in session.exec(query)]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].terminal.terminal_no if more else None)


def terminal_row(session: Session, terminal_id: str) -> TerminalRow:
    """One terminal as the list shows it."""
    row = session.exec(_terminal_rows().where(Terminal.id == terminal_id)).first()
    if row is None:
        raise NotFound(f"terminal {terminal_id!r} not found", code="terminal_not_found")
    return TerminalRow(*row)


@dataclass(frozen=True)
class TerminalContext:
    """Who is calling a sync route: the terminal, its outlet and its dealer."""

    terminal: Terminal
    outlet: Outlet
    dealer: Dealer

    @property
    def actor(self) -> str:
        return f"terminal:{self.terminal.terminal_no}"

    @property
    def dealer_active(self) -> bool:
        return self.dealer.status == DealerStatus.active.value


def authenticate_terminal(session: Session, credential: str | None) -> TerminalContext:
    """The terminal owning a device credential `<terminal id>.<secret>`; revoked ones are
    refused. A suspended dealer's terminal authenticates: each use case decides."""
    if not credential or "." not in credential:
        raise Unauthenticated("send the terminal credential as Authorization: Bearer …")
    terminal_id, secret = credential.split(".", 1)
    row = session.exec(
        select(Terminal, Outlet, Dealer)
        .join(Outlet, col(Outlet.id) == Terminal.outlet_id)
        .join(Dealer, col(Dealer.id) == Outlet.dealer_id)
        .where(Terminal.id == terminal_id)
    ).first()
    if row is None or not hmac.compare_digest(row[0].credential_hash, _credential_hash(secret)):
        raise Unauthenticated("unknown terminal credential")
    terminal, outlet, dealer = row
    if terminal.status != TerminalStatus.active.value:
        raise Unauthenticated(
            f"terminal {terminal.terminal_no} is revoked", code="terminal_revoked"
        )
    return TerminalContext(terminal, outlet, dealer)


def require_active_dealer(context: TerminalContext) -> None:
    if not context.dealer_active:
        raise Forbidden(
            f"dealer {context.dealer.code} is {context.dealer.status}; its terminals are refused",
            code="dealer_suspended",
        )


# --- the sales centre's pages ---------------------------------------------------------------


@dataclass(frozen=True)
class DealerRow:
    """A dealer as the sales centre's list shows it."""

    dealer: Dealer
    outlets: int
    owed_fen: int


def page_of_dealers(
    session: Session,
    *,
    search: str = "",
    kind: str | None = None,
    status: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> tuple[list[DealerRow], str | None]:
    """One page of dealers by code after `after` (keyset), found by a part of the code or
    name, filtered by kind and status; and the next page's key (None at the end)."""
    query = select(Dealer).order_by(col(Dealer.code)).limit(limit + 1)
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            col(Dealer.code).ilike(pattern, escape="\\")
            | col(Dealer.name).ilike(pattern, escape="\\")
        )
    if kind is not None:
        query = query.where(Dealer.kind == kind)
    if status is not None:
        query = query.where(Dealer.status == status)
    if after is not None:
        query = query.where(col(Dealer.code) > after)
    found = list(session.exec(query))
    more = len(found) > limit
    found = found[:limit]
    ids = [d.id for d in found]
    outlets: dict[str, int] = {}
    if ids:
        outlets = dict(
            session.exec(
                select(Outlet.dealer_id, func.count())
                .where(col(Outlet.dealer_id).in_(ids))
                .group_by(Outlet.dealer_id)
            ).all()
        )
    owed_now = owed_by_dealer(session, ids) if ids else {}
    rows = [DealerRow(d, outlets.get(d.id, 0), owed_now.get(d.id, 0)) for d in found]
    return rows, (found[-1].code if more else None)


def dealer_counts(session: Session) -> dict[str, int]:
    """How many dealers there are in each status."""
    return {
        status: int(count)
        for status, count in session.exec(
            select(Dealer.status, func.count()).group_by(Dealer.status)
        ).all()
    }
