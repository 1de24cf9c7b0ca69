"""The sync routes over HTTP: device credentials, pull with a cursor, and a dealer's users and
terminals seeing only that dealer's stock and sales."""

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import Session

from backoffice.contracts.channel import DealerStatusChange, ItemsIn, StaffCreate
from backoffice.domain.channel import DealerStatus
from backoffice.domain.users import Role
from backoffice.services.channel import dealers, movements, receipts
from shared import pins
from shared.overrides import DEFAULT_CAPS
from tests.backoffice.channel.helpers import (
    Channel,
    allocate_numbers,
    channel,
    pool,
    sale_event,
    staff_login,
    stocked_numbers,
)


def _device(shop: Channel) -> dict[str, str]:
    return {"Authorization": f"Bearer {shop.credential}"}


def test_push_over_http_with_the_device_credential(client: TestClient, session: Session) -> None:
    pool(session)
    shop = channel(session)
    msisdn = stocked_numbers(session, shop.outlet_code, 1)[0]
    event = sale_event(shop.terminal_no, 1, [("number", msisdn, 5_000)])
    body = {"events": [event.model_dump(mode="json")]}
    assert client.post("/api/v1/sync/push", json=body).status_code == 401
    reply = client.post("/api/v1/sync/push", json=body, headers=_device(shop))
    assert reply.status_code == 200, reply.text
    assert reply.json()["results"][0]["status"] == "accepted"
    again = client.post("/api/v1/sync/push", json=body, headers=_device(shop)).json()
    assert again["results"][0] == {
        "id": event.id,
        "seq": 1,
        "status": "duplicate",
        "reason": None,
        "message": "",
        "original": "accepted",
    }
    # A body that is not a push is refused whole; an entry that is not an event is answered.
    bad = client.post("/api/v1/sync/push", json={"events": "x"}, headers=_device(shop))
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"
    odd = client.post(
        "/api/v1/sync/push", json={"events": [{"id": "x", "type": "sale"}]}, headers=_device(shop)
    )
    assert odd.status_code == 200, odd.text
    assert odd.json()["results"][0]["reason"] == "malformed_event"
    dealers.revoke_terminal(session, shop.terminal_id, "lost", "admin1")
    revoked = client.post("/api/v1/sync/push", json=body, headers=_device(shop))
    assert (revoked.status_code, revoked.json()["code"]) == (401, "terminal_revoked")


def test_pull_gives_outlet_stock_prices_grades_clerks_then_changes(
    client: TestClient, session: Session
) -> None:
    pool(session)
    shop = channel(session, staff=False)
    rival = channel(session, code="D2")
    held = stocked_numbers(session, shop.outlet_code, 3)
    stocked_numbers(session, rival.outlet_code, 2)
    dealers.create_staff(
        session,
        "D1",
        StaffCreate(username="clerk1", password="long-password", role=Role.clerk, pin="2468"),
        "s1",
    )
    full = client.get("/api/v1/sync/pull", headers=_device(shop)).json()
    assert full["full"] is True
    assert sorted(i["item"] for i in full["stock"]) == held
    assert full["dealer"] == {"code": "D1", "name": "dealer D1", "status": "active"}
    prices = {p["product"]: p["retail_fen"] for p in full["price_list"]["prices"]}
    assert prices["number:STD"] == 5_000 and full["price_list"]["version"] == 1
    assert {g["code"] for g in full["grades"]} >= {"G1", "STD"}
    (clerk,) = full["clerks"]
    # No PIN hash leaves the office: a verifier that only this terminal's key can test.
    assert clerk["username"] == "clerk1" and clerk["pin_hash"] is None
    verifier = clerk["pin_verifier"]
    assert pins.check_pin(pins.pin_key_for_credential(shop.credential), verifier, "2468")
    assert not pins.check_pin(pins.pin_key_for_credential(shop.credential), verifier, "2469")
    assert not pins.check_pin(pins.pin_key_for_credential(rival.credential), verifier, "2468")
    assert full["override_caps"] == DEFAULT_CAPS.model_dump()

    movements.return_to_centre(session, ItemsIn(outlet=shop.outlet_code, items=[held[0]]), "s1")
    changes = client.get(
        "/api/v1/sync/pull", params={"since": full["cursor"]}, headers=_device(shop)
    ).json()
    assert changes["full"] is False
    left = {i["item"]: i["in_outlet"] for i in changes["stock"]}
    assert left[held[0]] is False
    bad = client.get("/api/v1/sync/pull", params={"since": "nonsense"}, headers=_device(shop))
    assert bad.status_code == 409 and bad.json()["code"] == "bad_cursor"


def test_suspended_dealer_terminal_cannot_pull_or_reserve(
    client: TestClient, session: Session
) -> None:
    shop = channel(session)
    dealers.change_dealer_status(
        session, "D1", DealerStatusChange(status=DealerStatus.suspended, reason="x"), "s1"
    )
    pulled = client.get("/api/v1/sync/pull", headers=_device(shop))
    assert (pulled.status_code, pulled.json()["code"]) == (403, "dealer_suspended")
    reserved = client.post(
        "/api/v1/sync/reservations",
        json={"msisdn": "13905750001", "clerk": "c"},
        headers=_device(shop),
    )
    assert reserved.status_code == 403


