"""The worker's lifecycle steps: numbers back to the pool when their cooling ends, sold top-up
cards of expired batches expired; in bounded batches, audited per item, and idempotent."""

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, update
from sqlmodel import Session, select

from backoffice import worker
from backoffice.contracts.billing import VoucherGenerateRequest
from backoffice.core.config import Settings
from backoffice.models import AuditEntry, MobileNumber, SimCard, Voucher, VoucherBatch
from backoffice.services import audit
from backoffice.services.billing import holds, lifecycle, releases, sims, vouchers
from tests.backoffice.channel.helpers import (
    CIPHER,
    channel,
    pool,
    push,
    sale_event,
    stocked_numbers,
)
from tests.backoffice.helpers import csv_bytes, iccid

NUMBERS = [f"139057500{n:02d}" for n in range(6)]


def _row(session: Session, model: type, key: str):  # type: ignore[no-untyped-def]
    row = session.get(model, key)
    assert row is not None
    session.refresh(row)
    return row


def _audit_count(session: Session, action: str) -> int:
    return session.exec(
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
    ).one()


def _active(session: Session, model: type, keys: list[str], **values: object) -> None:
    """Items where a sale and provisioning would have put them."""
    table = model.__table__  # type: ignore[attr-defined]
    key = table.c[table.primary_key.columns.keys()[0]]
    session.connection().execute(
        update(table).where(key.in_(keys)).values(status="active", **values)
    )
    session.commit()


def _sold_with_sims(session: Session, count: int) -> list[str]:
    """SIM cards paired with the pool's first numbers, then both sold and activated, the
    numbers at an outlet: what a recycled number's last life leaves behind. Their ICCIDs."""
    data = csv_bytes("iccid,imsi", *(f"{iccid(n)},46000571{n:07d}" for n in range(count)))
    sims.import_sims(session, data, "sims.csv", "billing1", code="SIM-1")
    sims.pair_in_order(session, "SEG-A", "SIM-1", "billing1")
    shop = channel(session)
    _active(session, MobileNumber, NUMBERS, outlet_id=shop.outlet_id)
    _active(session, SimCard, [iccid(n) for n in range(count)])
    return [iccid(n) for n in range(count)]


def test_cooling_numbers_return_to_the_pool_unpaired_in_batches_once(session: Session) -> None:
    pool(session, end=99)
    cards = _sold_with_sims(session, 3)
    outlet_id = _row(session, MobileNumber, NUMBERS[0]).outlet_id
    for msisdn in NUMBERS[:5]:
        holds.deactivate_number(session, msisdn, "subscriber left", "billing1", cooling_days=0)
    holds.deactivate_number(session, NUMBERS[5], "subscriber left", "billing1", cooling_days=90)

    assert lifecycle.end_cooling(session, batch=2) == 5

    for msisdn in NUMBERS[:5]:
        number = _row(session, MobileNumber, msisdn)
        assert (number.status, number.cooling_until, number.iccid) == ("available", None, None)
        assert (number.outlet_id, number.prev_outlet_id) == (None, outlet_id)
    for card in cards:
        assert _row(session, SimCard, card).msisdn is None
    last = audit.entries(session, "number", NUMBERS[0])[0]
    assert (last.actor, last.action, last.from_status, last.to_status) == (
        "worker",
        "end_cooling",
        "cooling",
        "available",
    )
    assert last.reason is not None and last.reason.endswith(f"; SIM card {cards[0]} unpaired")
    plain = audit.entries(session, "number", NUMBERS[4])[0].reason
    assert plain is not None and plain.startswith("cooling ended 20") and "SIM" not in plain
    assert _audit_count(session, "end_cooling") == 5
    assert _row(session, MobileNumber, NUMBERS[5]).status == "cooling"

    # Idempotent: nothing more is due, nothing moves, nothing is audited again.
    assert lifecycle.end_cooling(session) == 0
    assert _audit_count(session, "end_cooling") == 5
    later = datetime.now(UTC) + timedelta(days=91)
    assert lifecycle.end_cooling(session, now=later) == 1
    assert _row(session, MobileNumber, NUMBERS[5]).status == "available"

    # Back in the pool for good: it pairs with a new SIM card like any other number.
    new_card = iccid(50)
    sims.import_sims(
        session, csv_bytes("iccid,imsi", f"{new_card},460005710000050"), "new.csv", "billing1"
    )
    sims.import_pairs(
        session, csv_bytes("msisdn,iccid", f"{NUMBERS[0]},{new_card}"), "p.csv", "billing1"
    )
    assert _row(session, MobileNumber, NUMBERS[0]).iccid == new_card


