"""Holds and the other single-item lifecycle moves (freeze/unfreeze numbers and top-up cards,
void, deactivate into cooling, SIM cards damaged or lost): through the services, over HTTP
and on the command line. Every move is audited with its reason; every refusal names the item
and changes nothing."""

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, select
from typer.testing import CliRunner

from backoffice.cli import app
from backoffice.core.config import Settings, get_settings
from backoffice.domain.users import Role
from backoffice.models import MobileNumber, NumberReservation, Outlet, SimCard, Voucher
from backoffice.services import audit
from backoffice.services.billing import holds, sims
from backoffice.services.channel import reservations
from backoffice.services.counter import redemption
from tests.backoffice.channel.helpers import (
    CIPHER,
    Channel,
    channel,
    pool,
    push,
    sale_event,
    stocked_numbers,
)
from tests.backoffice.helpers import csv_bytes, iccid

Login = Callable[[Role], dict[str, str]]
NUMBER = "13905750001"
CARD = "10575000000000001"
runner = CliRunner()


def _row(session: Session, model: type, key: str):  # type: ignore[no-untyped-def]
    """The row as the database has it now."""
    row = session.get(model, key)
    assert row is not None
    session.refresh(row)
    return row


def _set_status(session: Session, model: type, key: str, status: str) -> None:
    """Puts an item where another part of the system (a sale, provisioning) would have."""
    table = model.__table__  # type: ignore[attr-defined]
    session.connection().execute(
        update(table)
        .where(table.c[table.primary_key.columns.keys()[0]] == key)
        .values(status=status)
    )
    session.commit()


def _audit(
    session: Session, entity_type: str, key: str
) -> list[tuple[str, str | None, str | None, str | None]]:
    """The item's audit rows, oldest first: (action, from, to, reason)."""
    return [
        (e.action, e.from_status, e.to_status, e.reason)
        for e in reversed(audit.entries(session, entity_type, key))
    ]


def _sims_paired(session: Session, count: int = 3) -> list[str]:
    """SIM cards imported and paired in order with the pool's first numbers; their ICCIDs."""
    data = csv_bytes("iccid,imsi", *(f"{iccid(n)},46000571{n:07d}" for n in range(count)))
    sims.import_sims(session, data, "sims.csv", "billing1", code="SIM-1")
    sims.pair_in_order(session, "SEG-A", "SIM-1", "billing1")
    return [iccid(n) for n in range(count)]


# --- numbers -----------------------------------------------------------------------------------


def test_freeze_remembers_the_prior_status_and_unfreeze_returns_to_it(session: Session) -> None:
    pool(session, end=9)
    before = _row(session, MobileNumber, NUMBER).version

    frozen = holds.freeze_number(session, NUMBER, "  police request 118 ", "billing1")

    assert (frozen.from_status, frozen.to_status, frozen.held_from) == (
        "available",
        "frozen",
        "available",
    )
    assert frozen.reason == "police request 118" and frozen.actor == "billing1"
    number = _row(session, MobileNumber, NUMBER)
    assert (number.status, number.held_from, number.version) == ("frozen", "available", before + 1)

    thawed = holds.unfreeze_number(session, NUMBER, "cleared", "billing1")

    assert (thawed.from_status, thawed.to_status, thawed.held_from) == ("frozen", "available", None)
    number = _row(session, MobileNumber, NUMBER)
    assert (number.status, number.held_from) == ("available", None)
    assert _audit(session, "number", NUMBER)[-2:] == [
        ("freeze", "available", "frozen", "police request 118"),
        ("unfreeze", "frozen", "available", "cleared"),
    ]


