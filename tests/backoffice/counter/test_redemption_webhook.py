"""Top-up cards redeemed exactly once; number activations delivered by signed webhook with
retries until the receiver answers 2xx."""

import csv
import io
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from backoffice.core.config import Settings
from backoffice.core.crypto import Cipher, pin_cipher
from backoffice.domain.counter import DELIVERY_HEADER, SIGNATURE_HEADER, verify
from backoffice.domain.users import Role
from backoffice.models import ActivationOutbox, MobileNumber, Voucher
from backoffice.models.types import utcnow
from backoffice.services.counter import activations, redemption
from tests.backoffice.channel.helpers import (
    CIPHER,
    KEY_SETTINGS,
    channel,
    pool,
    push,
    sale_event,
    stocked_numbers,
)

SECRET = "webhook-secret"


def _sold_card(session: Session, cipher: Cipher = CIPHER) -> tuple[str, str, dict[str, str]]:
    """A sold card, an unsold one in outlet stock, and every card's PIN."""
    pins_csv = pool(session, cards=4, cipher=cipher)
    assert pins_csv is not None
    pins = {row["serial"]: row["pin"] for row in csv.DictReader(io.StringIO(pins_csv))}
    shop = channel(session)
    _, sold, unsold = stocked_numbers(session, shop.outlet_code, 1, cards=2)
    (result,) = push(session, shop, sale_event(shop.terminal_no, 1, [("voucher", sold, 5_000)]))
    assert result.status == "accepted"
    return sold, unsold, pins


def test_a_sold_card_redeems_exactly_once(session: Session) -> None:
    sold, unsold, pins = _sold_card(session)
    assert redemption.redeem(session, sold, "1" * 19, CIPHER, "charging").result == "invalid"
    first = redemption.redeem(session, sold, pins[sold], CIPHER, "charging")
    assert (first.result, first.face_value_fen) == ("valid", 5_000)
    again = redemption.redeem(session, sold, pins[sold], CIPHER, "charging")
    assert (again.result, again.face_value_fen) == ("already_used", None)
    assert redemption.redeem(session, unsold, pins[unsold], CIPHER, "charging").result == (
        "not_sold"
    )
    session.connection().execute(
        update(Voucher.__table__)  # type: ignore[arg-type]
        .where(Voucher.__table__.c.serial == unsold)  # type: ignore[attr-defined]
        .values(status="frozen", held_from="in_stock")
    )
    session.commit()
    assert redemption.redeem(session, unsold, pins[unsold], CIPHER, "charging").result == "frozen"


def test_concurrent_redemptions_have_exactly_one_valid(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session:
        serial, _, pins = _sold_card(session)
    answers: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def check() -> None:
        with Session(engine) as own:
            barrier.wait()
            answer = redemption.redeem(own, serial, pins[serial], CIPHER, "charging").result
        with lock:
            answers.append(answer)

    threads = [threading.Thread(target=check) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == ["already_used"] * 7 + ["valid"]


def test_redemption_endpoint_is_for_the_charging_system(
    client: TestClient,
    session: Session,
    settings: Settings,
    login: Callable[[Role], dict[str, str]],
) -> None:
    sold, _, pins = _sold_card(session, pin_cipher(settings))
    body = {"serial": sold, "pin": pins[sold]}
    refused = client.post("/api/v1/vouchers/redeem", json=body, headers=login(Role.sales_centre))
    assert refused.status_code == 403
    charging = login(Role.charging)
    reply = client.post("/api/v1/vouchers/redeem", json=body, headers=charging)
    assert reply.json() == {"serial": sold, "result": "valid", "face_value_fen": 5_000}
    again = client.post("/api/v1/vouchers/redeem", json=body, headers=charging)
    assert again.json()["result"] == "already_used"
    malformed = client.post(
        "/api/v1/vouchers/redeem", json={"serial": sold, "pin": "12"}, headers=charging
    )
    assert malformed.status_code == 422 and "pin" in malformed.json()["message"]


class _Receiver:
    """A provisioning system that fails the first `failures` deliveries."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.deliveries: list[tuple[str, bytes, bool]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                signed = verify(SECRET, self.headers[SIGNATURE_HEADER], body, int(time.time()))
                receiver.deliveries.append((self.headers[DELIVERY_HEADER], body, signed))
                failing = len(receiver.deliveries) <= receiver.failures
                self.send_response(503 if failing else 202)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/activations"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver(failures=2)
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_activation_webhook_retries_with_back_off_until_accepted(
    session: Session, receiver: _Receiver
) -> None:
    pool(session)
    shop = channel(session)
    msisdn = stocked_numbers(session, shop.outlet_code, 1)[0]
    push(session, shop, sale_event(shop.terminal_no, 1, [("number", msisdn, 5_000)]))
    settings = Settings(
        database_url="sqlite://",
        activation_webhook_url=receiver.url,
        activation_webhook_secret=SECRET,
        **KEY_SETTINGS,
    )
    now = utcnow()
    first = activations.deliver_due(session, settings, now)
    assert (first.attempted, first.delivered) == (1, 0)
    entry = session.exec(select(ActivationOutbox)).one()
    session.refresh(entry)
    assert (entry.attempts, entry.last_error, entry.status) == (1, "HTTP 503", "pending")
    assert entry.next_attempt_at > now
    # Not due yet: nothing is sent until the back-off has passed.
    assert activations.deliver_due(session, settings, now + timedelta(seconds=1)).attempted == 0
    assert activations.summary(session).pending == 1
    later = now + timedelta(minutes=10)
    assert activations.deliver_due(session, settings, later).delivered == 0
    assert activations.deliver_due(session, settings, later + timedelta(hours=1)).delivered == 1
    session.refresh(entry)
    assert (entry.status, entry.attempts) == ("delivered", 3)
    assert [signed for *_, signed in receiver.deliveries] == [True, True, True]
    assert {delivery for delivery, *_ in receiver.deliveries} == {entry.id}
    assert json.loads(receiver.deliveries[-1][1])["msisdn"] == msisdn
    number = session.get(MobileNumber, msisdn)
    assert number is not None
    session.refresh(number)
    assert number.status == "active"
    backlog = activations.summary(session)
    assert (backlog.pending, backlog.delivered) == (0, 1)


def test_webhook_gives_up_after_the_last_attempt_and_can_be_retried(
    session: Session, receiver: _Receiver
) -> None:
    receiver.failures = 100
    pool(session)
    shop = channel(session)
    msisdn = stocked_numbers(session, shop.outlet_code, 1)[0]
    push(session, shop, sale_event(shop.terminal_no, 1, [("number", msisdn, 5_000)]))
    settings = Settings(
        database_url="sqlite://",
        activation_webhook_url=receiver.url,
        activation_webhook_secret=SECRET,
        **KEY_SETTINGS,
        activation_max_attempts=2,
    )
    now = utcnow()
    activations.deliver_due(session, settings, now)
    run = activations.deliver_due(session, settings, now + timedelta(days=1))
    assert run.failed == 1
    (failed,) = activations.entries(session, "failed")
    assert activations.summary(session).failed == 1
    activations.retry(session, failed.id, "admin1")
    assert activations.summary(session).pending == 1
