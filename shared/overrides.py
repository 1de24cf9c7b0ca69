"""Caps on price overrides at the counter: how far below (and above) the list price a dealer
manager may approve, online and offline. The back office enforces them on every sale it is
sent; the terminal gets them in the pull and refuses before the customer pays."""

from pydantic import BaseModel, ConfigDict, Field

from shared.checks import INT32_MAX


class OverrideCaps(BaseModel):
    """A dealer's caps, per sale line. A discount must stay within both discount limits that
    are set (none set: down to zero); a markup within `max_markup_fen`. An override approved
    offline, which the back office cannot verify, must also stay within `offline_max_fen`
    either way, and is queued for review."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    max_discount_fen: int | None = Field(
        default=None,
        ge=0,
        le=INT32_MAX,
        description="largest discount below the list price, in fen",
    )
    max_discount_percent: int | None = Field(
        default=None, ge=0, le=100, description="largest discount, in percent of the list price"
    )
    # Charging more than the list is the illegal extra fee the operator fights: none by default.
    max_markup_fen: int = Field(
        default=0, ge=0, le=INT32_MAX, description="largest price above the list"
    )
    offline_max_fen: int = Field(
        default=0,
        ge=0,
        le=INT32_MAX,
        description="largest change either way approved without the office",
    )


# What a price list gets when none is given and there is no earlier list to copy them from.
DEFAULT_CAPS = OverrideCaps(max_discount_percent=20, max_markup_fen=0, offline_max_fen=2_000)


def allowed_range(caps: OverrideCaps, list_fen: int, *, online: bool) -> tuple[int, int]:
    """The lowest and highest price a manager may approve for a line listed at `list_fen`."""
    discount = list_fen
    if caps.max_discount_fen is not None:
        discount = min(discount, caps.max_discount_fen)
    if caps.max_discount_percent is not None:
        discount = min(discount, list_fen * caps.max_discount_percent // 100)
    markup = caps.max_markup_fen
    if not online:
        discount = min(discount, caps.offline_max_fen)
        markup = min(markup, caps.offline_max_fen)
    return list_fen - discount, list_fen + markup


def override_refusal(
    caps: OverrideCaps, list_fen: int, price_fen: int, *, online: bool
) -> str | None:
    """Why this price may not be approved (a sentence naming the limit), or None."""
    low, high = allowed_range(caps, list_fen, online=online)
    how = "online" if online else "offline"
    if price_fen < low:
        return (
            f"{price_fen} fen is {list_fen - price_fen} fen below the list price {list_fen}; "
            f"approved {how}, the price may go down to {low} fen"
        )
    if price_fen > high:
        return (
            f"{price_fen} fen is {price_fen - list_fen} fen above the list price {list_fen}; "
            f"approved {how}, the price may go up to {high} fen"
        )
    return None