def test_a_frozen_number_in_an_outlets_stock_stays_there_and_cannot_be_sold(
    session: Session,
) -> None:
    pool(session, end=9)
    shop = channel(session)
    msisdn = stocked_numbers(session, shop.outlet_code, 2)[0]

    holds.freeze_number(session, msisdn, "suspected hoarding", "billing1")

    number = _row(session, MobileNumber, msisdn)
    assert (number.status, number.held_from, number.outlet_id) == (
        "frozen",
        "in_stock",
        shop.outlet_id,
    )
    (result,) = push(session, shop, sale_event(shop.terminal_no, 1, [("number", msisdn, 5_000)]))
    assert result.status.value == "rejected"
    assert _row(session, MobileNumber, msisdn).status == "frozen"

    holds.unfreeze_number(session, msisdn, "checked", "billing1")
    number = _row(session, MobileNumber, msisdn)
    assert (number.status, number.held_from, number.outlet_id) == (
        "in_stock",
        None,
        shop.outlet_id,
    )


def test_clerks_freezing_and_a_counter_selling_one_number_at_once_have_one_winner(
    engine: Engine,
) -> None:
    """Real threads, each with its own connection, released together by a barrier."""
    with Session(engine, expire_on_commit=False) as session:
        pool(session, end=9)
        shop = channel(session)
        msisdn = stocked_numbers(session, shop.outlet_code, 1)[0]
    clerks = 4
    barrier = threading.Barrier(clerks + 1)
    outcomes: list[str] = []
    lock = threading.Lock()

    def freeze(n: int) -> None:
        with Session(engine, expire_on_commit=False) as own:
            barrier.wait()
            try:
                holds.freeze_number(own, msisdn, f"hold {n}", f"billing{n}")
                outcome = "frozen"
            except holds.IllegalMove as exc:
                outcome = f"refused in status {exc.status}"
        with lock:
            outcomes.append(outcome)

    def sell() -> None:
        with Session(engine, expire_on_commit=False) as own:
            event = sale_event(shop.terminal_no, 1, [("number", msisdn, 5_000)])
            barrier.wait()
            (result,) = push(own, shop, event)
        with lock:
            outcomes.append("sold" if result.status.value == "accepted" else "not sold")

    threads = [threading.Thread(target=freeze, args=(n,)) for n in range(clerks)]
    threads.append(threading.Thread(target=sell))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with Session(engine) as session:
        final = _row(session, MobileNumber, msisdn).status
        freezes = [e for e in audit.entries(session, "number", msisdn) if e.action == "freeze"]
    if final == "sold":
        assert sorted(outcomes) == ["refused in status sold"] * clerks + ["sold"]
        assert freezes == []
    else:
        assert final == "frozen"
        assert sorted(outcomes) == ["frozen", "not sold"] + ["refused in status frozen"] * (
            clerks - 1
        )
        assert len(freezes) == 1


def _reserve(session: Session, shop: Channel, msisdn: str) -> None:
    outlet = session.get(Outlet, shop.outlet_id)
    assert outlet is not None
    reservations.reserve(session, outlet, msisdn, "clerk", 30)


def test_freezing_a_reserved_number_ends_the_reservation_and_the_outlets_hold(
    session: Session,
) -> None:
    pool(session, end=9)
    shop = channel(session)
    _reserve(session, shop, NUMBER)

    frozen = holds.freeze_number(session, NUMBER, "vanity number under review", "billing1")

    # Unfreezing goes back past the reservation, to the pool it was reserved from.
    assert (frozen.from_status, frozen.held_from) == ("reserved", "available")
    number = _row(session, MobileNumber, NUMBER)
    assert (number.status, number.outlet_id, number.prev_outlet_id) == (
        "frozen",
        None,
        shop.outlet_id,
    )
    reservation = session.exec(
        select(NumberReservation).where(NumberReservation.msisdn == NUMBER)
    ).one()
    session.refresh(reservation)
    assert reservation.status == "cancelled"
    # Nothing left for the reservation's expiry to release (or to audit).
    assert reservations.expire_reservations(session) == 0
    holds.unfreeze_number(session, NUMBER, "review done", "billing1")
    number = _row(session, MobileNumber, NUMBER)
    assert (number.status, number.outlet_id) == ("available", None)
    assert [a for a, *_ in _audit(session, "number", NUMBER)] == [
        "reserve",
        "freeze",
        "unfreeze",
    ]


