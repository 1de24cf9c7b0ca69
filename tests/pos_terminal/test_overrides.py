"""Price overrides at the counter: the dealer's caps refuse before the customer pays, online
the back office approves (and the sale carries its signed approval), offline only the smaller
cap is allowed; and PINs are checked only with this terminal's key."""

from datetime import timedelta

import pytest

from pos_terminal import outbox
from pos_terminal.services.errors import BackOfficeRefused, Offline, PosError
from pos_terminal.services.login import LoginService
from pos_terminal.services.sale import SaleService, Tender
from pos_terminal.store import Store
from pos_terminal.sync import apply_pull
from shared import pins
from shared.overrides import OverrideCaps
from shared.sync import ApprovalGranted, ApprovalRequest, SaleEvent
from tests.pos_terminal.conftest import Counter
from tests.pos_terminal.helpers import (
    CLERK,
    CLERK_PIN,
    MANAGER,
    MANAGER_PIN,
    T0,
    default_stock,
    msisdn,
    pin_verifiers,
    pull_response,
    resident_id,
    voucher,
)


class Office:
    """Stands in for the sync client's approval call."""

    def __init__(self, answer: Exception | None = None) -> None:
        self.answer = answer
        self.asked: list[ApprovalRequest] = []

    def approve_override(self, request: ApprovalRequest) -> ApprovalGranted:
        self.asked.append(request)
        if self.answer is not None:
            raise self.answer
        return ApprovalGranted(
            approval="signed-by-the-office",
            approved_by=request.manager,
            list_price_fen=60_000,
            price_fen=request.price_fen,
            expires_at=T0 + timedelta(minutes=15),
        )


def _sales(counter: Counter, office: Office | None) -> SaleService:
    return SaleService(counter.store, counter.login, approver=office)


def _sold_override(counter: Counter, seq: int):  # type: ignore[no-untyped-def]
    wire = outbox.get_event(counter.store, seq).to_wire()  # type: ignore[union-attr]
    assert isinstance(wire, SaleEvent)
    return wire.payload, wire.payload.lines[0].override


def test_an_online_approval_is_asked_of_the_office_and_travels_with_the_sale(
    open_counter: Counter,
) -> None:
    office = Office()
    sales = _sales(open_counter, office)
    draft = sales.start(CLERK)
    sales.scan(draft, msisdn(1688))  # number:G3 at ¥600
    # The office checks the PIN: the terminal does not, and does not need the manager's.
    line = sales.override_price(draft, 0, 50_000, manager=MANAGER, pin="2468", reason="老客户")
    (asked,) = office.asked
    assert (asked.sale_id, asked.item, asked.price_fen, asked.pin) == (
        draft.sale_id,
        msisdn(1688),
        50_000,
        "2468",
    )
    assert line.approval_expires_at == T0 + timedelta(minutes=15)
    sales.set_customer(draft, "王五", resident_id())
    sales.complete(draft, [Tender("cash", 50_000)])
    payload, override = _sold_override(open_counter, 2)
    assert payload.sale_id == draft.sale_id
    assert (override.approved_by, override.approval) == (MANAGER, "signed-by-the-office")


def test_an_approval_that_ran_out_before_payment_is_asked_again(open_counter: Counter) -> None:
    sales = _sales(open_counter, Office())
    draft = sales.start(CLERK)
    sales.scan(draft, msisdn(1688))
    sales.override_price(draft, 0, 50_000, manager=MANAGER, pin="2468", reason="老客户")
    sales.set_customer(draft, "王五", resident_id())
    open_counter.clock.advance(minutes=16)
    with pytest.raises(PosError) as expired:
        sales.complete(draft, [Tender("cash", 50_000)])
    assert expired.value.code == "approval_expired"


