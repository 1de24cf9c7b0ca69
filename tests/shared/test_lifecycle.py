"""Tests of the number, SIM and voucher lifecycles: the tables themselves, the Lifecycle
operations, and properties of random action sequences."""

from enum import StrEnum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.lifecycle import (
    NUMBER_LIFECYCLE,
    PRIOR,
    SIM_LIFECYCLE,
    VOUCHER_LIFECYCLE,
    IllegalTransition,
    ItemState,
    Lifecycle,
    NumberAction,
    NumberStatus,
    SimAction,
    SimStatus,
    VoucherAction,
    VoucherStatus,
)

N, NA = NumberStatus, NumberAction
S, SA = SimStatus, SimAction
V, VA = VoucherStatus, VoucherAction

# The tables written out pair by pair, independently of the compact form in the module.
EXPECTED_NUMBER = {
    (N.imported, NA.release): N.available,
    (N.available, NA.allocate): N.allocated,
    (N.allocated, NA.receive): N.in_stock,
    (N.available, NA.reserve): N.reserved,
    (N.in_stock, NA.reserve): N.reserved,
    (N.reserved, NA.release_reservation): PRIOR,
    (N.reserved, NA.sell): N.sold,
    (N.in_stock, NA.sell): N.sold,
    (N.allocated, NA.return_to_centre): N.available,
    (N.in_stock, NA.return_to_centre): N.available,
    (N.reserved, NA.return_to_centre): N.available,
    (N.sold, NA.return_sale): N.in_stock,
    (N.sold, NA.activate): N.active,
    (N.active, NA.deactivate): N.cooling,
    (N.cooling, NA.end_cooling): N.available,
    (N.imported, NA.freeze): N.frozen,
    (N.available, NA.freeze): N.frozen,
    (N.allocated, NA.freeze): N.frozen,
    (N.in_stock, NA.freeze): N.frozen,
    (N.reserved, NA.freeze): N.frozen,
    (N.frozen, NA.unfreeze): PRIOR,
}
EXPECTED_SIM = {
    (S.in_warehouse, SA.allocate): S.allocated,
    (S.allocated, SA.receive): S.in_stock,
    (S.allocated, SA.return_to_centre): S.in_warehouse,
    (S.in_stock, SA.return_to_centre): S.in_warehouse,
    (S.in_stock, SA.sell): S.sold,
    (S.sold, SA.return_sale): S.in_stock,
    (S.sold, SA.activate): S.active,
    **{(s, SA.mark_damaged): S.damaged for s in (S.in_warehouse, S.allocated, S.in_stock, S.sold)},
    **{(s, SA.mark_lost): S.lost for s in (S.in_warehouse, S.allocated, S.in_stock, S.sold)},
}
EXPECTED_VOUCHER = {
    (V.generated, VA.release): V.in_warehouse,
    (V.in_warehouse, VA.allocate): V.allocated,
    (V.allocated, VA.receive): V.in_stock,
    (V.allocated, VA.return_to_centre): V.in_warehouse,
    (V.in_stock, VA.return_to_centre): V.in_warehouse,
    (V.in_stock, VA.sell): V.active,
    (V.active, VA.redeem): V.redeemed,
    (V.active, VA.return_sale): V.in_stock,
    (V.active, VA.expire): V.expired,
    **{
        (s, VA.freeze): V.frozen
        for s in (V.generated, V.in_warehouse, V.allocated, V.in_stock, V.active)
    },
    (V.frozen, VA.unfreeze): PRIOR,
    (V.frozen, VA.void): V.voided,
}

ALL = [
    (NUMBER_LIFECYCLE, EXPECTED_NUMBER, NumberStatus, NumberAction),
    (SIM_LIFECYCLE, EXPECTED_SIM, SimStatus, SimAction),
    (VOUCHER_LIFECYCLE, EXPECTED_VOUCHER, VoucherStatus, VoucherAction),
]