def test_a_dealer_never_sees_another_dealers_stock_or_sales(
    client: TestClient, session: Session, login: Callable[[Role], dict[str, str]]
) -> None:
    pool(session)
    mine = channel(session)
    theirs = channel(session, code="D2")
    msisdn = stocked_numbers(session, mine.outlet_code, 1)[0]
    theirs_held = stocked_numbers(session, theirs.outlet_code, 1)
    event = sale_event(mine.terminal_no, 1, [("number", msisdn, 5_000)])
    client.post(
        "/api/v1/sync/push",
        json={"events": [event.model_dump(mode="json")]},
        headers=_device(mine),
    )
    receipt = event.payload.receipt_no
    own = staff_login(client, session, "D1", "boss1")
    other = staff_login(client, session, "D2", "boss2")

    assert client.get(f"/api/v1/sales/{receipt}", headers=own).status_code == 200
    assert client.get(f"/api/v1/sales/{receipt}", headers=other).status_code == 404
    assert client.get("/api/v1/sales", headers=other).json() == []
    assert [s["receipt_no"] for s in client.get("/api/v1/sales", headers=own).json()] == [receipt]
    assert client.get(f"/api/v1/outlets/{mine.outlet_code}/stock", headers=other).status_code == 404
    assert [o["code"] for o in client.get("/api/v1/outlets", headers=other).json()] == ["D2-O1"]
    assert [d["code"] for d in client.get("/api/v1/dealers", headers=other).json()] == ["D2"]
    pulled = client.get("/api/v1/sync/pull", headers=_device(theirs)).json()
    assert [i["item"] for i in pulled["stock"]] == theirs_held
    # The operator's own staff see everything.
    centre = login(Role.sales_centre)
    assert len(client.get("/api/v1/dealers", headers=centre).json()) == 2
    assert client.get(f"/api/v1/sales/{receipt}", headers=centre).status_code == 200
    # A dealer manager account not attached to any dealer sees nothing.
    detached = login(Role.dealer_manager)
    assert client.get("/api/v1/sales", headers=detached).json()["code"] == "no_dealer"
    # Dealer staff cannot run the sales centre's work.
    allocation = {"outlet": "D2-O1", "rules": [{"item_kind": "number", "count": 1, "grade": "STD"}]}
    assert client.post("/api/v1/allocations", json=allocation, headers=other).status_code == 403


def test_a_dealer_never_sees_another_dealers_documents_or_queues(
    client: TestClient, session: Session
) -> None:
    pool(session)
    mine = channel(session)
    channel(session, code="D2")
    document = allocate_numbers(session, mine.outlet_code, 2)
    first = document.lines[0].first_item
    # One item missing at receipt opens a discrepancy; a sale of it is rejected and queued.
    receipts.receive(session, document.number, [first], "clerk")
    missing = f"{int(first) + 1}"
    event = sale_event(mine.terminal_no, 1, [("number", missing, 5_000)])
    client.post(
        "/api/v1/sync/push",
        json={"events": [event.model_dump(mode="json")]},
        headers=_device(mine),
    )
    own = staff_login(client, session, "D1", "boss1")
    other = staff_login(client, session, "D2", "boss2")

    for path in (
        f"/api/v1/stock-documents/{document.number}",
        f"/api/v1/stock-documents/{document.number}/pdf",
    ):
        assert client.get(path, headers=own).status_code == 200
        assert client.get(path, headers=other).status_code == 404
    assert len(client.get("/api/v1/discrepancies", headers=own).json()) == 1
    assert client.get("/api/v1/discrepancies", headers=other).json() == []
    assert len(client.get("/api/v1/reconciliation", headers=own).json()) == 1
    assert client.get("/api/v1/reconciliation", headers=other).json() == []
    # Receipts are the sales centre's (or the outlet's terminal's) to record, not a manager's.
    scan = {"document_number": document.number, "items": [missing]}
    assert client.post("/api/v1/receipts", json=scan, headers=own).status_code == 403


def test_terminal_reserves_and_cancels_a_number(client: TestClient, session: Session) -> None:
    pool(session)
    shop = channel(session)
    reply = client.post(
        "/api/v1/sync/reservations",
        json={"msisdn": "13905750555", "clerk": "clerk1"},
        headers=_device(shop),
    )
    assert reply.status_code == 201, reply.text
    held = reply.json()
    assert (held["msisdn"], held["status"]) == ("13905750555", "active")
    taken = client.post(
        "/api/v1/sync/reservations",
        json={"msisdn": "13905750555", "clerk": "clerk1"},
        headers=_device(shop),
    )
    assert (taken.status_code, taken.json()["code"]) == (409, "number_not_available")
    other = channel(session, code="D2")
    foreign = client.delete(f"/api/v1/sync/reservations/{held['id']}", headers=_device(other))
    assert foreign.status_code == 404
    cancelled = client.delete(f"/api/v1/sync/reservations/{held['id']}", headers=_device(shop))
    assert cancelled.json()["status"] == "cancelled"
    pulled = client.get("/api/v1/sync/pull", headers=_device(shop)).json()
    assert pulled["stock"] == []
