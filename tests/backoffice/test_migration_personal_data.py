"""Migration 0005 on rows the schema before it wrote: the ID numbers and names in sales, sale
events and the activation outbox end up protected as the app now stores them, and back."""

import base64
import json
import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from alembic import command
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, MetaData, inspect, select, text

from backoffice import migrate
from backoffice.core.config import get_settings
from backoffice.db import make_engine
from backoffice.services.counter import real_name
from shared.codes import format_receipt_number
from shared.ids import new_id
from shared.sync import Customer, Payment, SaleLine, SalePayload
from tests.backoffice.channel.helpers import KEY_SETTINGS, KEYS, resident_id
from tests.conftest import BACKENDS, Templates

NAME = "张三丰"
ID = resident_id("11010519491231002")
PIN_KEY = b"k" * 32
AT = datetime(2026, 11, 30, 8, 0)


@pytest.fixture(params=BACKENDS)
def empty_url(
    request: pytest.FixtureRequest, templates: Templates, tmp_path: Path
) -> Iterator[str]:
    """A database with no schema at all, on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    server = templates.pg_server()
    name = f"haoka_m_{uuid.uuid4().hex[:12]}"
    admin = server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + "/" + name
    yield url
    templates.drop(url)


@pytest.fixture
def keys_in_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The keys where the app reads them from: the environment."""
    for setting, value in KEY_SETTINGS.items():
        monkeypatch.setenv(f"HAOKA_{setting.upper()}", value)
    monkeypatch.setenv("HAOKA_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _downgrade(url: str, revision: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            config = migrate.alembic_config(url)
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
    finally:
        engine.dispose()


def _old_pin_cipher(context: str, plain: str) -> str:
    """How the code before 0005 encrypted (ID numbers under the PIN key, no key id)."""
    nonce = os.urandom(12)
    return base64.b64encode(
        nonce + AESGCM(PIN_KEY).encrypt(nonce, plain.encode(), context.encode())
    ).decode()


def _old_rows(engine: Engine) -> tuple[str, str]:
    """A sale with its event and activation, and a rejected sale event, as 0004 stored them."""
    sale_id, event_id, rejected_id = new_id(), new_id(), new_id()
    payload = SalePayload(
        sale_id=sale_id,
        receipt_no=format_receipt_number(1, 1),
        clerk="clerk1",
        lines=[
            SaleLine(
                item_kind="number",
                item="13905750001",
                product="number:STD",
                price_fen=5_000,
                price_list_version=1,
            )
        ],
        payments=[Payment(method="cash", amount_fen=5_000)],
        customer=Customer(name=NAME, resident_id=ID),
    )
    refused = payload.model_copy(
        update={"sale_id": new_id(), "receipt_no": format_receipt_number(1, 2)}
    )
    event = {
        "terminal_id": "t1",
        "outlet_id": "o1",
        "dealer_id": "d1",
        "type": "sale",
        "occurred_at": AT,
        "received_at": AT,
    }
    activation = {
        "msisdn": "13905750001",
        "sale_id": sale_id,
        "receipt_no": payload.receipt_no,
        "outlet": "O1",
        "dealer": "D1",
        "sold_at": AT.isoformat(),
        "customer_name": NAME,
        "customer_id_masked": "110105********002X",
    }
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO sale (id, event_id, receipt_no, terminal_id, outlet_id, dealer_id, "
                "clerk, sold_at, total_fen, payments, customer_name, customer_id_masked, "
                "customer_id_cipher) VALUES (:id, :event, :receipt, 't1', 'o1', 'd1', 'clerk1', "
                ":at, 5000, '[]', :name, :masked, :cipher)"
            ),
            {
                "id": sale_id,
                "event": event_id,
                "receipt": payload.receipt_no,
                "at": AT,
                "name": NAME,
                "masked": "110105********002X",
                "cipher": _old_pin_cipher(sale_id, ID),
            },
        )
        connection.execute(
            text(
                "INSERT INTO sale_line (sale_id, item_kind, item_key, product, price_fen, "
                "list_price_fen, dealer_fen) VALUES (:sale, 'number', '13905750001', "
                "'number:STD', 5000, 5000, 4800)"
            ),
            {"sale": sale_id},
        )
        for seq, (key, body, result) in enumerate(
            [(event_id, payload, "accepted"), (rejected_id, refused, "rejected")], start=1
        ):
            connection.execute(
                text(
                    "INSERT INTO sync_event (id, terminal_id, outlet_id, dealer_id, seq, type, "
                    "occurred_at, received_at, result, payload) VALUES (:id, :terminal_id, "
                    ":outlet_id, :dealer_id, :seq, :type, :occurred_at, :received_at, :result, "
                    ":payload)"
                ),
                event
                | {"id": key, "seq": seq, "result": result, "payload": body.model_dump_json()},
            )
        connection.execute(
            text(
                "INSERT INTO activation_outbox (id, msisdn, sale_id, payload, status, attempts, "
                "created_at, next_attempt_at) VALUES (:id, '13905750001', :sale, :payload, "
                "'pending', 0, :at, :at)"
            ),
            {
                "id": new_id(),
                "sale": sale_id,
                "payload": json.dumps(activation, ensure_ascii=False),
                "at": AT,
            },
        )
    return sale_id, refused.sale_id