def test_enum_values() -> None:
    assert [s.value for s in NumberStatus] == [
        "imported", "available", "allocated", "in_stock", "reserved",
        "sold", "active", "cooling", "frozen",
    ]  # fmt: skip
    assert [s.value for s in SimStatus] == [
        "in_warehouse", "allocated", "in_stock", "sold", "active", "damaged", "lost",
    ]  # fmt: skip
    assert [s.value for s in VoucherStatus] == [
        "generated", "in_warehouse", "allocated", "in_stock", "active",
        "redeemed", "expired", "frozen", "voided",
    ]  # fmt: skip
    assert {a.value for a in SimAction} == {
        "allocate", "receive", "return_to_centre", "sell", "return_sale",
        "activate", "mark_damaged", "mark_lost",
    }  # fmt: skip
    assert len(NumberAction) == 13 and len(VoucherAction) == 11


@pytest.mark.parametrize(("lifecycle", "expected", "_s", "_a"), ALL)
def test_tables_are_exactly_the_designed_ones(
    lifecycle: Lifecycle, expected: dict, _s: type, _a: type
) -> None:
    assert dict(lifecycle.table) == expected


def test_names_and_holding_statuses() -> None:
    assert (NUMBER_LIFECYCLE.name, SIM_LIFECYCLE.name, VOUCHER_LIFECYCLE.name) == (
        "number",
        "sim",
        "voucher",
    )
    assert NUMBER_LIFECYCLE.holding == {N.reserved, N.frozen}
    assert SIM_LIFECYCLE.holding == frozenset()
    assert VOUCHER_LIFECYCLE.holding == {V.frozen}


def test_illegal_transition_message_and_attributes() -> None:
    with pytest.raises(IllegalTransition) as caught:
        NUMBER_LIFECYCLE.apply(ItemState(N.sold), NA.release)
    error = caught.value
    assert str(error) == "number in status sold cannot be released"
    assert (error.entity, error.status, error.action) == ("number", N.sold, NA.release)


@pytest.mark.parametrize(
    ("lifecycle", "state", "action", "message"),
    [
        (
            SIM_LIFECYCLE,
            ItemState(S.active),
            SA.mark_lost,
            "sim in status active cannot be marked lost",
        ),
        (
            VOUCHER_LIFECYCLE,
            ItemState(V.redeemed),
            VA.return_sale,
            "voucher in status redeemed cannot be returned by the customer",
        ),
        (
            NUMBER_LIFECYCLE,
            ItemState(N.frozen, N.available),
            NA.reserve,
            "number in status frozen cannot be reserved",
        ),
        (
            NUMBER_LIFECYCLE,
            ItemState(N.available),
            NA.return_to_centre,
            "number in status available cannot be returned to the centre",
        ),
    ],
)
def test_illegal_transition_messages(
    lifecycle: Lifecycle, state: ItemState, action: StrEnum, message: str
) -> None:
    with pytest.raises(IllegalTransition, match=f"^{message}$"):
        lifecycle.apply(state, action)


def test_custom_lifecycle_message_for_an_action_without_a_participle() -> None:
    class Door(StrEnum):
        shut = "shut"
        open = "open"

    class Move(StrEnum):
        swing = "swing"

    door = Lifecycle("door", {(Door.shut, Move.swing): Door.open})
    with pytest.raises(IllegalTransition, match=r"^door in status open does not allow swing$"):
        door.apply(ItemState(Door.open), Move.swing)


def test_reservation_remembers_where_the_number_was() -> None:
    reserved = NUMBER_LIFECYCLE.apply(ItemState(N.in_stock), NA.reserve)
    assert reserved == ItemState(N.reserved, N.in_stock)
    assert NUMBER_LIFECYCLE.apply(reserved, NA.release_reservation) == ItemState(N.in_stock)
    from_pool = NUMBER_LIFECYCLE.apply(ItemState(N.available), NA.reserve)
    assert NUMBER_LIFECYCLE.apply(from_pool, NA.release_reservation) == ItemState(N.available)
    assert NUMBER_LIFECYCLE.apply(from_pool, NA.sell) == ItemState(N.sold)
    assert NUMBER_LIFECYCLE.apply(from_pool, NA.return_to_centre) == ItemState(N.available)


def test_freezing_a_reservation_cancels_it() -> None:
    reserved = ItemState(N.reserved, N.in_stock)
    frozen = NUMBER_LIFECYCLE.apply(reserved, NA.freeze)
    assert frozen == ItemState(N.frozen, N.in_stock)
    assert NUMBER_LIFECYCLE.apply(frozen, NA.unfreeze) == ItemState(N.in_stock)


