"""Clerk log-in by code and PIN against the PIN verifiers the last pull brought (keyed by
this terminal's credential: shared/pins.py), lock screen and a manager's approval at the
counter, with a lock-out after repeated wrong PINs."""

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher

from pos_terminal.services.errors import BackOfficeRefused, Offline, PosError
from pos_terminal.store import Store, audit, from_text, to_text
from shared import pins

ROLE_CLERK = "clerk"
ROLE_MANAGER = "dealer_manager"
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)

_hasher = PasswordHasher()


def hash_pin(pin: str) -> str:
    """An argon2 hash as the back office makes them (for demo data and tests)."""
    return _hasher.hash(pin)


@dataclass(frozen=True)
class Clerk:
    username: str
    full_name: str
    role: str

    @property
    def is_manager(self) -> bool:
        return self.role == ROLE_MANAGER


@dataclass(frozen=True)
class LoginResult:
    clerk: Clerk
    # True when the clerk list was refreshed from the back office just before checking.
    online: bool


class LoginService:
    """Who is at the counter. PINs are checked against the verifiers the last pull brought,
    with `pin_key`, which comes from the terminal's credential file (pins.pin_key_for_
    credential) and never from its database: without it no PIN can be checked, or guessed.

    `refresh` (the sync client's pull) is tried first so a new or changed PIN works at once
    when the back office is reachable; any failure there means an offline log-in."""

    def __init__(
        self,
        store: Store,
        *,
        pin_key: bytes | None = None,
        refresh: Callable[[], object] | None = None,
        max_failures: int = MAX_FAILURES,
        lockout: timedelta = LOCKOUT,
    ) -> None:
        self.store = store
        self.pin_key = pin_key
        self.refresh = refresh
        self.max_failures = max_failures
        self.lockout = lockout
        self.current: Clerk | None = None
        self.locked = False

    def _check_pin(self, username: str, pin: str) -> Clerk:
        """The clerk when the PIN matches; counts failures and locks the code out after many."""
        now = self.store.now()
        row = self.store.conn.execute(
            "SELECT * FROM clerks WHERE username = ?", (username,)
        ).fetchone()
        if row is None or row["pin_verifier"] is None:
            with self.store.write() as conn:
                audit(conn, now, username, "login_failed", json.dumps({"why": "unknown"}))
            raise PosError("bad_login", "wrong clerk code or PIN")
        if self.pin_key is None:
            raise PosError("not_registered", "this terminal holds no credential: register it first")
        if row["locked_until"] is not None and from_text(row["locked_until"]) > now:
            raise PosError(
                "clerk_locked_out",
                f"too many wrong PINs: {username} is locked until "
                f"{from_text(row['locked_until']).isoformat(timespec='minutes')} (UTC)",
            )
        ok = pins.check_pin(self.pin_key, row["pin_verifier"], pin)
        with self.store.write() as conn:
            if ok:
                conn.execute(
                    "UPDATE clerks SET failed_logins = 0, locked_until = NULL WHERE username = ?",
                    (username,),
                )
            else:
                failures = row["failed_logins"] + 1
                until = to_text(now + self.lockout) if failures >= self.max_failures else None
                conn.execute(
                    "UPDATE clerks SET failed_logins = ?, locked_until = ? WHERE username = ?",
                    (0 if until else failures, until, username),
                )
                audit(
                    conn,
                    now,
                    username,
                    "login_failed",
                    json.dumps({"failures": failures, "locked_until": until}),
                )
        if not ok:
            raise PosError("bad_login", "wrong clerk code or PIN")
        return Clerk(row["username"], row["full_name"], row["role"])

    def login(self, username: str, pin: str) -> LoginResult:
        online = False
        if self.refresh is not None:
            try:
                self.refresh()
                online = True
            except (Offline, BackOfficeRefused):
                # Unreachable or refusing (e.g. a revoked credential): the cached hashes decide.
                online = False
        clerk = self._check_pin(username.strip(), pin)
        self.current, self.locked = clerk, False
        with self.store.write() as conn:
            audit(conn, self.store.now(), clerk.username, "login", json.dumps({"online": online}))
        return LoginResult(clerk, online)

    def require_clerk(self) -> Clerk:
        """The clerk at the counter; PosError when nobody is logged in or the screen is locked."""
        if self.current is None:
            raise PosError("not_logged_in", "log in first")
        if self.locked:
            raise PosError("locked", "the terminal is locked; enter your PIN")
        return self.current

    def lock(self) -> None:
        self.require_clerk()
        self.locked = True

    def unlock(self, username: str, pin: str) -> Clerk:
        """The clerk who locked the screen, or a dealer manager, can unlock it; either way the
        counter goes back to the clerk who locked it (who is returned): a manager's PIN never
        changes who is on shift. Audited with who unlocked."""
        if self.current is None:
            raise PosError("not_logged_in", "log in first")
        clerk = self._check_pin(username.strip(), pin)
        if clerk.username != self.current.username and not clerk.is_manager:
            raise PosError("not_allowed", f"only {self.current.username} or a manager can unlock")
        self.locked = False
        with self.store.write() as conn:
            audit(
                conn,
                self.store.now(),
                clerk.username,
                "unlock",
                json.dumps({"clerk": self.current.username}),
            )
        return self.current

    def logout(self) -> None:
        self.current, self.locked = None, False

    def approve(
        self,
        manager: str,
        pin: str,
        action: str,
        detail: dict[str, object],
        *,
        with_audit: Callable[[sqlite3.Connection], None] | None = None,
    ) -> Clerk:
        """A dealer manager's PIN approval for an override or a drawer opening; audited.
        with_audit is the approved act's own local effect, committed with the audit row."""
        clerk = self._check_pin(manager.strip(), pin)
        if not clerk.is_manager:
            raise PosError("not_a_manager", f"{clerk.username} is not a dealer manager")
        with self.store.write() as conn:
            if with_audit is not None:
                with_audit(conn)
            audit(
                conn,
                self.store.now(),
                clerk.username,
                action,
                json.dumps(detail, ensure_ascii=False),
            )
        return clerk