def _everything(engine: Engine) -> str:
    tables = MetaData()
    tables.reflect(engine)
    with engine.connect() as connection:
        return "\n".join(
            str(value)
            for table in tables.sorted_tables
            for row in connection.execute(select(table))
            for value in row
        )


def _one(engine: Engine, sql: str) -> dict[str, object]:
    with engine.connect() as connection:
        return dict(connection.execute(text(sql)).mappings().one())


def test_0005_protects_what_0004_stored_in_clear_and_goes_back(
    empty_url: str, keys_in_settings: None
) -> None:
    migrate.upgrade(empty_url, "0004")
    engine = make_engine(empty_url)
    try:
        sale_id, refused_sale_id = _old_rows(engine)
        assert ID in _everything(engine)

        migrate.upgrade(empty_url, "0005")
        stored = _everything(engine)
        for secret in (ID, ID[:17], NAME):
            assert secret not in stored
        assert "customer_name" not in {c["name"] for c in inspect(engine).get_columns("sale")}
        sale = _one(engine, "SELECT * FROM sale")
        assert (sale["customer_name_masked"], sale["customer_id_masked"]) == (
            "张**",
            "110105********002X",
        )
        assert KEYS.ids.decrypt(sale_id, sale["customer_id_cipher"]) == ID
        assert KEYS.names.decrypt(sale_id, sale["customer_name_cipher"]) == NAME
        assert sale["customer_id_hash"] == real_name.id_hash(KEYS, ID)
        with engine.connect() as connection:
            payloads = (
                connection.execute(text("SELECT payload FROM sync_event ORDER BY seq"))
                .scalars()
                .all()
            )
        for body, owner in zip(map(json.loads, payloads), (sale_id, refused_sale_id), strict=True):
            customer = body["customer"]
            assert set(customer) == {"id_masked", "id_cipher", "name_cipher"}
            assert customer["id_masked"] == "110105********002X"
            assert KEYS.ids.decrypt(owner, customer["id_cipher"]) == ID
            assert KEYS.names.decrypt(owner, customer["name_cipher"]) == NAME
            assert body["lines"][0]["item"] == "13905750001"  # the rest as it was
        activation = json.loads(
            str(_one(engine, "SELECT payload FROM activation_outbox")["payload"])
        )
        assert list(activation)[6:] == ["customer_name_cipher", "customer_id_masked"]
        assert KEYS.names.decrypt(sale_id, activation["customer_name_cipher"]) == NAME

        _downgrade(empty_url, "0004")
        sale = _one(engine, "SELECT * FROM sale")
        assert sale["customer_name"] == NAME
        assert "customer_id_hash" not in sale
        # What the code before 0005 reads: the ID under the PIN key, in the format without ids.
        assert KEYS.pins.decrypt(sale_id, str(sale["customer_id_cipher"])) == ID
        activation = json.loads(
            str(_one(engine, "SELECT payload FROM activation_outbox")["payload"])
        )
        assert activation["customer_name"] == NAME and "customer_name_cipher" not in activation

        migrate.upgrade(empty_url)
        sale = _one(engine, "SELECT * FROM sale")
        assert KEYS.ids.decrypt(sale_id, sale["customer_id_cipher"]) == ID
        assert sale["customer_id_hash"] == real_name.id_hash(KEYS, ID)
    finally:
        engine.dispose()


def test_an_empty_database_migrates_without_keys(
    empty_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HAOKA_DATA_DIR", str(tmp_path / "nokeys"))
    get_settings.cache_clear()
    try:
        migrate.upgrade(empty_url)
    finally:
        get_settings.cache_clear()
    assert not (tmp_path / "nokeys").exists()


def test_0005_masks_the_pins_that_card_import_reports_kept_in_clear(
    empty_url: str, keys_in_settings: None
) -> None:
    migrate.upgrade(empty_url, "0004")
    engine = make_engine(empty_url)
    rejected = "serial,pin,line,error\r\n10575000000000009,73194655,3,duplicate serial\r\n"
    errors = [{"line": 3, "column": "pin", "value": "73194655", "reason": "too short"}]
    try:
        with engine.begin() as connection:
            for kind, body in (("vouchers", rejected), ("numbers", "msisdn,line,error\r\n")):
                connection.execute(
                    text(
                        "INSERT INTO import_job (id, kind, file_name, outcome, total_rows, "
                        "accepted_rows, rejected_rows, errors_json, rejected_csv, created_by, "
                        "created_at) VALUES (:id, :kind, 'cards.csv', 'rejected', 3, 0, 1, "
                        ":errors, :rejected, 'billing1', :at)"
                    ),
                    {
                        "id": new_id(),
                        "kind": kind,
                        "errors": json.dumps(errors),
                        "rejected": body,
                        "at": AT,
                    },
                )
        migrate.upgrade(empty_url, "0005")
        job = _one(engine, "SELECT * FROM import_job WHERE kind = 'vouchers'")
        assert "73194655" not in str(job["rejected_csv"]) + str(job["errors_json"])
        assert "****55" in str(job["rejected_csv"])
        assert json.loads(str(job["errors_json"]))[0]["value"] == "****55"
        assert "10575000000000009" in str(job["rejected_csv"])  # the serial stays to fix the row
        numbers = _one(engine, "SELECT * FROM import_job WHERE kind = 'numbers'")
        assert numbers["rejected_csv"] == "msisdn,line,error\r\n"
    finally:
        engine.dispose()
