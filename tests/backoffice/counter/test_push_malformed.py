"""A push answers each event on its own: an entry that is not a valid event (a field missing or
wrong, a NUL character, a number beyond its column) is rejected as `malformed_event` and filed
for reconciliation — without NUL, bounded, no personal data in clear — and the rest of the
batch is applied (over HTTP, SQLite and PostgreSQL)."""

import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import DataError
from sqlmodel import Session, select

from backoffice.contracts.channel import StaffCreate
from backoffice.contracts.users import UserCreate
from backoffice.domain.users import Role
from backoffice.models import AuditEntry, Sale, Shift, SyncEvent, User
from backoffice.services import users
from backoffice.services.channel import dealers
from backoffice.services.counter import sync
from shared.ids import new_id
from shared.sync import EventStatus, RejectReason, ShiftOpenEvent, ShiftOpenPayload
from tests.backoffice.channel.helpers import (
    Channel,
    channel,
    clerk_of,
    pool,
    push,
    resident_id,
    sale_event,
    stocked_numbers,
)
from tests.conftest import PASSWORD

PUSH = "/api/v1/sync/push"


def _device(shop: Channel) -> dict[str, str]:
    return {"Authorization": f"Bearer {shop.credential}"}


def _wire(event) -> dict:  # type: ignore[no-untyped-def,type-arg]
    return event.model_dump(mode="json")  # type: ignore[no-any-return]


def _setup(session: Session, cards: int = 3) -> tuple[Channel, str, list[str]]:
    """Dealer D1's outlet with a number and `cards` cards on the shelf, and its clerk1."""
    pool(session, cards=cards)
    shop = channel(session)
    if not _exists(session, "clerk1"):
        dealers.create_staff(
            session,
            "D1",
            StaffCreate(username="clerk1", password="long-password", role=Role.clerk, pin="2468"),
            "s1",
        )
    number, *shelf = stocked_numbers(session, shop.outlet_code, 1, cards=cards)
    return shop, number, shelf


def test_a_nul_in_one_event_rejects_that_event_and_the_rest_is_applied(
    client: TestClient, session: Session
) -> None:
    shop, _, cards = _setup(session)
    events = [
        _wire(sale_event(shop.terminal_no, seq, [("voucher", card, 5_000)]))
        for seq, card in enumerate(cards, start=1)
    ]
    events[1]["payload"]["clerk"] = "clerk\x001"
    reply = client.post(PUSH, json={"events": events}, headers=_device(shop))
    assert reply.status_code == 200, reply.text
    results = reply.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted"], results
    assert [r["id"] for r in results] == [e["id"] for e in events]
    assert results[1]["reason"] == "malformed_event"
    assert "payload.clerk" in results[1]["message"] and "NUL" in results[1]["message"]
    assert "\x00" not in results[1]["message"]

    session.expire_all()
    sold = session.exec(select(Sale.receipt_no).where(Sale.terminal_id == shop.terminal_id)).all()
    assert sorted(sold) == sorted(events[i]["payload"]["receipt_no"] for i in (0, 2))
    row = session.get(SyncEvent, (shop.terminal_id, events[1]["id"]))
    assert row is not None
    assert (row.result, row.reason, row.resolution) == ("rejected", "malformed_event", "open")
    assert (row.seq, row.type) == (2, "sale")
    assert "\x00" not in row.payload and "clerk␀1" in row.payload
    queue = client.get("/api/v1/reconciliation", headers=_sales_centre(client, session))
    assert events[1]["id"] in [item["event_id"] for item in queue.json()]

    # The terminal sends the batch again (its answer was lost): nothing is applied twice.
    again = client.post(PUSH, json={"events": events}, headers=_device(shop)).json()["results"]
    assert [(r["status"], r["original"]) for r in again] == [
        ("duplicate", "accepted"),
        ("duplicate", "rejected"),
        ("duplicate", "accepted"),
    ]
    assert again[1]["reason"] == "malformed_event"


def _exists(session: Session, username: str) -> bool:
    return session.exec(select(User).where(User.username == username)).first() is not None


def _sales_centre(client: TestClient, session: Session) -> dict[str, str]:
    if not _exists(session, "centre1"):
        users.create_user(
            session, UserCreate(username="centre1", password=PASSWORD, role=Role.sales_centre), "t"
        )
    token = client.post("/api/v1/auth/token", data={"username": "centre1", "password": PASSWORD})
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def test_entries_that_are_not_events_are_answered_and_filed_once(
    client: TestClient, session: Session
) -> None:
    shop, _, cards = _setup(session, cards=1)
    good = _wire(sale_event(shop.terminal_no, 4, [("voucher", cards[0], 5_000)]))
    entries: list[object] = [
        {"id": "x", "type": "sale"},
        42,
        "just text",
        {"id": new_id(), "seq": 2**40, "type": "shift_open", "occurred_at": "soon"},
        good,
    ]
    reply = client.post(PUSH, json={"events": entries}, headers=_device(shop))
    assert reply.status_code == 200, reply.text
    results = reply.json()["results"]
    assert [r["status"] for r in results] == ["rejected"] * 4 + ["accepted"]
    assert {r["reason"] for r in results[:4]} == {"malformed_event"}
    assert results[0]["id"] == "x" and results[3]["seq"] == 0
    assert "seq" in results[3]["message"]

    session.expire_all()
    filed = session.exec(select(SyncEvent).where(SyncEvent.reason == "malformed_event")).all()
    assert len(filed) == 4
    assert all(json.loads(row.payload)["received"] is not None for row in filed)
    assert {row.type for row in filed} == {"sale", "unknown", "shift_open"}

    again = client.post(PUSH, json={"events": entries[:4]}, headers=_device(shop)).json()
    assert [r["status"] for r in again["results"]] == ["duplicate"] * 4
    session.expire_all()
    assert (
        len(session.exec(select(SyncEvent).where(SyncEvent.reason == "malformed_event")).all()) == 4
    )


