"""PIN verifiers for offline log-in at the counter: what the back office hands a terminal in
place of a PIN hash, and the check the terminal makes with it.

A 4–8 digit PIN under argon2 falls to brute force in minutes, so the pull must not carry
anything that can be tested against guesses on its own. A verifier is the argon2 hash of the
PIN (same salt and cost as the back office's) under an HMAC keyed per terminal, the key coming
from the terminal's device secret, which lives in its credential file and not in its
database. A copied clerk list, or the terminal database with it, tests no guess without the
credential file as well; and a verifier made for one terminal is useless on another."""

import base64
import binascii
import hashlib
import hmac

from argon2 import Type, extract_parameters
from argon2.exceptions import InvalidHashError
from argon2.low_level import hash_secret_raw

SCHEME = "hv1"
_KEY_LABEL = b"haoka pin verifier v1"


def credential_digest(secret: str) -> str:
    """SHA-256 (hex) of a terminal's device secret: what the back office keeps of it."""
    return hashlib.sha256(secret.encode()).hexdigest()


def terminal_pin_key(digest: str) -> bytes:
    """The key of one terminal's verifiers, from the digest of its device secret."""
    return hmac.new(digest.encode(), _KEY_LABEL, hashlib.sha256).digest()


def pin_key_for_credential(credential: str) -> bytes:
    """The same key as the terminal derives it from its credential `<terminal id>.<secret>`."""
    _, _, secret = credential.partition(".")
    return terminal_pin_key(credential_digest(secret))


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode().rstrip("=")


def _mac(key: bytes, raw_hash: bytes) -> bytes:
    return hmac.new(key, raw_hash, hashlib.sha256).digest()


def make_verifier(key: bytes, argon2_hash: str) -> str | None:
    """The verifier of a PIN from its stored argon2id hash (None if it is not one):
    `hv1$m=…,t=…,p=…,l=…$<salt>$<HMAC(key, raw hash)>`."""
    try:
        params = extract_parameters(argon2_hash)
        *_, salt, raw = argon2_hash.split("$")
        raw_hash = _b64decode(raw)
        _b64decode(salt)
    except (InvalidHashError, ValueError, binascii.Error):
        return None
    if params.type is not Type.ID or len(raw_hash) != params.hash_len:
        return None
    cost = f"m={params.memory_cost},t={params.time_cost},p={params.parallelism},l={params.hash_len}"
    return f"{SCHEME}${cost}${salt}${_b64encode(_mac(key, raw_hash))}"


def check_pin(key: bytes, verifier: str, pin: str) -> bool:
    """True when the PIN is the one the verifier was made from, under this terminal's key."""
    try:
        scheme, cost, salt, mac = verifier.split("$")
        params = dict(part.split("=", 1) for part in cost.split(","))
        memory, time, lanes, length = (int(params[k]) for k in ("m", "t", "p", "l"))
        salt_bytes, expected = _b64decode(salt), _b64decode(mac)
    except (ValueError, KeyError, binascii.Error):
        return False
    # A forged verifier must not make the terminal spend gigabytes or hours on one log-in.
    if scheme != SCHEME or not (8 <= memory <= 1 << 20 and 1 <= time <= 16 and 1 <= lanes <= 16):
        return False
    if not 16 <= length <= 64:
        return False
    raw = hash_secret_raw(pin.encode(), salt_bytes, time, memory, lanes, length, Type.ID)
    return hmac.compare_digest(_mac(key, raw), expected)
