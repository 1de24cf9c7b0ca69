"""The buyer's real-name data (实名制) as the back office keeps it: the resident ID number
masked, encrypted and keyed-hashed, the name masked and encrypted, both bound to their sale;
never either in clear."""

import json
from dataclasses import dataclass

from backoffice.core.crypto import Keys
from shared.codes import mask_name, mask_resident_id
from shared.sync import SalePayload


def normalised_id(resident_id: str) -> str:
    """The form the keyed hash is taken over: 18 characters, X upper case."""
    value = resident_id.strip().upper()
    if len(value) != 18:
        raise ValueError(f"a resident ID number has 18 characters, got {len(value)}")
    return value


def id_hash(keys: Keys, resident_id: str) -> str:
    """What `sale.customer_id_hash` holds for this ID: equal for every sale to one person."""
    return keys.id_hash.digest(normalised_id(resident_id))


@dataclass(frozen=True)
class StoredCustomer:
    name_masked: str | None
    name_cipher: str | None
    id_masked: str
    id_cipher: str
    id_hash: str

    def sale_columns(self) -> dict[str, str | None]:
        return {
            "customer_name_masked": self.name_masked,
            "customer_name_cipher": self.name_cipher,
            "customer_id_masked": self.id_masked,
            "customer_id_cipher": self.id_cipher,
            "customer_id_hash": self.id_hash,
        }

    def in_payload(self) -> dict[str, str | None]:
        """The customer of a stored sale event: what the sale row holds, less what can be
        recomputed, and the name nowhere but in the ciphertext."""
        return {
            "id_masked": self.id_masked,
            "id_cipher": self.id_cipher,
            "name_cipher": self.name_cipher,
        }


NO_CUSTOMER: dict[str, None] = dict.fromkeys(
    (
        "customer_name_masked",
        "customer_name_cipher",
        "customer_id_masked",
        "customer_id_cipher",
        "customer_id_hash",
    )
)


def protect(keys: Keys, sale_id: str, name: str | None, resident_id: str) -> StoredCustomer:
    """Under the current keys; a terminal always sends a name, older rows may lack one."""
    value = normalised_id(resident_id)
    return StoredCustomer(
        name_masked=mask_name(name) if name else None,
        name_cipher=keys.names.encrypt(sale_id, name) if name else None,
        id_masked=mask_resident_id(value),
        id_cipher=keys.ids.encrypt(sale_id, value),
        id_hash=keys.id_hash.digest(value),
    )


def protect_sale(keys: Keys, sale: SalePayload) -> StoredCustomer | None:
    if sale.customer is None:
        return None
    return protect(keys, sale.sale_id, sale.customer.name, sale.customer.resident_id)


def stored_payload(sale: SalePayload, customer: StoredCustomer | None) -> str:
    """A sale event's payload as `sync_event` keeps it: the customer protected as on the sale."""
    if (sale.customer is None) != (customer is None):
        raise ValueError(f"sale {sale.sale_id}: its customer must be stored protected, not lost")
    # The payload's own JSON with the customer put back protected (on the hot path of every
    # sale pushed: cheaper than dumping a dict).
    text = sale.model_dump_json(exclude={"customer"})
    protected = dumps(customer.in_payload()) if customer is not None else "null"
    return f'{text[:-1]},"customer":{protected}}}'


def dumps(body: dict[str, object]) -> str:
    """Stored JSON: compact (rotation finds payloads still under an old key by their text)."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