def test_refusals_name_the_item_and_change_nothing(session: Session) -> None:
    pool(session, end=9)
    _set_status(session, MobileNumber, NUMBER, "sold")
    version = _row(session, MobileNumber, NUMBER).version

    with pytest.raises(holds.IllegalMove) as illegal:
        holds.freeze_number(session, NUMBER, "too late", "billing1")
    assert illegal.value.code == "illegal_transition"
    assert str(illegal.value).startswith(f"number {NUMBER} in status sold cannot be frozen")
    assert (illegal.value.key, illegal.value.status, illegal.value.action) == (
        NUMBER,
        "sold",
        "freeze",
    )

    with pytest.raises(holds.IllegalMove, match="number 13905750002 in status available cannot"):
        holds.unfreeze_number(session, "13905750002", "not frozen", "billing1")
    with pytest.raises(holds.ItemNotFound, match="number 13905759999 not found") as missing:
        holds.freeze_number(session, "13905759999", "why", "billing1")
    assert missing.value.code == "number_not_found"
    with pytest.raises(holds.BadItemKey, match="number '1390575' must be 11 digits") as bad:
        holds.freeze_number(session, "1390575", "why", "billing1")
    assert bad.value.code == "invalid_number"
    with pytest.raises(holds.ReasonRequired) as no_reason:
        holds.freeze_number(session, "13905750002", "   ", "billing1")
    assert no_reason.value.code == "reason_required"
    with pytest.raises(holds.ReasonRequired) as long_reason:
        holds.freeze_number(session, "13905750002", "x" * 501, "billing1")
    assert long_reason.value.code == "reason_too_long"

    assert _row(session, MobileNumber, NUMBER).version == version
    assert _row(session, MobileNumber, "13905750002").status == "available"
    assert audit.entries(session, "number") == []


def test_deactivating_an_active_number_starts_its_cooling(session: Session) -> None:
    pool(session, end=9)
    _set_status(session, MobileNumber, NUMBER, "active")
    started = datetime.now(UTC)

    moved = holds.deactivate_number(session, NUMBER, "subscriber left", "billing1", cooling_days=90)

    assert (moved.from_status, moved.to_status) == ("active", "cooling")
    number = _row(session, MobileNumber, NUMBER)
    assert number.status == "cooling" and number.cooling_until == moved.cooling_until
    assert moved.cooling_until is not None
    assert started + timedelta(days=90) <= moved.cooling_until
    assert moved.cooling_until <= datetime.now(UTC) + timedelta(days=90)
    assert _audit(session, "number", NUMBER)[-1] == (
        "deactivate",
        "active",
        "cooling",
        "subscriber left",
    )
    with pytest.raises(holds.IllegalMove, match="in status cooling cannot be deactivated"):
        holds.deactivate_number(session, NUMBER, "again", "billing1")
    with pytest.raises(holds.IllegalMove, match="only from active"):
        holds.deactivate_number(session, "13905750002", "never sold", "billing1")