def _card_batch(session: Session, code: str, first: str, count: int, expires: date) -> list[str]:
    vouchers.generate_vouchers(
        session,
        VoucherGenerateRequest(
            face_value_fen=10_000,
            dealer_price_fen=9_700,
            expires_on=expires,
            code=code,
            first_serial=first,
            count=count,
        ),
        CIPHER,
        "billing1",
    )
    releases.release_vouchers(session, code, "billing1")
    return [f"{int(first) + n:017d}" for n in range(count)]


def test_sold_cards_of_expired_batches_expire_in_batches_once(session: Session) -> None:
    pool(session, end=9, cards=5)
    shop = channel(session)
    cards = stocked_numbers(session, shop.outlet_code, 1, cards=5)[1:]
    sale = sale_event(shop.terminal_no, 1, [("voucher", card, 5_000) for card in cards[:4]])
    assert push(session, shop, sale)[0].status.value == "accepted"
    holds.freeze_voucher(session, cards[3], "disputed payment", "billing1")
    later = _card_batch(session, "CARD100-B", "20575000000000001", 2, date(2100, 6, 30))
    _active(session, Voucher, later)

    # The last day of use is still a day of use.
    assert lifecycle.expire_vouchers(session, today=date(2099, 12, 31)) == 0
    assert lifecycle.expire_vouchers(session, today=date(2100, 1, 1), batch=2) == 3

    statuses = [_row(session, Voucher, card).status for card in cards]
    assert statuses == ["expired", "expired", "expired", "frozen", "in_stock"]
    assert [_row(session, Voucher, card).status for card in later] == ["active", "active"]
    entry = audit.entries(session, "voucher", cards[0])[0]
    assert (entry.actor, entry.action, entry.from_status, entry.to_status) == (
        "worker",
        "expire",
        "active",
        "expired",
    )
    assert entry.reason == "batch CARD50-A expired after 2099-12-31"
    assert _audit_count(session, "expire") == 3
    assert lifecycle.expire_vouchers(session, today=date(2100, 1, 1)) == 0
    assert _audit_count(session, "expire") == 3

    # Unfrozen after its batch expired, the card is active again only until the next round.
    holds.unfreeze_voucher(session, cards[3], "payment cleared", "billing1")
    assert lifecycle.expire_vouchers(session, today=date(2100, 1, 1)) == 1
    assert _row(session, Voucher, cards[3]).status == "expired"


def test_a_worker_round_runs_the_steps_and_seals_their_audit_rows(session: Session) -> None:
    pool(session, end=9, cards=2)
    _active(session, MobileNumber, NUMBERS[:2])
    for msisdn in NUMBERS[:2]:
        holds.deactivate_number(session, msisdn, "subscriber left", "billing1", cooling_days=0)
    _active(session, Voucher, ["10575000000000001"])
    # Time passes: the batch's last day of use is behind us.
    batches = VoucherBatch.__table__  # type: ignore[attr-defined]
    two_days_ago = datetime.now(UTC).date() - timedelta(days=2)
    session.connection().execute(update(batches).values(expires_on=two_days_ago))
    session.commit()

    worker.run_once(session, Settings(database_url="sqlite://"))

    assert [_row(session, MobileNumber, m).status for m in NUMBERS[:2]] == ["available"] * 2
    assert _row(session, Voucher, "10575000000000001").status == "expired"
    assert _row(session, Voucher, "10575000000000002").status == "in_warehouse"
    assert all(e.seq is not None for e in audit.entries(session, limit=1_000))
    worker.run_once(session, Settings(database_url="sqlite://"))
    assert _audit_count(session, "end_cooling") == 2 and _audit_count(session, "expire") == 1
