"""Price overrides at the counter: within the dealer's caps from the last pull, approved by a
dealer manager's PIN. Online the back office checks the PIN (with its own lock-out) and signs
an approval bound to this sale, item and price; when it cannot be reached the terminal checks
the PIN itself, only within the smaller offline cap, and the office queues the sale for
review."""

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from pos_terminal.services.errors import BackOfficeRefused, Offline, PosError, build
from pos_terminal.services.login import LoginService
from pos_terminal.services.terminal import PRICE_LIST_VERSION, override_caps
from pos_terminal.store import Store, audit
from shared.overrides import OverrideCaps, allowed_range, override_refusal
from shared.sync import ApprovalGranted, ApprovalRequest, PriceOverride

# Before the first pull brings the dealer's caps, no price may be changed without the office.
_NO_CAPS = OverrideCaps(max_discount_percent=0, max_markup_fen=0, offline_max_fen=0)


class OverrideApprover(Protocol):
    """The back office's approval of a price override (the sync client): Offline when
    unreachable, BackOfficeRefused with its reason (wrong PIN, locked out, over the cap)."""

    def approve_override(self, request: ApprovalRequest) -> ApprovalGranted: ...


@dataclass(frozen=True)
class LineToOverride:
    sale_id: str
    clerk: str
    item_kind: str
    item: str
    product: str
    list_price_fen: int


@dataclass(frozen=True)
class Approved:
    override: PriceOverride
    # An approval the back office signed holds until then; one made offline has no end.
    expires_at: datetime | None


def caps(store: Store) -> OverrideCaps:
    return override_caps(store) or _NO_CAPS


def price_range(store: Store, list_price_fen: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The prices a manager may approve for a line at this list price: (low, high) online
    and offline."""
    dealer = caps(store)
    return (
        allowed_range(dealer, list_price_fen, online=True),
        allowed_range(dealer, list_price_fen, online=False),
    )


def approve(
    store: Store,
    login: LoginService,
    approver: OverrideApprover | None,
    line: LineToOverride,
    price_fen: int,
    *,
    manager: str,
    pin: str,
    reason: str,
) -> Approved:
    """The manager's approval of the price, online if the office answers, else offline;
    PosError when it is over the caps, or the manager or PIN is refused."""
    if price_fen == line.list_price_fen:
        raise PosError("no_override", "that is the list price: nothing to approve")
    dealer = caps(store)
    refusal = override_refusal(dealer, line.list_price_fen, price_fen, online=True)
    if refusal is not None:
        raise PosError("override_over_cap", refusal)
    detail: dict[str, object] = {
        "item": line.item,
        "list_price_fen": line.list_price_fen,
        "price_fen": price_fen,
        "reason": reason,
        "clerk": line.clerk,
    }
    granted = _online(store, approver, line, price_fen, manager, pin, reason)
    if granted is not None:
        detail["online"] = True
        with store.write() as conn:
            audit(
                conn,
                store.now(),
                granted.approved_by,
                "price_override",
                json.dumps(detail, ensure_ascii=False),
            )
        override = build(
            PriceOverride, approved_by=granted.approved_by, reason=reason, approval=granted.approval
        )
        return Approved(override, granted.expires_at)
    refusal = override_refusal(dealer, line.list_price_fen, price_fen, online=False)
    if refusal is not None:
        raise PosError("override_over_offline_cap", f"offline: {refusal}")
    detail["online"] = False
    manager_at_counter = login.approve(manager, pin, "price_override", detail)
    return Approved(
        build(PriceOverride, approved_by=manager_at_counter.username, reason=reason), None
    )


def _online(
    store: Store,
    approver: OverrideApprover | None,
    line: LineToOverride,
    price_fen: int,
    manager: str,
    pin: str,
    reason: str,
) -> ApprovalGranted | None:
    """The back office's approval, or None when it cannot be reached."""
    if approver is None:
        return None
    version = store.get_meta(PRICE_LIST_VERSION)
    if version is None:
        raise PosError("no_price_list", "no price list yet: sync with the back office")
    request = build(
        ApprovalRequest,
        sale_id=line.sale_id,
        item_kind=line.item_kind,
        item=line.item,
        product=line.product,
        price_list_version=int(version),
        price_fen=price_fen,
        reason=reason,
        manager=manager.strip(),
        pin=pin,
    )
    try:
        return approver.approve_override(request)
    except Offline:
        return None
    except BackOfficeRefused as refused:
        raise PosError(refused.code, refused.message) from None