def test_unfreezing_returns_to_the_prior_status() -> None:
    for prior in (V.generated, V.in_warehouse, V.allocated, V.in_stock, V.active):
        frozen = VOUCHER_LIFECYCLE.apply(ItemState(prior), VA.freeze)
        assert frozen == ItemState(V.frozen, prior)
        assert VOUCHER_LIFECYCLE.apply(frozen, VA.unfreeze) == ItemState(prior)
        assert VOUCHER_LIFECYCLE.apply(frozen, VA.void) == ItemState(V.voided)


def test_sources_for_conditional_updates() -> None:
    assert NUMBER_LIFECYCLE.sources(NA.release) == {N.imported}
    assert NUMBER_LIFECYCLE.sources(NA.sell) == {N.in_stock, N.reserved}
    assert NUMBER_LIFECYCLE.sources(NA.return_to_centre) == {N.allocated, N.in_stock, N.reserved}
    assert NUMBER_LIFECYCLE.sources(NA.freeze) == {
        N.imported, N.available, N.allocated, N.in_stock, N.reserved,
    }  # fmt: skip
    assert SIM_LIFECYCLE.sources(SA.mark_lost) == {S.in_warehouse, S.allocated, S.in_stock, S.sold}
    assert VOUCHER_LIFECYCLE.sources("release") == {V.generated}
    assert VOUCHER_LIFECYCLE.sources(VA.sell) == {V.in_stock}


def test_target() -> None:
    assert NUMBER_LIFECYCLE.target(N.imported, NA.release) is N.available
    assert VOUCHER_LIFECYCLE.target("in_stock", "sell") is V.active
    with pytest.raises(IllegalTransition, match="number in status sold cannot be reserved"):
        NUMBER_LIFECYCLE.target(N.sold, NA.reserve)
    with pytest.raises(ValueError, match="remembered status; use apply"):
        NUMBER_LIFECYCLE.target(N.frozen, NA.unfreeze)


def test_can_and_actions_from() -> None:
    assert NUMBER_LIFECYCLE.can(N.in_stock, NA.sell)
    assert NUMBER_LIFECYCLE.can("reserved", "sell")
    assert not NUMBER_LIFECYCLE.can(N.available, NA.sell)
    assert NUMBER_LIFECYCLE.actions_from(N.sold) == {NA.return_sale, NA.activate}
    assert NUMBER_LIFECYCLE.actions_from(N.frozen) == {NA.unfreeze}
    assert VOUCHER_LIFECYCLE.actions_from(V.active) == {
        VA.redeem, VA.return_sale, VA.expire, VA.freeze,
    }  # fmt: skip
    for lifecycle, status in [
        (SIM_LIFECYCLE, S.damaged),
        (SIM_LIFECYCLE, S.lost),
        (VOUCHER_LIFECYCLE, V.redeemed),
        (VOUCHER_LIFECYCLE, V.expired),
        (VOUCHER_LIFECYCLE, V.voided),
    ]:
        assert lifecycle.actions_from(status) == frozenset()


def test_plain_strings_are_accepted_and_enums_returned() -> None:
    state = NUMBER_LIFECYCLE.apply(ItemState("in_stock"), "reserve")  # type: ignore[arg-type]
    assert state == ItemState(N.reserved, N.in_stock)
    assert type(state.status) is NumberStatus and type(state.held_from) is NumberStatus


def test_unknown_names_are_refused() -> None:
    with pytest.raises(ValueError, match="'lost' is not a number status"):
        NUMBER_LIFECYCLE.can("lost", NA.sell)
    with pytest.raises(ValueError, match="'redeem' is not a number action"):
        NUMBER_LIFECYCLE.sources("redeem")
    with pytest.raises(ValueError, match="'bogus' is not a sim status"):
        SIM_LIFECYCLE.actions_from("bogus")


@pytest.mark.parametrize(
    "state",
    [
        ItemState(N.reserved),
        ItemState(N.frozen),
        ItemState(N.in_stock, N.available),
        ItemState(N.frozen, N.reserved),
        ItemState(N.frozen, "nowhere"),
    ],
)
def test_inconsistent_states_are_refused(state: ItemState) -> None:
    with pytest.raises(ValueError):
        NUMBER_LIFECYCLE.apply(state, NA.unfreeze)