def test_deactivation_takes_the_cooling_period_from_the_settings(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool(session, end=9)
    _set_status(session, MobileNumber, NUMBER, "active")
    monkeypatch.setenv("HAOKA_NUMBER_COOLING_DAYS", "30")
    get_settings.cache_clear()
    try:
        moved = holds.deactivate_number(session, NUMBER, "subscriber left", "billing1")
    finally:
        get_settings.cache_clear()
    assert moved.cooling_until is not None
    days = (moved.cooling_until - datetime.now(UTC)).total_seconds() / 86_400
    assert 29.9 < days <= 30


# --- top-up cards ------------------------------------------------------------------------------


def test_card_freeze_unfreeze_and_void(session: Session) -> None:
    pool(session, end=9, cards=3)
    second, third = "10575000000000002", "10575000000000003"

    frozen = holds.freeze_voucher(session, CARD, "batch recall", "billing1")
    assert (frozen.from_status, frozen.held_from) == ("in_warehouse", "in_warehouse")
    holds.unfreeze_voucher(session, CARD, "recall withdrawn", "billing1")
    assert _row(session, Voucher, CARD).status == "in_warehouse"

    with pytest.raises(holds.IllegalMove) as refused:
        holds.void_voucher(session, second, "stolen", "billing1")
    assert str(refused.value) == (
        f"top-up card {second} in status in_warehouse cannot be voided (only from frozen)"
    )
    holds.freeze_voucher(session, second, "stolen from the warehouse", "billing1")
    voided = holds.void_voucher(session, second, "stolen from the warehouse", "billing1")
    assert (voided.from_status, voided.to_status) == ("frozen", "voided")
    card = _row(session, Voucher, second)
    assert (card.status, card.held_from) == ("voided", None)
    with pytest.raises(holds.IllegalMove, match="in status voided cannot be unfrozen"):
        holds.unfreeze_voucher(session, second, "found", "billing1")

    _set_status(session, Voucher, third, "redeemed")
    with pytest.raises(holds.IllegalMove, match="in status redeemed cannot be frozen"):
        holds.freeze_voucher(session, third, "too late", "billing1")
    with pytest.raises(holds.ItemNotFound, match="top-up card 10575000000009999 not found"):
        holds.freeze_voucher(session, "10575000000009999", "why", "billing1")
    assert [a for a, *_ in _audit(session, "voucher", second)] == ["freeze", "void"]


def test_a_frozen_sold_card_is_frozen_for_the_charging_system(session: Session) -> None:
    pins = dict(line.split(",") for line in (pool(session, end=9, cards=1) or "").splitlines()[1:])
    shop = channel(session)
    card = stocked_numbers(session, shop.outlet_code, 1, cards=1)[1]
    (sold,) = push(session, shop, sale_event(shop.terminal_no, 1, [("voucher", card, 5_000)]))
    assert sold.status.value == "accepted"

    frozen = holds.freeze_voucher(session, card, "bought with a stolen card", "billing1")

    assert (frozen.from_status, frozen.held_from) == ("active", "active")
    check = redemption.redeem(session, card, pins[card], CIPHER, "charging1")
    assert check.result == "frozen"
    holds.unfreeze_voucher(session, card, "payment cleared", "billing1")
    assert _row(session, Voucher, card).status == "active"
    check = redemption.redeem(session, card, pins[card], CIPHER, "charging1")
    assert check.result == "valid"


# --- SIM cards ---------------------------------------------------------------------------------


def test_a_damaged_sim_is_written_off_and_its_number_set_free(session: Session) -> None:
    pool(session, end=9)
    damaged, lost, _ = _sims_paired(session)
    paired_number = _row(session, SimCard, damaged).msisdn

    moved = holds.mark_sim_damaged(session, damaged, "chip cracked", "billing1")

    assert (moved.from_status, moved.to_status, moved.unpaired) == (
        "in_warehouse",
        "damaged",
        paired_number,
    )
    sim = _row(session, SimCard, damaged)
    assert (sim.status, sim.msisdn) == ("damaged", None)
    assert _row(session, MobileNumber, paired_number).iccid is None
    assert _audit(session, "sim", damaged) == [
        ("mark_damaged", "in_warehouse", "damaged", "chip cracked")
    ]
    assert _audit(session, "number", paired_number)[-1] == (
        "unpair",
        None,
        None,
        f"SIM card {damaged} damaged: chip cracked",
    )

    holds.mark_sim_lost(session, lost.lower(), "not in the box", "billing1")
    assert _row(session, SimCard, lost).status == "lost"
    with pytest.raises(holds.IllegalMove, match=f"SIM card {lost} in status lost cannot be"):
        holds.mark_sim_damaged(session, lost, "found broken", "billing1")
    _set_status(session, SimCard, iccid(2), "active")
    with pytest.raises(holds.IllegalMove, match="in status active cannot be marked lost"):
        holds.mark_sim_lost(session, iccid(2), "customer lost it", "billing1")
    typo = iccid(2)[:-1] + str((int(iccid(2)[-1]) + 1) % 10)  # a wrong check digit
    with pytest.raises(holds.BadItemKey) as bad:
        holds.mark_sim_lost(session, typo, "typo", "billing1")
    assert bad.value.code == "invalid_sim"


# --- over HTTP ---------------------------------------------------------------------------------


def test_holds_over_http(client: TestClient, login: Login, session: Session) -> None:
    pool(session, end=9, cards=1)
    billing = login(Role.billing)

    reply = client.post(
        f"/api/v1/numbers/{NUMBER}/freeze", headers=billing, json={"reason": "police request"}
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert (body["item_kind"], body["item"], body["to_status"], body["held_from"]) == (
        "number",
        NUMBER,
        "frozen",
        "available",
    )
    assert body["actor"] == "billing1" and body["reason"] == "police request"

    again = client.post(
        f"/api/v1/numbers/{NUMBER}/freeze", headers=billing, json={"reason": "twice"}
    )
    assert again.status_code == 409
    assert again.json()["code"] == "illegal_transition"
    assert f"number {NUMBER} in status frozen cannot be frozen" in again.json()["message"]

    missing = client.post(
        "/api/v1/numbers/13905759999/freeze", headers=billing, json={"reason": "why"}
    )
    assert missing.status_code == 404
    assert missing.json() == {
        "code": "number_not_found",
        "message": "number 13905759999 not found",
    }
    bad = client.post("/api/v1/numbers/139/freeze", headers=billing, json={"reason": "why"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_number"
    no_reason = client.post(f"/api/v1/numbers/{NUMBER}/unfreeze", headers=billing, json={})
    assert no_reason.status_code == 422 and no_reason.json()["code"] == "invalid_request"
    blank = client.post(
        f"/api/v1/numbers/{NUMBER}/unfreeze", headers=billing, json={"reason": "  "}
    )
    assert blank.status_code == 422 and blank.json()["code"] == "reason_required"

    # Admins may too; other back-office roles may not.
    admin = client.post(
        f"/api/v1/numbers/{NUMBER}/unfreeze", headers=login(Role.admin), json={"reason": "ok"}
    )
    assert admin.status_code == 200 and admin.json()["to_status"] == "available"
    refused = client.post(
        f"/api/v1/vouchers/{CARD}/freeze", headers=login(Role.sales_centre), json={"reason": "x"}
    )
    assert refused.status_code == 403

    for action, status in (("freeze", "frozen"), ("void", "voided")):
        reply = client.post(
            f"/api/v1/vouchers/{CARD}/{action}", headers=billing, json={"reason": "stolen"}
        )
        assert reply.status_code == 200 and reply.json()["to_status"] == status
    assert client.get(f"/api/v1/vouchers/{CARD}", headers=billing).json()["status"] == "voided"

    _set_status(session, MobileNumber, NUMBER, "active")
    reply = client.post(
        f"/api/v1/numbers/{NUMBER}/deactivate", headers=billing, json={"reason": "left"}
    )
    assert reply.status_code == 200 and reply.json()["to_status"] == "cooling"
    assert reply.json()["cooling_until"]

    entries = client.get(
        "/api/v1/audit",
        params={"entity_type": "number", "entity_id": NUMBER},
        headers=login(Role.manager),
    ).json()
    assert [(e["action"], e["actor"]) for e in entries][:3] == [
        ("deactivate", "billing1"),
        ("unfreeze", "admin1"),
        ("freeze", "billing1"),
    ]


def test_sim_write_offs_over_http(client: TestClient, login: Login, session: Session) -> None:
    pool(session, end=9)
    damaged, lost, _ = _sims_paired(session)
    billing = login(Role.billing)
    for card, action in ((damaged, "damaged"), (lost, "lost")):
        reply = client.post(
            f"/api/v1/sims/{card}/{action}", headers=billing, json={"reason": "write-off"}
        )
        assert reply.status_code == 200, reply.text
        assert reply.json()["to_status"] == action and reply.json()["unpaired"]
    reply = client.post(f"/api/v1/sims/{lost}/damaged", headers=billing, json={"reason": "x"})
    assert reply.status_code == 409 and lost in reply.json()["message"]
    missing = iccid(99)
    reply = client.post(f"/api/v1/sims/{missing}/lost", headers=billing, json={"reason": "x"})
    assert reply.status_code == 404
    assert reply.json() == {"code": "sim_not_found", "message": f"SIM card {missing} not found"}


# --- on the command line -----------------------------------------------------------------------


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HAOKA_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_holds_on_the_command_line(cli_env: None, session: Session) -> None:
    pool(session, end=9, cards=1)
    _sims_paired(session, 1)

    frozen = runner.invoke(app, ["freeze-number", NUMBER, "--reason", "police request"])
    assert frozen.exit_code == 0, frozen.output
    assert f"number {NUMBER}: available → frozen (unfreeze returns it to available)" in (
        frozen.output
    )
    again = runner.invoke(app, ["freeze-number", NUMBER, "--reason", "twice"])
    assert again.exit_code == 1
    assert f"(illegal_transition): number {NUMBER} in status frozen cannot be frozen" in (
        again.output
    )
    no_reason = runner.invoke(app, ["unfreeze-number", NUMBER])
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    thawed = runner.invoke(app, ["unfreeze-number", NUMBER, "--reason", "cleared"])
    assert thawed.exit_code == 0 and "frozen → available" in thawed.output

    for command, status in (("freeze-voucher", "frozen"), ("void-voucher", "voided")):
        done = runner.invoke(app, [command, CARD, "--reason", "stolen"])
        assert done.exit_code == 0, done.output
        assert f"→ {status}" in done.output
    damaged = runner.invoke(app, ["mark-sim-damaged", iccid(0), "--reason", "cracked"])
    assert damaged.exit_code == 0, damaged.output
    assert "in_warehouse → damaged; number 13905750000 unpaired" in damaged.output
    missing = runner.invoke(app, ["mark-sim-lost", iccid(9), "--reason", "gone"])
    assert missing.exit_code == 1 and f"SIM card {iccid(9)} not found" in missing.output

    _set_status(session, MobileNumber, NUMBER, "active")
    cooled = runner.invoke(app, ["deactivate-number", NUMBER, "--reason", "subscriber left"])
    assert cooled.exit_code == 0, cooled.output
    assert "active → cooling (back to the pool after" in cooled.output
    assert _audit(session, "number", NUMBER)[-1][0] == "deactivate"
    assert audit.entries(session, "number", NUMBER)[0].actor.startswith("cli:")


def test_the_command_line_refuses_an_actor_without_the_billing_role(
    cli_env: None, session: Session
) -> None:
    pool(session, end=9)
    runner.invoke(
        app, ["create-user", "zhao", "--role", "clerk"], input="pass-word-1\npass-word-1\n"
    )
    refused = runner.invoke(app, ["--as", "zhao", "freeze-number", NUMBER, "--reason", "x"])
    assert refused.exit_code == 1 and "zhao is not a billing user" in refused.output
    assert _row(session, MobileNumber, NUMBER).status == "available"


def test_the_worker_steps_on_the_command_line(
    cli_env: None, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HAOKA_NUMBER_COOLING_DAYS", "0")
    get_settings.cache_clear()
    pool(session, end=9)
    _set_status(session, MobileNumber, NUMBER, "active")
    cooled = runner.invoke(app, ["deactivate-number", NUMBER, "--reason", "subscriber left"])
    assert cooled.exit_code == 0, cooled.output

    swept = runner.invoke(app, ["lifecycle-sweep"])

    assert swept.exit_code == 0, swept.output
    assert "numbers back to the pool: 1; top-up cards expired: 0" in swept.output
    assert _row(session, MobileNumber, NUMBER).status == "available"
    again = runner.invoke(app, ["lifecycle-sweep"])
    assert "numbers back to the pool: 0;" in again.output
