"""What the administrators' price pages read and do besides the API: versions a keyset page
at a time with their item counts, the next version's number, and a dealer's own price
removed (the price list's applies again, terminals told, audited)."""

import pytest
from sqlmodel import Session, select

from backoffice.contracts.channel import PriceIn, PriceListCreate
from backoffice.models import AuditEntry, Dealer
from backoffice.services.channel import prices
from backoffice.services.errors import NotFound
from tests.backoffice.channel.helpers import channel


def _new_version(session: Session, count: int) -> int:
    request = PriceListCreate(
        prices=[
            PriceIn(product=f"voucher:{1000 + n}", retail_fen=1000, dealer_fen=900)
            for n in range(count)
        ]
    )
    return prices.create_price_list(session, request, "admin1").version


def test_versions_page_newest_first_with_item_counts(session: Session) -> None:
    seeded = prices.versions_page(session)[0][0][1]  # version 1, from the migrations
    assert prices.next_version(session) == 2
    second, third = _new_version(session, 2), _new_version(session, 3)
    assert (second, third) == (2, 3)
    assert prices.next_version(session) == 4
    page, after = prices.versions_page(session, None, 2)
    assert [(p.version, n) for p, n in page] == [(3, 3), (2, 2)]
    assert after == 2
    rest, end = prices.versions_page(session, after, 2)
    assert [(p.version, n) for p, n in rest] == [(1, seeded)]
    assert end is None


def test_removing_a_dealers_own_price_brings_back_the_price_lists(session: Session) -> None:
    shop = channel(session)
    product = "voucher:5000"
    central = prices.prices_for_dealer(session, shop.dealer_id)[product]
    prices.set_dealer_price(
        session, "D1", PriceIn(product=product, retail_fen=4_900, dealer_fen=4_500), "admin1"
    )
    assert prices.prices_for_dealer(session, shop.dealer_id)[product].retail_fen == 4_900
    before = session.get(Dealer, shop.dealer_id)
    assert before is not None
    version = before.prices_version
    prices.remove_dealer_price(session, "D1", product, "admin1")
    assert prices.prices_for_dealer(session, shop.dealer_id)[product] == central
    session.expire_all()
    dealer = session.get(Dealer, shop.dealer_id)
    assert dealer is not None and dealer.prices_version == version + 1
    row = session.exec(
        select(AuditEntry).where(
            AuditEntry.entity_type == "dealer_price", AuditEntry.action == "remove"
        )
    ).one()
    assert (row.actor, row.entity_id, row.from_status) == ("admin1", shop.dealer_id, "4900/4500")
    with pytest.raises(NotFound):
        prices.remove_dealer_price(session, "D1", product, "admin1")
