"""Dealers, outlets, terminals with device credentials, price list versions and overrides."""

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from backoffice.contracts.channel import DealerStatusChange, PriceIn, PriceListCreate
from backoffice.domain.channel import DealerStatus
from backoffice.domain.users import Role
from backoffice.models import AuditEntry, Terminal
from backoffice.models.types import utcnow
from backoffice.services.channel import dealers, prices
from backoffice.services.errors import Conflict, Forbidden, InvalidInput, Unauthenticated
from backoffice.services.settlement import accounts
from tests.backoffice.channel.helpers import channel

Login = Callable[[Role], dict[str, str]]


def test_terminal_credential_is_shown_once_and_only_its_hash_is_stored(session: Session) -> None:
    shop = channel(session)
    terminal = session.get(Terminal, shop.terminal_id)
    assert terminal is not None
    secret = shop.credential.split(".", 1)[1]
    assert secret not in terminal.credential_hash and len(terminal.credential_hash) == 64
    context = dealers.authenticate_terminal(session, shop.credential)
    assert (context.terminal.id, context.outlet.id, context.dealer.id) == (
        shop.terminal_id,
        shop.outlet_id,
        shop.dealer_id,
    )
    with pytest.raises(Unauthenticated):
        dealers.authenticate_terminal(session, f"{shop.terminal_id}.{secret}x")
    with pytest.raises(Unauthenticated):
        dealers.authenticate_terminal(session, None)


def test_revoked_terminal_is_refused(session: Session) -> None:
    shop = channel(session)
    dealers.revoke_terminal(session, shop.terminal_id, "stolen", "admin1")
    with pytest.raises(Unauthenticated, match="revoked") as refused:
        dealers.authenticate_terminal(session, shop.credential)
    assert refused.value.code == "terminal_revoked"
    with pytest.raises(Conflict):
        dealers.revoke_terminal(session, shop.terminal_id, "again", "admin1")


def test_suspended_dealer_terminals_are_refused_and_status_moves_are_audited(
    session: Session,
) -> None:
    shop = channel(session)
    dealers.change_dealer_status(
        session, "D1", DealerStatusChange(status=DealerStatus.suspended, reason="unpaid"), "s1"
    )
    context = dealers.authenticate_terminal(session, shop.credential)
    with pytest.raises(Forbidden) as refused:
        dealers.require_active_dealer(context)
    assert refused.value.code == "dealer_suspended"
    dealers.change_dealer_status(
        session, "D1", DealerStatusChange(status=DealerStatus.terminated, reason="closed"), "s1"
    )
    with pytest.raises(Conflict, match="terminated dealer cannot become active"):
        dealers.change_dealer_status(
            session, "D1", DealerStatusChange(status=DealerStatus.active, reason="x"), "s1"
        )
    moves = session.exec(
        select(AuditEntry.from_status, AuditEntry.to_status)
        .where(AuditEntry.entity_id == shop.dealer_id)
        .where(AuditEntry.action == "status")
        .order_by(AuditEntry.id)
    ).all()
    assert moves == [("active", "suspended"), ("suspended", "terminated")]


def test_a_payment_releases_credit_and_settles_the_account_at_once(
    client: TestClient, session: Session, login: Login
) -> None:
    shop = channel(session)
    clerk = login(Role.sales_centre)
    paid = client.post(
        "/api/v1/dealers/D1/payments", json={"amount_fen": 5_000, "note": "cash"}, headers=clerk
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["owed_fen"] == -5_000
    entry = {"kind": "payment", "amount_fen": -2_000, "description": "bank transfer"}
    posted = client.post("/api/v1/dealers/D1/account/entries", json=entry, headers=clerk)
    assert posted.status_code == 201, posted.text
    # One payment, on both accounts: the credit ledger and the settlement account.
    assert dealers.owed(session, shop.dealer_id) == -7_000
    assert sorted(e.amount_fen for e in dealers.ledger(session, "D1")) == [-5_000, -2_000]
    assert accounts.balance(session, shop.dealer_id) == -7_000
    huge = client.post("/api/v1/dealers/D1/payments", json={"amount_fen": 10**13}, headers=clerk)
    assert huge.status_code == 422 and "amount_fen" in huge.text
    # Deposits, adjustments and penalties are the settlement account's alone.
    deposit = {"kind": "deposit", "amount_fen": -1_000}
    client.post("/api/v1/dealers/D1/account/entries", json=deposit, headers=clerk)
    assert dealers.owed(session, shop.dealer_id) == -7_000


def test_price_list_versions_and_dealer_overrides(session: Session) -> None:
    shop = channel(session)
    first = prices.list_in_force(session)
    assert first.version == 1
    assert prices.prices_for_dealer(session, shop.dealer_id)["voucher:5000"].retail_fen == 5000
    later = prices.create_price_list(
        session,
        PriceListCreate(
            effective_from=utcnow() + timedelta(days=1),
            prices=[PriceIn(product="voucher:5000", retail_fen=5000, dealer_fen=4900)],
        ),
        "admin1",
    )
    assert later.version == 2
    assert prices.list_in_force(session).version == 1
    assert prices.list_in_force(session, utcnow() + timedelta(days=2)).version == 2
    prices.set_dealer_price(
        session, "D1", PriceIn(product="voucher:5000", retail_fen=5000, dealer_fen=4700), "s1"
    )
    mine = prices.prices_for_dealer(session, shop.dealer_id)
    assert (mine["voucher:5000"].dealer_fen, mine["number:STD"].retail_fen) == (4700, 5000)


@pytest.mark.parametrize(
    ("price", "message"),
    [
        (PriceIn(product="voucher:5000", retail_fen=100, dealer_fen=200), "above the retail"),
        (PriceIn(product="phone", retail_fen=100, dealer_fen=50), "prices\\[0\\]: product"),
    ],
)
def test_bad_prices_are_refused_with_the_line_named(
    session: Session, price: PriceIn, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        prices.create_price_list(session, PriceListCreate(prices=[price]), "admin1")


def test_outlets_come_a_page_at_a_time_in_code_order(session: Session) -> None:
    """The outlets list pages by code: each page goes on after the last code shown, and the
    last page says there is no next one; a dealer's outlets only, when asked."""
    channel(session, "D1", outlet="D1-B")
    channel(session, "D2", outlet="D2-A")
    channel(session, "D3", outlet="D1-A")
    first, after = dealers.page_of_outlets(session, limit=2)
    assert ([o.code for o in first], after) == (["D1-A", "D1-B"], "D1-B")
    rest, after = dealers.page_of_outlets(session, after="D1-B", limit=2)
    assert ([o.code for o in rest], after) == (["D2-A"], None)
    own, _ = dealers.page_of_outlets(session, dealer_scope=first[1].dealer_id)
    assert [o.code for o in own] == ["D1-B"]