def test_the_caps_refuse_before_any_pin_is_tried(open_counter: Counter) -> None:
    office = Office()
    sales = _sales(open_counter, office)
    draft = sales.start(CLERK)
    sales.scan(draft, msisdn(1688))
    for price, limit in ((47_999, "go down to 48000 fen"), (60_001, "go up to 60000 fen")):
        with pytest.raises(PosError) as refused:
            sales.override_price(draft, 0, price, manager=MANAGER, pin=MANAGER_PIN, reason="x")
        assert refused.value.code == "override_over_cap" and limit in refused.value.message
    assert office.asked == []
    assert sales.override_range(draft.lines[0]) == ((48_000, 60_000), (48_000, 60_000))
    assert draft.lines[0].price_fen == 60_000


def test_the_office_refusing_the_pin_is_shown_with_its_reason(open_counter: Counter) -> None:
    refusal = BackOfficeRefused("approvals_locked", "too many wrong PINs", 403)
    sales = _sales(open_counter, Office(refusal))
    draft = sales.start(CLERK)
    sales.scan(draft, msisdn(1688))
    with pytest.raises(PosError) as refused:
        sales.override_price(draft, 0, 50_000, manager=MANAGER, pin=MANAGER_PIN, reason="x")
    assert (refused.value.code, refused.value.message) == (
        "approvals_locked",
        "too many wrong PINs",
    )
    assert draft.lines[0].override is None


def test_offline_the_manager_approves_at_the_counter_within_the_offline_cap(
    open_counter: Counter,
) -> None:
    sales = _sales(open_counter, Office(Offline("no route")))
    draft = sales.start(CLERK)
    sales.scan(draft, voucher(3, 10000))  # ¥100 card: 20 % is ¥20
    with pytest.raises(PosError) as wrong_pin:
        sales.override_price(draft, 0, 9_000, manager=MANAGER, pin="0000", reason="x")
    assert wrong_pin.value.code == "bad_login"
    line = sales.override_price(draft, 0, 9_000, manager=MANAGER, pin=MANAGER_PIN, reason="x")
    assert (line.price_fen, line.approval_expires_at) == (9_000, None)
    sales.complete(draft, [Tender("cash", 9_000)])
    _, override = _sold_override(open_counter, 2)
    assert (override.approved_by, override.approval) == (MANAGER, None)


def test_offline_a_price_beyond_the_offline_cap_waits_for_the_office(
    open_counter: Counter,
) -> None:
    caps = OverrideCaps(max_discount_percent=20, offline_max_fen=500)
    apply_pull(open_counter.store, pull_response(default_stock(), caps=caps))
    sales = _sales(open_counter, Office(Offline("no route")))
    draft = sales.start(CLERK)
    sales.scan(draft, voucher(3, 10000))
    with pytest.raises(PosError) as refused:
        sales.override_price(draft, 0, 9_000, manager=MANAGER, pin=MANAGER_PIN, reason="x")
    assert refused.value.code == "override_over_offline_cap"
    assert sales.override_price(draft, 0, 9_500, manager=MANAGER, pin=MANAGER_PIN, reason="x")
    # Before any pull has brought the caps, nothing may be changed at all.
    apply_pull(open_counter.store, pull_response(default_stock(), caps=None))
    draft = sales.start(CLERK)
    sales.scan(draft, voucher(1))
    with pytest.raises(PosError) as unknown:
        sales.override_price(draft, 0, 4_900, manager=MANAGER, pin=MANAGER_PIN, reason="x")
    assert unknown.value.code == "override_over_cap"


def test_pins_are_checked_only_with_this_terminals_key(term_store: Store) -> None:
    # Another terminal's key (or none: a copied database without the credential file).
    other = pins.pin_key_for_credential("terminal-2." + "t" * 43)
    with pytest.raises(PosError) as wrong_key:
        LoginService(term_store, pin_key=other).login(CLERK, CLERK_PIN)
    assert wrong_key.value.code == "bad_login"
    with pytest.raises(PosError) as no_key:
        LoginService(term_store).login(CLERK, CLERK_PIN)
    assert no_key.value.code == "not_registered"
    # The store holds verifiers, not argon2 hashes.
    stored = dict(term_store.conn.execute("SELECT username, pin_verifier FROM clerks").fetchall())
    assert stored == pin_verifiers()
    assert not any(v.startswith("$argon2") for v in stored.values() if v)
