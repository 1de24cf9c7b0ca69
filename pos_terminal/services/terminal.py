"""Who this terminal is (number, outlet, dealer status) as the local store remembers it."""

import json
from dataclasses import dataclass

from pos_terminal.services.errors import PosError
from pos_terminal.store import Store, set_meta
from shared.overrides import OverrideCaps

TERMINAL_ID = "terminal_id"
TERMINAL_NO = "terminal_no"
OUTLET = "outlet"
DEALER = "dealer"
PRICE_LIST_VERSION = "price_list_version"
OVERRIDE_CAPS = "override_caps"
PULL_CURSOR = "pull_cursor"
LAST_PULL_AT = "last_pull_at"
LAST_PUSH_AT = "last_push_at"

DEALER_ACTIVE = "active"


@dataclass(frozen=True)
class TerminalIdentity:
    terminal_id: str
    terminal_no: int
    outlet_code: str
    outlet_name: str
    timezone: str
    dealer_code: str
    dealer_name: str
    dealer_status: str


def save_registration(store: Store, terminal_id: str, terminal_no: int) -> None:
    """Remembers what the back office answered at registration."""
    with store.write() as conn:
        set_meta(conn, TERMINAL_ID, terminal_id)
        set_meta(conn, TERMINAL_NO, str(terminal_no))


def identity(store: Store) -> TerminalIdentity:
    terminal_no = store.get_meta(TERMINAL_NO)
    if terminal_no is None:
        raise PosError("not_registered", "this terminal is not registered with the back office")
    outlet = json.loads(store.get_meta(OUTLET, "{}") or "{}")
    dealer = json.loads(store.get_meta(DEALER, "{}") or "{}")
    return TerminalIdentity(
        terminal_id=store.get_meta(TERMINAL_ID, "") or "",
        terminal_no=int(terminal_no),
        outlet_code=outlet.get("code", ""),
        outlet_name=outlet.get("name", ""),
        timezone=outlet.get("timezone", "Asia/Shanghai"),
        dealer_code=dealer.get("code", ""),
        dealer_name=dealer.get("name", ""),
        # Before the first pull the terminal has no stock to sell anyway.
        dealer_status=dealer.get("status", DEALER_ACTIVE),
    )


def require_dealer_active(store: Store) -> TerminalIdentity:
    me = identity(store)
    if me.dealer_status != DEALER_ACTIVE:
        raise PosError(
            "dealer_suspended",
            f"dealer {me.dealer_name or me.dealer_code} is {me.dealer_status}: selling is blocked",
        )
    return me


def override_caps(store: Store) -> OverrideCaps | None:
    """The dealer's caps on price overrides from the last pull; None before the first pull
    or from a back office that sends none."""
    text = store.get_meta(OVERRIDE_CAPS)
    return OverrideCaps.model_validate_json(text) if text else None


def outlet_label(store: Store) -> tuple[str, str]:
    """(outlet name, time zone) for printing; usable before the first pull."""
    outlet = json.loads(store.get_meta(OUTLET, "{}") or "{}")
    return outlet.get("name") or outlet.get("code", ""), outlet.get("timezone", "Asia/Shanghai")
