"""Key rotation: after a new key per purpose, `rotate-keys` moves every stored PIN, ID number
and name to it and recomputes the ID hashes, so that the old keys can go."""

import base64
import csv
import io
import json
import os
from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, update
from sqlmodel import Session, select
from typer.testing import CliRunner

from backoffice.cli import app
from backoffice.core.config import Settings, get_settings
from backoffice.core.crypto import Cipher, KeyedHash, Keys
from backoffice.models import ActivationOutbox, Sale, SyncEvent, Voucher
from backoffice.services import key_rotation
from backoffice.services.counter import real_name, sync
from shared.sync import PushRequest
from tests.backoffice.channel.helpers import (
    CIPHER,
    KEYS,
    channel,
    context,
    pool,
    push,
    resident_id,
    sale_event,
    stocked_numbers,
)

P2, I2, N2, H2 = b"P" * 32, b"I" * 32, b"N" * 32, b"H" * 32
ROTATED = Keys(
    pins=Cipher("pin", [P2, b"k" * 32]),
    ids=Cipher("id", [I2, b"i" * 32]),
    names=Cipher("name", [N2, b"n" * 32]),
    id_hash=KeyedHash("id-hmac", [H2, b"h" * 32]),
)
ONLY_NEW = Keys.of(pin=P2, resident_id=I2, name=N2, id_hmac=H2)


def test_rotation_moves_everything_to_the_current_keys(session: Session, engine: Engine) -> None:
    pins = dict(csv.reader(io.StringIO(pool(session, cards=3) or "")))
    pins.pop("serial")
    # A card from before key ids: its PIN in the old format.
    first_card = min(pins)
    nonce = os.urandom(12)
    sealed = AESGCM(b"k" * 32).encrypt(nonce, pins[first_card].encode(), first_card.encode())
    session.exec(
        update(Voucher)
        .where(Voucher.serial == first_card)  # type: ignore[arg-type]
        .values(pin_cipher=base64.b64encode(nonce + sealed).decode())
    )
    session.commit()
    shop = channel(session)
    one, two = stocked_numbers(session, shop.outlet_code, 2)
    push(
        session,
        shop,
        sale_event(shop.terminal_no, 1, [("number", one, 5_000)]),
        sale_event(shop.terminal_no, 2, [("number", two, 5_000)]),
        sale_event(shop.terminal_no, 3, [("number", one, 5_000)]),  # rejected: sold already
    )

    with engine.connect() as connection:
        before = key_rotation.outstanding(connection, ROTATED)
        assert (before.pins, before.sales, before.events, before.activations) == (3, 2, 3, 2)
        done = key_rotation.rotate(connection, ROTATED)
        assert done == before
        assert key_rotation.outstanding(connection, ROTATED).total == 0
        assert key_rotation.rotate(connection, ROTATED).total == 0

    session.expire_all()
    for card in session.exec(select(Voucher)).all():
        assert ONLY_NEW.pins.decrypt(card.serial, card.pin_cipher) == pins[card.serial]
    for sale in session.exec(select(Sale)).all():
        assert ONLY_NEW.ids.decrypt(sale.id, sale.customer_id_cipher) == resident_id()
        assert ONLY_NEW.names.decrypt(sale.id, sale.customer_name_cipher) == "张三"
        assert sale.customer_id_hash == real_name.id_hash(ONLY_NEW, resident_id())
    for event in session.exec(select(SyncEvent).where(SyncEvent.type == "sale")).all():
        body = json.loads(event.payload)
        stored = body["customer"]
        assert ONLY_NEW.ids.decrypt(body["sale_id"], stored["id_cipher"]) == resident_id()
        assert ONLY_NEW.names.decrypt(body["sale_id"], stored["name_cipher"]) == "张三"
    for entry in session.exec(select(ActivationOutbox)).all():
        named = json.loads(entry.payload)["customer_name_cipher"]
        assert ONLY_NEW.names.decrypt(entry.sale_id, named) == "张三"
    assert CIPHER.key_id != ONLY_NEW.pins.key_id and KEYS.ids.key_id != ONLY_NEW.ids.key_id


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HAOKA_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_new_keys_rotation_and_retiring_from_the_command_line(
    cli_env: None, session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool(session)
    shop = channel(session)
    (msisdn,) = stocked_numbers(session, shop.outlet_code, 1)
    first = Keys.from_settings(settings)  # generated into the data directory
    event = sale_event(shop.terminal_no, 1, [("number", msisdn, 5_000)])
    sync.push(session, context(session, shop), PushRequest(events=[event]), settings, first)

    runner = CliRunner()
    for purpose in ("pin", "id", "name", "id-hmac"):
        made = runner.invoke(app, ["new-key", purpose])
        assert made.exit_code == 0, made.output
        assert "is now current" in made.output
    ring = Keys.from_settings(settings)
    assert ring.ids.key_id != first.ids.key_id
    rotated = runner.invoke(app, ["rotate-keys", "--retire"])
    assert rotated.exit_code == 0, rotated.output
    assert "1 sales, 1 sale events, 1 activations" in rotated.output
    assert f"dropped old keys {first.ids.key_id}" in rotated.output
    assert (settings.data_dir / "id.key").read_text().count("\n") == 1

    current = Keys.from_settings(settings)
    sale = session.exec(select(Sale)).one()
    session.refresh(sale)
    assert current.ids.decrypt(sale.id, sale.customer_id_cipher) == resident_id()
    assert sale.customer_id_hash == real_name.id_hash(current, resident_id())

    monkeypatch.setenv("HAOKA_ID_KEY", base64.urlsafe_b64encode(b"x" * 32).decode())
    get_settings.cache_clear()
    refused = runner.invoke(app, ["new-key", "id"])
    assert refused.exit_code == 1 and "HAOKA_ID_KEY is set" in refused.output
    # The stored ID numbers need the key just replaced in the variable: said, not crashed.
    missing = runner.invoke(app, ["rotate-keys"])
    assert missing.exit_code == 1 and "not configured" in missing.output
