"""Reservations: TTL, daily quota, self-release on expiry, and exactly one winner of a race."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from backoffice import worker
from backoffice.core.config import Settings
from backoffice.models import MobileNumber, NumberReservation, Outlet
from backoffice.services.channel import reservations
from backoffice.services.errors import Conflict
from shared.sync import EventStatus, RejectReason
from tests.backoffice.channel.helpers import (
    Channel,
    channel,
    pool,
    push,
    sale_event,
    second_terminal,
)


def _number(session: Session, msisdn: str) -> MobileNumber:
    row = session.get(MobileNumber, msisdn)
    assert row is not None
    session.refresh(row)
    return row


def _outlet(session: Session, shop: Channel) -> Outlet:
    outlet = session.get(Outlet, shop.outlet_id)
    assert outlet is not None
    return outlet


def test_reservation_holds_a_pool_number_until_it_expires(session: Session) -> None:
    pool(session)
    shop = channel(session)
    held = reservations.reserve(session, _outlet(session, shop), "13905750123", "clerk", 30)
    number = _number(session, "13905750123")
    assert (number.status, number.held_from, number.outlet_id) == (
        "reserved",
        "available",
        shop.outlet_id,
    )
    with pytest.raises(Conflict) as taken:
        reservations.reserve(session, _outlet(session, shop), "13905750123", "clerk", 30)
    assert taken.value.code == "number_not_available"
    # Time passes: the reservation's end moves into the past.
    session.connection().execute(
        update(NumberReservation.__table__)  # type: ignore[arg-type]
        .where(NumberReservation.__table__.c.id == held.id)  # type: ignore[attr-defined]
        .values(expires_at=held.expires_at - timedelta(hours=1))
    )
    session.commit()
    worker.run_once(session, Settings(database_url="sqlite://"))
    number = _number(session, "13905750123")
    assert (number.status, number.held_from, number.outlet_id) == ("available", None, None)
    assert number.prev_outlet_id == shop.outlet_id
    assert reservations.expire_reservations(session) == 0


def test_daily_quota_per_outlet(session: Session) -> None:
    pool(session)
    shop = channel(session)
    outlet = _outlet(session, shop)
    outlet.reservation_quota = 2
    session.add(outlet)
    session.commit()
    reservations.reserve(session, outlet, "13905750101", "clerk", 30)
    reservations.reserve(session, outlet, "13905750102", "clerk", 30)
    with pytest.raises(Conflict, match="used its 2 reservations") as refused:
        reservations.reserve(session, outlet, "13905750103", "clerk", 30)
    assert refused.value.code == "quota_exhausted"
    assert _number(session, "13905750103").status == "available"


def test_only_the_reserving_terminal_may_sell_the_number(session: Session) -> None:
    pool(session)
    shop = channel(session)
    other = second_terminal(session, shop)
    msisdn = session.exec(
        select(MobileNumber.msisdn).where(MobileNumber.grade_code == "STD").limit(1)
    ).one()
    reservations.reserve(
        session, _outlet(session, shop), msisdn, "clerk", 30, terminal_id=shop.terminal_id
    )
    (refused,) = push(session, other, sale_event(other.terminal_no, 1, [("number", msisdn, 5_000)]))
    assert refused.reason is RejectReason.item_reserved_elsewhere
    (sold,) = push(session, shop, sale_event(shop.terminal_no, 1, [("number", msisdn, 5_000)]))
    assert sold.status is EventStatus.accepted
    assert _number(session, msisdn).status == "sold"


def test_concurrent_reservations_of_one_number_have_exactly_one_winner(engine: Engine) -> None:
    """Real threads, each with its own connection, released together by a barrier."""
    with Session(engine, expire_on_commit=False) as session:
        pool(session)
        shops = [channel(session, code=f"D{i}") for i in range(8)]
    barrier = threading.Barrier(len(shops))
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(shop: Channel) -> None:
        with Session(engine, expire_on_commit=False) as own:
            outlet = own.get(Outlet, shop.outlet_id)
            assert outlet is not None
            barrier.wait()
            try:
                reservations.reserve(own, outlet, "13905750777", "clerk", 30)
                outcome = "won"
            except Conflict as exc:
                outcome = exc.code
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=attempt, args=(s,)) for s in shops]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["number_not_available"] * (len(shops) - 1) + ["won"]
    with Session(engine) as session:
        assert _number(session, "13905750777").status == "reserved"
