"""Log-in by clerk code and PIN against cached PIN verifiers, online refresh, lock-out and lock
screen."""

import pytest

from pos_terminal.services.errors import BackOfficeRefused, Offline, PosError
from pos_terminal.services.login import LoginService
from pos_terminal.store import Store
from pos_terminal.sync import apply_pull
from tests.pos_terminal.helpers import (
    CLERK,
    CLERK_PIN,
    MANAGER,
    MANAGER_PIN,
    PIN_KEY,
    Clock,
    default_stock,
    pull_response,
)


def test_offline_login_against_cached_pin_verifiers(term_store: Store) -> None:
    login = LoginService(term_store, pin_key=PIN_KEY)
    result = login.login(CLERK, CLERK_PIN)
    assert (result.clerk.username, result.clerk.full_name, result.online) == (CLERK, "张三", False)
    assert login.require_clerk().username == CLERK
    with pytest.raises(PosError) as wrong:
        LoginService(term_store, pin_key=PIN_KEY).login(CLERK, "1112")
    assert wrong.value.code == "bad_login"
    with pytest.raises(PosError) as unknown:
        LoginService(term_store, pin_key=PIN_KEY).login("ghost", CLERK_PIN)
    assert unknown.value.code == "bad_login"  # same answer: codes are not guessable


def test_online_login_refreshes_the_clerk_list_first(term_store: Store) -> None:
    calls = []

    def refresh() -> None:
        calls.append(1)
        # The manager left the dealer: the pull no longer lists them.
        response = pull_response(default_stock(), cursor="c2")
        apply_pull(
            term_store,
            response.model_copy(
                update={"clerks": [c for c in response.clerks if c.username != MANAGER]}
            ),
        )

    login = LoginService(term_store, pin_key=PIN_KEY, refresh=refresh)
    assert login.login(CLERK, CLERK_PIN).online
    assert calls == [1]
    with pytest.raises(PosError):
        login.login(MANAGER, MANAGER_PIN)


@pytest.mark.parametrize("failure", [Offline("no route"), BackOfficeRefused("revoked", "no", 401)])
def test_login_falls_back_to_offline_when_the_refresh_fails(
    term_store: Store, failure: Exception
) -> None:
    def refresh() -> None:
        raise failure

    result = LoginService(term_store, pin_key=PIN_KEY, refresh=refresh).login(MANAGER, MANAGER_PIN)
    assert result.online is False and result.clerk.is_manager


def test_too_many_wrong_pins_lock_the_clerk_out_for_a_while(term_store: Store) -> None:
    clock: Clock = term_store.clock  # type: ignore[assignment]
    login = LoginService(term_store, pin_key=PIN_KEY, max_failures=3)
    for _ in range(3):
        with pytest.raises(PosError) as wrong:
            login.login(CLERK, "0000")
        assert wrong.value.code == "bad_login"
    with pytest.raises(PosError) as locked:
        login.login(CLERK, CLERK_PIN)
    assert locked.value.code == "clerk_locked_out"
    clock.advance(minutes=16)
    assert login.login(CLERK, CLERK_PIN).clerk.username == CLERK
    failures = term_store.conn.execute(
        "SELECT count(*) FROM audit WHERE action = 'login_failed'"
    ).fetchone()[0]
    assert failures == 3


def test_lock_screen_unlocks_for_the_same_clerk_or_a_manager(term_store: Store) -> None:
    login = LoginService(term_store, pin_key=PIN_KEY)
    with pytest.raises(PosError):
        login.lock()
    login.login(CLERK, CLERK_PIN)
    login.lock()
    with pytest.raises(PosError) as locked:
        login.require_clerk()
    assert locked.value.code == "locked"
    with pytest.raises(PosError):
        login.unlock(CLERK, "0000")
    assert login.locked
    login.unlock(CLERK, CLERK_PIN)
    assert login.require_clerk().username == CLERK
    login.lock()
    # A manager's PIN unlocks, and the counter goes back to the clerk who locked it.
    assert login.unlock(MANAGER, MANAGER_PIN).username == CLERK
    assert login.require_clerk().username == CLERK
    unlocked_by = term_store.conn.execute(
        "SELECT actor FROM audit WHERE action = 'unlock' ORDER BY id"
    ).fetchall()
    assert [row[0] for row in unlocked_by] == [CLERK, MANAGER]
    login.lock()
    login.unlock(CLERK, CLERK_PIN)  # and the clerk can still get back in
    assert login.require_clerk().username == CLERK
    login.logout()
    with pytest.raises(PosError) as out:
        login.require_clerk()
    assert out.value.code == "not_logged_in"