def test_badly_built_tables_are_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        Lifecycle("x", {})
    with pytest.raises(TypeError, match="mixes enums"):
        Lifecycle("x", {(N.imported, NA.release): N.available, (S.sold, NA.sell): N.sold})
    with pytest.raises(TypeError, match="is not a status"):
        Lifecycle("x", {(N.imported, NA.release): S.sold})


# --- properties of random action sequences --------------------------------------------------


# Each step is (pick, index): pick 0 takes any action (mostly illegal ones), otherwise a legal
# action, so walks get deep; index chooses among the candidates.
STEPS = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 99)), max_size=60)


def _walk(
    lifecycle: Lifecycle, start: StrEnum, steps: list[tuple[int, int]]
) -> list[tuple[ItemState, StrEnum, ItemState | None]]:
    """Applies the chosen actions; returns each step as (state before, action, state after
    or None when the action was refused)."""
    everything = sorted(lifecycle.action_type, key=str)
    state = ItemState(start)
    walk = []
    for pick, index in steps:
        legal = sorted(lifecycle.actions_from(state.status), key=str)
        candidates = legal if pick and legal else everything
        action = candidates[index % len(candidates)]
        before = state
        if lifecycle.can(state.status, action):
            state = lifecycle.apply(state, action)
            walk.append((before, action, state))
        else:
            with pytest.raises(IllegalTransition):
                lifecycle.apply(state, action)
            assert state == before
            walk.append((before, action, None))
    return walk


def _non_holding(lifecycle: Lifecycle) -> list[StrEnum]:
    return [s for s in lifecycle.status_type if s not in lifecycle.holding]


@pytest.mark.parametrize(("lifecycle", "_e", "_s", "_a"), ALL)
@settings(max_examples=300)
@given(start_index=st.integers(0, 99), steps=STEPS)
def test_random_walks_stay_inside_the_table(
    lifecycle: Lifecycle,
    _e: dict,
    _s: type,
    _a: type,
    start_index: int,
    steps: list[tuple[int, int]],
) -> None:
    starts = _non_holding(lifecycle)
    start = starts[start_index % len(starts)]
    for before, action, after in _walk(lifecycle, start, steps):
        if after is None:
            assert not lifecycle.can(before.status, action)
            continue
        assert after.status in lifecycle.targets or after.status == start
        target = lifecycle.table[before.status, action]
        assert after.status == (before.held_from if target is PRIOR else target)
        # held_from is set exactly while reserved/frozen, and never to a holding status.
        assert (after.held_from is not None) == (after.status in lifecycle.holding)
        assert after.held_from not in lifecycle.holding


def _may_be_available_again(since_sale: list[NumberAction]) -> bool:
    if NA.return_sale in since_sale:
        after_return = since_sale[since_sale.index(NA.return_sale) + 1 :]
        if NA.return_to_centre in after_return:
            return True
    if NA.deactivate in since_sale:
        after_deactivate = since_sale[since_sale.index(NA.deactivate) + 1 :]
        if NA.end_cooling in after_deactivate:
            return True
    return False


@settings(max_examples=300)
@given(steps=STEPS)
def test_a_sold_number_comes_back_only_by_return_or_cooling(steps: list[tuple[int, int]]) -> None:
    since_sale: list[NumberAction] | None = None
    for _, action, after in _walk(NUMBER_LIFECYCLE, N.imported, steps):
        if after is None:
            continue
        if after.status is N.sold and action is NA.sell:
            since_sale = []
            continue
        if since_sale is not None:
            since_sale.append(action)
            if after.status is N.available:
                assert _may_be_available_again(since_sale), since_sale


@settings(max_examples=300)
@given(steps=STEPS)
def test_a_redeemed_voucher_never_changes(steps: list[tuple[int, int]]) -> None:
    redeemed = False
    for before, _, after in _walk(VOUCHER_LIFECYCLE, V.generated, steps):
        if redeemed:
            assert before == ItemState(V.redeemed)
            assert after is None
        redeemed = before.status is V.redeemed or (after is not None and after.status is V.redeemed)


@given(st.sampled_from(list(VoucherAction)))
def test_every_action_on_a_redeemed_voucher_is_illegal(action: VoucherAction) -> None:
    state = ItemState(V.redeemed)
    with pytest.raises(IllegalTransition, match=r"^voucher in status redeemed cannot be "):
        VOUCHER_LIFECYCLE.apply(state, action)
    assert state == ItemState(V.redeemed)
