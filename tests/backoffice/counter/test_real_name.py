"""The buyer's real name and resident ID number never lie in clear anywhere in the back
office's database: sales and their stored events hold them masked and encrypted (each under its
own key), the sale a keyed hash of the ID, the activation outbox the name encrypted."""

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlmodel import Session, SQLModel
from sqlmodel import select as sql_select

from backoffice.core.config import Settings
from backoffice.core.crypto import CipherError, key_id
from backoffice.domain.counter import SIGNATURE_HEADER, verify
from backoffice.domain.users import Role
from backoffice.models import ActivationOutbox, Sale, SyncEvent
from backoffice.services.counter import activations, real_name, sales_read
from shared.codes import mask_name, mask_resident_id
from shared.sync import Customer, EventStatus, PriceOverride, RejectReason, SaleEvent
from tests.backoffice.channel.helpers import (
    KEY_SETTINGS,
    KEYS,
    add_staff,
    channel,
    pool,
    push,
    resident_id,
    sale_event,
    staff_login,
    stocked_numbers,
)

NAME = "欧阳娜娜"
ID = resident_id("11010519491231002")  # ends in X
PRICE = 5_000


def _bought_by(event: SaleEvent, name: str = NAME, resident: str = ID) -> SaleEvent:
    payload = event.payload.model_copy(
        update={"customer": Customer(name=name, resident_id=resident)}
    )
    return event.model_copy(update={"payload": payload})


def _everything_stored(engine: Engine) -> str:
    """Every value of every row of every table, as text."""
    parts = []
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for row in connection.execute(select(table)):
                parts.extend(str(value) for value in row)
    return "\n".join(parts)


def test_sales_and_their_events_keep_the_buyer_only_masked_encrypted_and_hashed(
    session: Session, engine: Engine
) -> None:
    pool(session)
    shop = channel(session)
    first, second, third = stocked_numbers(session, shop.outlet_code, 3)
    sold = [
        _bought_by(sale_event(shop.terminal_no, 1, [("number", first, PRICE)])),
        _bought_by(sale_event(shop.terminal_no, 2, [("number", second, PRICE)])),
        # Sold already, earlier in the same batch: rejected, and stored all the same.
        _bought_by(sale_event(shop.terminal_no, 3, [("number", first, PRICE)])),
    ]
    results = push(session, shop, *sold)  # new sales together: the set-based path
    assert [r.status for r in results] == [EventStatus.accepted] * 2 + [EventStatus.rejected]
    alone = _bought_by(sale_event(shop.terminal_no, 4, [("number", third, PRICE)]))
    # The same event twice in one batch goes the one-by-one way.
    once, twice = push(session, shop, alone, alone)
    assert (once.status, twice.status) == (EventStatus.accepted, EventStatus.duplicate)

    # A repeated event is still recognised and answered with its first result.
    (again,) = push(session, shop, sold[0])
    assert (again.status, again.original) == (EventStatus.duplicate, EventStatus.accepted)
    (refused,) = push(session, shop, sold[2])
    assert (refused.original, refused.reason) == (
        EventStatus.rejected,
        RejectReason.item_already_sold,
    )

    stored = _everything_stored(engine)
    for secret in (ID, ID.lower(), ID[:17], NAME):
        assert secret not in stored

    events = session.exec(sql_select(SyncEvent).where(SyncEvent.type == "sale")).all()
    assert len(events) == 4
    for event in events:
        body = json.loads(event.payload)
        customer = body["customer"]
        assert set(customer) == {"id_masked", "id_cipher", "name_cipher"}
        assert customer["id_masked"] == mask_resident_id(ID) == "110105********002X"
        assert KEYS.ids.decrypt(body["sale_id"], customer["id_cipher"]) == ID
        assert KEYS.names.decrypt(body["sale_id"], customer["name_cipher"]) == NAME

    hashed = f"{key_id(b'h' * 32)}:{hmac.new(b'h' * 32, ID.encode(), hashlib.sha256).hexdigest()}"
    sales = session.exec(sql_select(Sale)).all()
    assert len(sales) == 3
    for sale in sales:
        assert (sale.customer_name_masked, sale.customer_id_masked) == (
            "欧***",
            "110105********002X",
        )
        assert KEYS.names.decrypt(sale.id, sale.customer_name_cipher) == NAME
        assert KEYS.ids.decrypt(sale.id, sale.customer_id_cipher) == ID
        with pytest.raises(CipherError):
            KEYS.pins.decrypt(sale.id, sale.customer_id_cipher)  # not the PIN key any more
        assert sale.customer_id_hash == hashed == real_name.id_hash(KEYS, ID.lower())
    # One person's numbers, counted without decrypting anything.
    count = sql_select(func.count()).where(Sale.customer_id_hash == real_name.id_hash(KEYS, ID))
    assert session.exec(count).one() == 3

    shown = sales_read.get_sale(session, sold[0].payload.receipt_no)
    assert (shown.customer_name_masked, shown.customer_id_masked) == ("欧***", "110105********002X")
    outbox = session.exec(sql_select(ActivationOutbox)).all()
    assert len(outbox) == 3
    for entry in outbox:
        body = json.loads(entry.payload)
        assert "customer_name" not in body
        assert KEYS.names.decrypt(entry.sale_id, body["customer_name_cipher"]) == NAME


