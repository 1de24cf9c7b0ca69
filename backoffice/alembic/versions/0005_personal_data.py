"""Personal data protected at rest: keys per purpose, encrypted names, keyed hash of ID numbers.

Until now a sale event's stored payload held the buyer's name and whole resident ID number in
clear, the sale the name in clear and the ID encrypted under the top-up PIN key, and the
activation outbox the name in clear. From here on the sale holds the name and the ID masked
and encrypted, each under its own key (HAOKA_NAME_KEY, HAOKA_ID_KEY), and a keyed hash of the
ID (HAOKA_ID_HMAC_KEY, indexed, to count one person's numbers); the payload only the masked ID
and both ciphertexts; the outbox the name encrypted; import reports only a PIN's last two
characters. The keys come from the settings as the
app reads them (configured, else generated once into the data directory), and are loaded only
when there are rows to rewrite.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

import base64
import csv
import io
import json
import os
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import RowMapping

from backoffice.core.config import get_settings
from backoffice.core.crypto import PIN_KEYS, Keys
from backoffice.services.billing.tabular import MASKED_COLUMNS, mask, masked_rows
from backoffice.services.counter import real_name
from backoffice.services.key_rotation import rewrite_rows

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SALE = sa.table(
    "sale",
    sa.column("id", sa.String),
    sa.column("customer_name", sa.String),
    sa.column("customer_name_masked", sa.String),
    sa.column("customer_name_cipher", sa.String),
    sa.column("customer_id_masked", sa.String),
    sa.column("customer_id_cipher", sa.String),
    sa.column("customer_id_hash", sa.String),
)
_EVENT = sa.table(
    "sync_event", sa.column("id", sa.String), sa.column("type", sa.String), sa.column("payload")
)
_IMPORT_JOB = sa.table(
    "import_job",
    sa.column("id", sa.String),
    sa.column("kind", sa.String),
    sa.column("errors_json", sa.Text),
    sa.column("rejected_csv", sa.Text),
)
_OUTBOX = sa.table(
    "activation_outbox",
    sa.column("id", sa.String),
    sa.column("sale_id", sa.String),
    sa.column("payload"),
)


class _LazyKeys:
    """The keys, read (or generated) on first need: an empty database needs none."""

    def __init__(self) -> None:
        self._keys: Keys | None = None
        self._pin: AESGCM | None = None

    def __call__(self) -> Keys:
        if self._keys is None:
            self._keys = Keys.from_settings(get_settings())
        return self._keys

    def old_pin_key(self) -> AESGCM:
        """The current PIN key, for the format before key ids."""
        if self._pin is None:
            self._pin = AESGCM(PIN_KEYS.keys(get_settings())[0])
        return self._pin


def _renamed(body: dict[str, object], old: str, new: str, value: object) -> dict[str, object]:
    """The same JSON object with one key replaced in place (providers see the same order)."""
    return {(new if k == old else k): (value if k == old else v) for k, v in body.items()}


def upgrade() -> None:
    op.add_column("sale", sa.Column("customer_name_masked", sa.String(length=64), nullable=True))
    op.add_column("sale", sa.Column("customer_name_cipher", sa.String(length=512), nullable=True))
    op.add_column("sale", sa.Column("customer_id_hash", sa.String(length=80), nullable=True))
    op.create_index("ix_sale_customer_id_hash", "sale", ["customer_id_hash"])
    connection = op.get_bind()
    keys = _LazyKeys()

    def sale(row: RowMapping) -> dict[str, object]:
        # The old ciphertext: under the PIN key, without a key id, the sale id bound in.
        resident_id = keys().pins.decrypt(row["id"], row["customer_id_cipher"])
        stored = real_name.protect(keys(), row["id"], row["customer_name"], resident_id)
        return dict(stored.sale_columns())

    rewrite_rows(
        connection,
        _SALE,
        [_SALE.c.id],
        _SALE.c.customer_id_cipher.is_not(None),
        ["customer_id_cipher", "customer_name"],
        sale,
    )

    def event(row: RowMapping) -> dict[str, object] | None:
        body = json.loads(row["payload"])
        customer = body.get("customer")
        if not customer or "resident_id" not in customer:
            return None
        stored = real_name.protect(
            keys(), body["sale_id"], customer.get("name"), customer["resident_id"]
        )
        body["customer"] = stored.in_payload()
        return {"payload": real_name.dumps(body)}

    rewrite_rows(
        connection,
        _EVENT,
        [_EVENT.c.id],
        sa.and_(
            _EVENT.c.type == "sale", _EVENT.c.payload.contains('"resident_id"', autoescape=True)
        ),
        ["payload"],
        event,
    )

    def activation(row: RowMapping) -> dict[str, object] | None:
        body = json.loads(row["payload"])
        if "customer_name" not in body:
            return None
        name = body["customer_name"]
        cipher = keys().names.encrypt(row["sale_id"], name) if name else None
        body = _renamed(body, "customer_name", "customer_name_cipher", cipher)
        return {"payload": json.dumps(body, ensure_ascii=False)}

    rewrite_rows(
        connection,
        _OUTBOX,
        [_OUTBOX.c.id],
        _OUTBOX.c.payload.contains('"customer_name"', autoescape=True),
        ["payload", "sale_id"],
        activation,
    )

    def import_job(row: RowMapping) -> dict[str, object]:
        masked = MASKED_COLUMNS[row["kind"]]
        errors = [
            {**e, "value": mask(e["value"])} if e.get("column") in masked else e
            for e in json.loads(row["errors_json"] or "[]")
        ]
        out = io.StringIO()
        rows = csv.reader(io.StringIO(row["rejected_csv"] or "", newline=""))
        csv.writer(out).writerows(masked_rows(rows, row["kind"]))
        return {
            "errors_json": json.dumps(errors, ensure_ascii=False),
            "rejected_csv": out.getvalue(),
        }

    rewrite_rows(
        connection,
        _IMPORT_JOB,
        [_IMPORT_JOB.c.id],
        _IMPORT_JOB.c.kind.in_(sorted(MASKED_COLUMNS)),
        ["kind", "errors_json", "rejected_csv"],
        import_job,
    )
    # Not a batch: SQLite drops the column in place (3.35 and later) instead of copying the
    # table, which its sale lines' foreign keys would refuse.
    op.drop_column("sale", "customer_name")


def downgrade() -> None:
    """Back to the sale's name in clear and its ID under the PIN key, which the code before
    this revision reads. Stored sale events keep the protected form: that code reads their
    payloads only to show them, and writing the ID numbers back in clear would undo the point."""
    op.add_column("sale", sa.Column("customer_name", sa.String(length=64), nullable=True))
    connection = op.get_bind()
    keys = _LazyKeys()

    def sale(row: RowMapping) -> dict[str, object]:
        sale_id = row["id"]
        resident_id = keys().ids.decrypt(sale_id, row["customer_id_cipher"])
        named = row["customer_name_cipher"]
        # The format before key ids: base64(nonce, sealed), the sale id bound in.
        nonce = os.urandom(12)
        sealed = keys.old_pin_key().encrypt(nonce, resident_id.encode(), sale_id.encode())
        return {
            "customer_name": keys().names.decrypt(sale_id, named) if named else None,
            "customer_id_cipher": base64.b64encode(nonce + sealed).decode(),
        }

    rewrite_rows(
        connection,
        _SALE,
        [_SALE.c.id],
        _SALE.c.customer_id_cipher.is_not(None),
        ["customer_id_cipher", "customer_name_cipher"],
        sale,
    )

    def activation(row: RowMapping) -> dict[str, object] | None:
        body = json.loads(row["payload"])
        if "customer_name_cipher" not in body:
            return None
        named = body["customer_name_cipher"]
        name = keys().names.decrypt(row["sale_id"], named) if named else None
        body = _renamed(body, "customer_name_cipher", "customer_name", name)
        return {"payload": json.dumps(body, ensure_ascii=False)}

    rewrite_rows(
        connection,
        _OUTBOX,
        [_OUTBOX.c.id],
        _OUTBOX.c.payload.contains('"customer_name_cipher"', autoescape=True),
        ["payload", "sale_id"],
        activation,
    )
    op.drop_index("ix_sale_customer_id_hash", table_name="sale")
    for column in ("customer_id_hash", "customer_name_cipher", "customer_name_masked"):
        op.drop_column("sale", column)
