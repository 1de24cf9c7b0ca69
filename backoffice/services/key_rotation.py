"""Key rotation: every ciphertext stored under an old key (top-up card PINs; the buyers' ID
numbers and names on sales, sale events and the activation outbox) re-encrypted under the
current key of its purpose, and the keyed hashes of ID numbers recomputed, from the decrypted
numbers, under the current hash key."""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Table,
    TableClause,
    and_,
    bindparam,
    not_,
    or_,
    select,
    tuple_,
    update,
)

from backoffice.core.crypto import Keys
from backoffice.models import ActivationOutbox, Sale, SyncEvent, Voucher
from backoffice.services.counter import real_name

BATCH = 1_000

_Change = Callable[[RowMapping], dict[str, object] | None]

_VOUCHERS: Table = Voucher.__table__  # type: ignore[attr-defined]
_SALES: Table = Sale.__table__  # type: ignore[attr-defined]
_EVENTS: Table = SyncEvent.__table__  # type: ignore[attr-defined]
_OUTBOX: Table = ActivationOutbox.__table__  # type: ignore[attr-defined]


def rewrite_rows(
    connection: Connection,
    table: TableClause,
    key: Sequence[ColumnElement[str]],
    where: ColumnElement[bool],
    read: list[str],
    change: _Change,
    *,
    commit: bool = False,
    dry_run: bool = False,
) -> int:
    """Walks the rows matching `where` in the order of `key` (the primary key's columns), a
    batch at a time, and updates each with what `change` returns for it (None: leave it);
    returns how many changed (with `dry_run`, would change). With `commit`, each batch is
    committed: a long rotation holds no lock for long and, stopped, starts again where it was
    (what is done no longer matches `where`)."""
    width = len(key)
    after: tuple[object, ...] | None = None
    changed = 0
    while True:
        query = select(*key, *(table.c[c] for c in read)).where(where)
        if after is not None:
            query = query.where(tuple_(*key) > tuple_(*after))
        rows = connection.execute(query.order_by(*key).limit(BATCH)).all()
        if not rows:
            return changed
        updates = [(row[:width], values) for row in rows if (values := change(row._mapping))]
        if updates and not dry_run:
            _write(connection, table, key, updates)
        changed += len(updates)
        if commit and not dry_run:
            connection.commit()
        after = tuple(rows[-1][:width])


def _write(
    connection: Connection,
    table: TableClause,
    key: Sequence[ColumnElement[str]],
    updates: list[tuple[Sequence[object], dict[str, object]]],
) -> None:
    # One executemany per batch (pipelined by psycopg); a single UPDATE … FROM a list of
    # values measured no faster, the database's own work on the rows being most of it.
    columns = list(updates[0][1])
    connection.execute(
        update(table)
        .where(*(k == bindparam(f"k_{i}") for i, k in enumerate(key)))
        .values({c: bindparam(f"v_{c}") for c in columns}),
        [
            {f"k_{i}": part for i, part in enumerate(ids)} | {f"v_{c}": changed[c] for c in columns}
            for ids, changed in updates
        ],
    )


@dataclass
class Rotation:
    """Rows rewritten under the current keys (or, from `outstanding`, still to rewrite)."""

    pins: int = 0
    sales: int = 0
    events: int = 0
    activations: int = 0

    @property
    def total(self) -> int:
        return self.pins + self.sales + self.events + self.activations


def _old_pins(keys: Keys) -> ColumnElement[bool]:
    return not_(_VOUCHERS.c.pin_cipher.startswith(keys.pins.prefix, autoescape=True))


def _old_sales(keys: Keys) -> ColumnElement[bool]:
    c = _SALES.c
    return and_(
        c.customer_id_cipher.is_not(None),
        or_(
            not_(c.customer_id_cipher.startswith(keys.ids.prefix, autoescape=True)),
            not_(c.customer_name_cipher.startswith(keys.names.prefix, autoescape=True)),
            not_(c.customer_id_hash.startswith(keys.id_hash.prefix, autoescape=True)),
        ),
    )


