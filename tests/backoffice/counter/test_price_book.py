"""The price book pushes keep between them: a change of prices, caps, price lists or staff
made after a push is what the next push is checked against."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session

from backoffice.contracts.channel import OverrideCapsIn, PriceIn, PriceListCreate, StaffCreate
from backoffice.domain.users import Role
from backoffice.services import users
from backoffice.services.channel import dealers, prices
from backoffice.services.counter import pricing
from shared.sync import EventStatus, PriceOverride, RejectReason
from tests.backoffice.channel.helpers import (
    channel,
    clerk_of,
    pool,
    push,
    sale_event,
    stocked_numbers,
)


def test_the_dealers_prices_are_read_once_until_they_change(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool(session)
    shop = channel(session)
    items = stocked_numbers(session, shop.outlet_code, 4)
    reads: list[str] = []
    real = pricing.dealer_overrides

    def counted(s: Session, dealer_id: str):  # type: ignore[no-untyped-def]
        reads.append(dealer_id)
        return real(s, dealer_id)

    monkeypatch.setattr(pricing, "dealer_overrides", counted)
    for seq, item in enumerate(items[:2], start=1):
        (result,) = push(
            session, shop, sale_event(shop.terminal_no, seq, [("number", item, 5_000)])
        )
        assert result.status is EventStatus.accepted
    assert reads == [shop.dealer_id]
    prices.set_dealer_price(
        session, "D1", PriceIn(product="number:STD", retail_fen=4_800, dealer_fen=4_600), "s1"
    )
    (old_price,) = push(
        session, shop, sale_event(shop.terminal_no, 3, [("number", items[2], 5_000)])
    )
    assert old_price.reason is RejectReason.price_mismatch
    (new_price,) = push(
        session, shop, sale_event(shop.terminal_no, 4, [("number", items[2], 4_800)])
    )
    assert new_price.status is EventStatus.accepted
    assert reads == [shop.dealer_id, shop.dealer_id]


def test_a_new_price_list_is_seen_by_the_next_push(session: Session) -> None:
    pool(session)
    shop = channel(session)
    first, second = stocked_numbers(session, shop.outlet_code, 2)
    (before,) = push(session, shop, sale_event(shop.terminal_no, 1, [("number", first, 5_000)]))
    assert before.status is EventStatus.accepted
    listed = prices.create_price_list(
        session,
        PriceListCreate(
            effective_from=datetime.now(UTC) - timedelta(minutes=1),
            prices=[
                PriceIn(product="number:STD", retail_fen=6_000, dealer_fen=5_500),
                PriceIn(product="voucher:5000", retail_fen=5_000, dealer_fen=4_850),
            ],
        ),
        "s1",
    )
    (after,) = push(
        session,
        shop,
        sale_event(shop.terminal_no, 2, [("number", second, 6_000)], version=listed.version),
    )
    assert after.status is EventStatus.accepted


def test_new_caps_apply_to_the_next_push(session: Session) -> None:
    pool(session)
    shop = channel(session)
    first, second = stocked_numbers(session, shop.outlet_code, 2)
    dealers.create_staff(
        session,
        "D1",
        StaffCreate(
            username="boss1", password="long-password", role=Role.dealer_manager, pin="4321"
        ),
        "s1",
    )
    approved = PriceOverride(approved_by="boss1", reason="regular customer")

    def caps(fen: int) -> None:
        prices.set_dealer_caps(
            session,
            "D1",
            OverrideCapsIn(max_discount_fen=fen, max_markup_fen=0, offline_max_fen=fen),
            "s1",
        )

    caps(2_000)
    (generous,) = push(
        session,
        shop,
        sale_event(shop.terminal_no, 1, [("number", first, 4_000)], override=approved),
    )
    assert generous.status is EventStatus.accepted
    caps(100)
    (strict,) = push(
        session,
        shop,
        sale_event(shop.terminal_no, 2, [("number", second, 4_000)], override=approved),
    )
    assert strict.reason is RejectReason.override_over_cap


def test_a_clerk_let_go_is_refused_on_the_next_push(session: Session) -> None:
    pool(session)
    shop = channel(session)
    first, second = stocked_numbers(session, shop.outlet_code, 2)
    (sold,) = push(session, shop, sale_event(shop.terminal_no, 1, [("number", first, 5_000)]))
    assert sold.status is EventStatus.accepted
    users.set_active(session, clerk_of(shop.terminal_no), False, "s1", "left the company")
    (refused,) = push(session, shop, sale_event(shop.terminal_no, 2, [("number", second, 5_000)]))
    assert refused.reason is RejectReason.unknown_clerk