def test_provisioning_receives_the_name_the_outbox_keeps_encrypted(session: Session) -> None:
    pool(session)
    shop = channel(session)
    (msisdn,) = stocked_numbers(session, shop.outlet_code, 1)
    push(session, shop, _bought_by(sale_event(shop.terminal_no, 1, [("number", msisdn, PRICE)])))
    received: list[httpx.Request] = []

    def provisioning(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(202)

    settings = Settings(
        database_url="sqlite://",
        activation_webhook_url="https://provisioning.example/activations",
        activation_webhook_secret="webhook-secret",
        **KEY_SETTINGS,
    )
    client = httpx.Client(transport=httpx.MockTransport(provisioning))
    run = activations.deliver_due(session, settings, datetime.now(UTC), client)
    assert run.delivered == 1
    (request,) = received
    body = request.content
    assert verify("webhook-secret", request.headers[SIGNATURE_HEADER], body, int(time.time()))
    delivered = json.loads(body)
    assert list(delivered) == [
        "msisdn",
        "sale_id",
        "receipt_no",
        "outlet",
        "dealer",
        "sold_at",
        "customer_name",
        "customer_id_masked",
    ]
    assert (delivered["msisdn"], delivered["customer_name"]) == (msisdn, NAME)
    assert delivered["customer_id_masked"] == "110105********002X"


def test_an_entry_whose_name_key_is_missing_fails_with_the_reason(session: Session) -> None:
    pool(session)
    shop = channel(session)
    (msisdn,) = stocked_numbers(session, shop.outlet_code, 1)
    push(session, shop, _bought_by(sale_event(shop.terminal_no, 1, [("number", msisdn, PRICE)])))
    other = KEY_SETTINGS | {"name_key": KEY_SETTINGS["id_key"]}
    settings = Settings(
        database_url="sqlite://",
        activation_webhook_url="https://provisioning.example/activations",
        activation_webhook_secret="webhook-secret",
        **other,
    )
    client = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(202)))
    run = activations.deliver_due(session, settings, datetime.now(UTC), client)
    assert (run.attempted, run.delivered) == (1, 0)
    entry = session.exec(sql_select(ActivationOutbox)).one()
    session.refresh(entry)
    assert entry.status == "pending" and "name" in (entry.last_error or "")
    assert "not configured" in (entry.last_error or "")


def test_the_reconciliation_queue_shows_the_buyer_only_masked(
    client: TestClient, session: Session, login: Callable[[Role], dict[str, str]]
) -> None:
    """Managers and dealer managers read the queue, not personal data: a queued sale's buyer
    is its masked ID number and, where the sale was stored, masked name; never ciphertexts."""
    pool(session)
    shop = channel(session)
    add_staff(session, shop.dealer_id, "boss1", role=Role.dealer_manager)
    (msisdn,) = stocked_numbers(session, shop.outlet_code, 1)
    offline = PriceOverride(approved_by="boss1", reason="regular customer")
    reviewed = _bought_by(
        sale_event(shop.terminal_no, 1, [("number", msisdn, PRICE - 500)], override=offline)
    )
    again = _bought_by(sale_event(shop.terminal_no, 2, [("number", msisdn, PRICE)]))
    results = push(session, shop, reviewed, again)
    assert [(r.status, r.reason) for r in results] == [
        (EventStatus.accepted, None),
        (EventStatus.rejected, RejectReason.item_already_sold),
    ]
    shown = {
        reviewed.id: {"id_masked": mask_resident_id(ID), "name_masked": mask_name(NAME)},
        # Rejected: no sale row, its name kept only encrypted.
        again.id: {"id_masked": mask_resident_id(ID), "name_masked": None},
    }
    for reader in (
        login(Role.manager),
        staff_login(client, session, "D1", "boss2"),
        login(Role.sales_centre),
    ):
        reply = client.get("/api/v1/reconciliation", headers=reader)
        assert reply.status_code == 200, reply.text
        assert "cipher" not in reply.text
        assert {q["event_id"]: q["payload"]["customer"] for q in reply.json()} == shown
        assert {q["payload"]["sale_id"] for q in reply.json()} == {
            reviewed.payload.sale_id,
            again.payload.sale_id,
        }
    resolved = client.post(
        f"/api/v1/reconciliation/{again.id}/resolve",
        json={"note": "refunded"},
        headers=login(Role.sales_centre),
    )
    assert resolved.status_code == 200, resolved.text
    assert "cipher" not in resolved.text
    assert resolved.json()["payload"]["customer"] == shown[again.id]
    # What is stored stays whole: the sales centre can still decrypt it where it must.
    stored = session.exec(sql_select(SyncEvent).where(SyncEvent.id == again.id)).one()
    assert "id_cipher" in json.loads(stored.payload)["customer"]