def test_a_malformed_sale_keeps_no_personal_data_and_a_bounded_copy(
    client: TestClient, session: Session
) -> None:
    shop, msisdn, _ = _setup(session, cards=0)
    sale = _wire(sale_event(shop.terminal_no, 1, [("number", msisdn, 5_000)]))
    wrong_id = resident_id()[:-1] + ("0" if resident_id()[-1] != "0" else "1")
    sale["payload"]["customer"] = {"name": "张三\x00", "resident_id": wrong_id}
    count = {
        "id": new_id(),
        "seq": 2,
        "type": "stock_out",
        "occurred_at": sale["occurred_at"],
        "payload": {"clerk": "clerk1", "items": ["13900000000"] * 99_999, "reason": "x\x00" * 9},
    }
    reply = client.post(PUSH, json={"events": [sale, count]}, headers=_device(shop))
    assert reply.status_code == 200, reply.text
    results = reply.json()["results"]
    assert [r["reason"] for r in results] == ["malformed_event", "malformed_event"]
    assert "customer" in results[0]["message"]
    assert wrong_id not in results[0]["message"] and wrong_id[:17] not in results[0]["message"]
    assert "payload.reason" in results[1]["message"] and "NUL" in results[1]["message"]

    session.expire_all()
    row = session.get(SyncEvent, (shop.terminal_id, sale["id"]))
    assert row is not None
    for text in (row.payload, row.message or ""):
        assert "张三" not in text and wrong_id not in text and wrong_id[6:14] not in text
    stored = json.loads(row.payload)["received"]
    assert stored["payload"]["customer"]["name"] == "[masked]"
    assert stored["payload"]["customer"]["resident_id"] == wrong_id[:6] + "*" * 8 + wrong_id[14:]
    audits = session.exec(select(AuditEntry).where(AuditEntry.entity_id == sale["id"])).all()
    assert audits and all(wrong_id not in (a.reason or "") for a in audits)
    big = session.get(SyncEvent, (shop.terminal_id, count["id"]))
    assert big is not None and len(big.payload) <= 8_000 and "\x00" not in big.payload


def test_numbers_beyond_their_columns_are_malformed_not_a_server_error(
    client: TestClient, session: Session
) -> None:
    shop, _, cards = _setup(session, cards=2)
    huge = _wire(sale_event(shop.terminal_no, 1, [("voucher", cards[0], 5_000)]))
    huge["payload"]["lines"][0]["price_list_version"] = 2**63
    total = _wire(
        sale_event(shop.terminal_no, 2, [("voucher", cards[0], 5_000), ("voucher", cards[1], 1)])
    )
    for line in total["payload"]["lines"]:
        line["price_fen"] = 2**31 - 1
    total["payload"]["payments"][0]["amount_fen"] = 2**31 - 1
    fine = _wire(sale_event(shop.terminal_no, 3, [("voucher", cards[1], 5_000)]))
    reply = client.post(PUSH, json={"events": [huge, total, fine]}, headers=_device(shop))
    assert reply.status_code == 200, reply.text
    results = reply.json()["results"]
    assert [r["status"] for r in results] == ["rejected", "rejected", "accepted"]
    assert "price_list_version" in results[0]["message"]
    assert "total" in results[1]["message"]


def test_an_envelope_that_is_not_a_push_is_refused_whole(
    client: TestClient, session: Session
) -> None:
    shop, _, _ = _setup(session, cards=0)
    for body in ({}, {"events": []}, {"events": [{}] * 501}, {"events": [], "x\x00": 1}):
        reply = client.post(PUSH, json=body, headers=_device(shop))
        assert reply.status_code == 422, reply.text
        assert reply.json()["code"] == "invalid_request" and "\x00" not in reply.text


def test_an_event_the_database_refuses_is_filed_as_malformed_and_the_rest_applied(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool(session)
    shop = channel(session)
    events = [
        ShiftOpenEvent(
            id=new_id(),
            seq=seq,
            occurred_at=datetime.now(UTC),
            payload=ShiftOpenPayload(
                shift_id=new_id(), clerk=clerk_of(shop.terminal_no), opening_float_fen=0
            ),
        )
        for seq in (1, 2, 3)
    ]
    apply = sync._apply

    def refusing(session: Session, context, event, *rest):  # type: ignore[no-untyped-def]
        if event.seq == 2:
            raise DataError("INSERT INTO shift ...", {}, ValueError("value too long"))
        return apply(session, context, event, *rest)

    monkeypatch.setattr(sync, "_apply", refusing)
    results = push(session, shop, *events)
    assert [(r.status, r.reason) for r in results] == [
        (EventStatus.accepted, None),
        (EventStatus.rejected, RejectReason.malformed_event),
        (EventStatus.accepted, None),
    ]
    assert "ValueError" in results[1].message
    session.expire_all()
    assert session.get(Shift, events[1].payload.shift_id) is None
    assert session.get(Shift, events[2].payload.shift_id) is not None
    filed = session.get(SyncEvent, (shop.terminal_id, events[1].id))
    assert filed is not None and filed.reason == "malformed_event" and filed.type == "shift_open"
