"""PIN verifiers (keyed per terminal, no use without the key) and the override caps' rule."""

import pytest
from argon2 import PasswordHasher

from shared import pins
from shared.overrides import OverrideCaps, allowed_range, override_refusal

HASH = PasswordHasher(time_cost=1, memory_cost=8_192, parallelism=1).hash("4821")
KEY = pins.pin_key_for_credential("t-1." + "a" * 43)


def test_a_verifier_checks_the_pin_only_with_its_terminals_key() -> None:
    verifier = pins.make_verifier(KEY, HASH)
    assert verifier is not None and verifier.startswith("hv1$m=8192,t=1,p=1,l=32$")
    # Neither the hash nor anything that tests a guess without the key goes to the terminal.
    assert HASH.rsplit("$", 1)[1] not in verifier
    assert pins.check_pin(KEY, verifier, "4821")
    assert not pins.check_pin(KEY, verifier, "4822")
    other = pins.pin_key_for_credential("t-2." + "b" * 43)
    assert not pins.check_pin(other, verifier, "4821")
    assert pins.make_verifier(other, HASH) != verifier
    # The key is the digest the back office stores of the device secret, keyed for this use.
    assert pins.terminal_pin_key(pins.credential_digest("a" * 43)) == KEY


@pytest.mark.parametrize(
    "stored", ["-", "", "$2b$12$abcdefghijklmnopqrstuv", "$argon2i$v=19$m=8,t=1,p=1$c2FsdA$aGFzaA"]
)
def test_only_argon2id_hashes_make_verifiers(stored: str) -> None:
    assert pins.make_verifier(KEY, stored) is None


@pytest.mark.parametrize(
    "forged",
    [
        "nonsense",
        "hv0$m=8192,t=1,p=1,l=32$c2FsdHNhbHRzYWx0$AAAA",
        "hv1$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0$AAAA",
        # A verifier asking for 4 GiB of memory or an hour of work is refused, not computed.
        "hv1$m=4194304,t=1,p=1,l=32$c2FsdHNhbHRzYWx0$AAAA",
        "hv1$m=8192,t=100,p=1,l=32$c2FsdHNhbHRzYWx0$AAAA",
        "hv1$m=8192,t=1,p=1,l=32$not base64!$AAAA",
    ],
)
def test_a_malformed_or_forged_verifier_never_matches(forged: str) -> None:
    assert not pins.check_pin(KEY, forged, "4821")


def test_caps_allow_the_tighter_discount_and_a_smaller_range_offline() -> None:
    caps = OverrideCaps(
        max_discount_fen=1_500, max_discount_percent=20, max_markup_fen=300, offline_max_fen=500
    )
    assert allowed_range(caps, 5_000, online=True) == (4_000, 5_300)  # 20 % is the tighter
    assert allowed_range(caps, 10_000, online=True) == (8_500, 10_300)  # ¥15 is the tighter
    assert allowed_range(caps, 10_000, online=False) == (9_500, 10_300)
    assert allowed_range(OverrideCaps(), 5_000, online=True) == (0, 5_000)
    assert override_refusal(caps, 10_000, 8_500, online=True) is None
    assert "may go down to 8500 fen" in (override_refusal(caps, 10_000, 8_499, online=True) or "")
    assert "offline" in (override_refusal(caps, 10_000, 9_000, online=False) or "")
    assert "may go up to 10300 fen" in (override_refusal(caps, 10_000, 10_301, online=True) or "")
