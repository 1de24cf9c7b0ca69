"""The sales centre over HTTP: master data, allocation with its errors, the delivery note PDF;
and concurrent allocations that neither share items nor pass the credit limit."""

import threading
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from backoffice.contracts.channel import AllocationRequest, AllocationRule
from backoffice.domain.channel import AllocationOrder
from backoffice.domain.users import Role
from backoffice.services.channel import allocation, dealers, movements
from backoffice.services.errors import Conflict
from tests.backoffice.channel.helpers import channel, pool


def test_sales_centre_sets_up_a_dealer_and_allocates_over_http(
    client: TestClient, session: Session, login: Callable[[Role], dict[str, str]]
) -> None:
    pool(session)
    centre, admin = login(Role.sales_centre), login(Role.admin)
    dealer = client.post(
        "/api/v1/dealers",
        json={"code": "D9", "name": "九号代理", "kind": "social", "credit_limit_fen": 20_000},
        headers=centre,
    )
    assert dealer.status_code == 201, dealer.text
    bad = client.post(
        "/api/v1/dealers",
        json={"code": "D8", "name": "x", "kind": "franchise", "credit_limit_fen": 1},
        headers=centre,
    )
    assert bad.status_code == 422 and bad.json()["message"].startswith("body.kind")
    outlet = client.post(
        "/api/v1/outlets", json={"dealer": "D9", "code": "D9-A", "name": "A 店"}, headers=centre
    )
    assert outlet.status_code == 201
    terminal = client.post(
        "/api/v1/terminals", json={"outlet": "D9-A", "name": "counter"}, headers=centre
    )
    assert terminal.status_code == 403
    terminal = client.post(
        "/api/v1/terminals", json={"outlet": "D9-A", "name": "counter"}, headers=admin
    )
    assert terminal.status_code == 201 and "." in terminal.json()["credential"]
    listed = client.get("/api/v1/terminals", headers=admin).json()
    assert "credential" not in listed[0] and "credential_hash" not in listed[0]

    rules = [{"item_kind": "number", "count": 3, "grade": "STD"}]
    allocation = client.post(
        "/api/v1/allocations",
        json={"outlet": "D9-A", "rules": rules, "order": "in_order"},
        headers=centre,
    )
    assert allocation.status_code == 201, allocation.text
    document = allocation.json()
    assert document["charge_fen"] == 15_000
    refused = client.post(
        "/api/v1/allocations", json={"outlet": "D9-A", "rules": rules}, headers=centre
    )
    assert (refused.status_code, refused.json()["code"]) == (409, "credit_limit_exceeded")
    picked = client.post(
        "/api/v1/allocations",
        json={"outlet": "D9-A", "rules": rules, "items": ["13905758888"]},
        headers=centre,
    )
    assert picked.status_code == 422 and "items" in picked.json()["message"]

    pdf = client.get(f"/api/v1/stock-documents/{document['number']}/pdf", headers=centre)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    missing = client.get("/api/v1/stock-documents/DN202611230999990/pdf", headers=centre)
    assert missing.status_code == 404
    items = [i["item"] for i in client.get("/api/v1/outlets/D9-A/stock", headers=centre).json()]
    receipt = client.post(
        "/api/v1/receipts",
        json={"document_number": document["number"], "items": items[:2]},
        headers=centre,
    )
    assert receipt.json()["received"] == 2
    (missing_item,) = client.get("/api/v1/discrepancies", headers=centre).json()
    assert (missing_item["item_key"], missing_item["kind"]) == (items[2], "missing")
    too_many = client.get("/api/v1/sales", params={"limit": 0}, headers=centre)
    assert too_many.status_code == 422 and too_many.json()["message"].startswith("query.limit")
    unknown = client.get("/api/v1/reconciliation", params={"status": "lost"}, headers=centre)
    assert unknown.status_code == 422 and unknown.json()["message"].startswith("query.status")


def test_concurrent_allocations_take_disjoint_items_within_the_credit_limit(
    engine: Engine,
) -> None:
    with Session(engine, expire_on_commit=False) as session:
        pool(session)
        shop = channel(session, credit_limit_fen=5_000 * 100)
    outcomes: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def allocate() -> None:
        request = AllocationRequest(
            outlet=shop.outlet_code,
            rules=[AllocationRule(item_kind="number", count=30, grade="STD")],
            order=AllocationOrder.random,
        )
        with Session(engine, expire_on_commit=False) as own:
            barrier.wait()
            try:
                allocation.allocate(own, request, "sales1")
                outcome = "allocated"
            except Conflict as exc:
                outcome = exc.code
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=allocate) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # 100 numbers' worth of credit: three allocations of 30 fit, the other three do not.
    assert sorted(outcomes) == ["allocated"] * 3 + ["credit_limit_exceeded"] * 3
    with Session(engine) as session:
        held = movements.outlet_stock(session, shop.outlet_code)
        assert len(held) == len({i.item for i in held}) == 90
        assert dealers.owed(session, shop.dealer_id) == 90 * 5_000