def _old_events(keys: Keys) -> ColumnElement[bool]:
    # Stored payloads are JSON text: a ciphertext under a current key follows a quote. What
    # this lets through needlessly, the check of each row leaves alone.
    payload = _EVENTS.c.payload
    return and_(
        _EVENTS.c.type == "sale",
        payload.contains('"id_cipher"', autoescape=True),
        not_(
            and_(
                payload.contains(f'"{keys.ids.prefix}', autoescape=True),
                payload.contains(f'"{keys.names.prefix}', autoescape=True),
            )
        ),
    )


def _old_activations(keys: Keys) -> ColumnElement[bool]:
    payload = _OUTBOX.c.payload
    return and_(
        payload.contains('"customer_name_cipher"', autoescape=True),
        not_(payload.contains(f'"{keys.names.prefix}', autoescape=True)),
    )


def _plans(keys: Keys) -> dict[str, tuple[Table, ColumnElement[bool], list[str], _Change]]:
    """Per kind of row: its table, which rows an old key may protect, the columns to read,
    and the rewrite of one row under the current keys (None: nothing to do after all)."""

    def pin(row: RowMapping) -> dict[str, object]:
        serial = row["serial"]
        plain = keys.pins.decrypt(serial, row["pin_cipher"])
        return {"pin_cipher": keys.pins.encrypt(serial, plain)}

    def sale(row: RowMapping) -> dict[str, object]:
        sale_id = row["id"]
        named = row["customer_name_cipher"]
        customer = real_name.protect(
            keys,
            sale_id,
            keys.names.decrypt(sale_id, named) if named else None,
            keys.ids.decrypt(sale_id, row["customer_id_cipher"]),
        )
        return dict(customer.sale_columns())

    def event(row: RowMapping) -> dict[str, object] | None:
        body = json.loads(row["payload"])
        stored = body.get("customer")
        named = stored and stored.get("name_cipher")
        if not stored or (
            keys.ids.is_current(stored["id_cipher"]) and (not named or keys.names.is_current(named))
        ):
            return None
        sale_id = body["sale_id"]
        body["customer"] = real_name.protect(
            keys,
            sale_id,
            keys.names.decrypt(sale_id, named) if named else None,
            keys.ids.decrypt(sale_id, stored["id_cipher"]),
        ).in_payload()
        return {"payload": real_name.dumps(body)}

    def activation(row: RowMapping) -> dict[str, object] | None:
        body = json.loads(row["payload"])
        named = body.get("customer_name_cipher")
        if not named or keys.names.is_current(named):
            return None
        sale_id = row["sale_id"]
        body["customer_name_cipher"] = keys.names.encrypt(
            sale_id, keys.names.decrypt(sale_id, named)
        )
        return {"payload": json.dumps(body, ensure_ascii=False)}

    return {
        "pins": (_VOUCHERS, _old_pins(keys), ["pin_cipher"], pin),
        "sales": (_SALES, _old_sales(keys), ["customer_id_cipher", "customer_name_cipher"], sale),
        "events": (_EVENTS, _old_events(keys), ["payload"], event),
        "activations": (_OUTBOX, _old_activations(keys), ["payload", "sale_id"], activation),
    }


def _key(table: Table) -> list[ColumnElement[str]]:
    return list(table.primary_key.columns)


def rotate(connection: Connection, keys: Keys, *, commit: bool = True) -> Rotation:
    """Re-encrypts (and re-hashes) everything stored under a key that is no longer current."""
    return Rotation(
        **{
            kind: rewrite_rows(connection, table, _key(table), where, read, change, commit=commit)
            for kind, (table, where, read, change) in _plans(keys).items()
        }
    )


def outstanding(connection: Connection, keys: Keys) -> Rotation:
    """What an old key still protects: all zero, and the old keys can go."""
    return Rotation(
        **{
            kind: rewrite_rows(connection, table, _key(table), where, read, change, dry_run=True)
            for kind, (table, where, read, change) in _plans(keys).items()
        }
    )
