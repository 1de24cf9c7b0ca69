"""Keys and encryption of secrets and personal data at rest: one AES-256-GCM cipher for every
purpose (top-up card PINs, resident ID numbers, names), a keyed hash (HMAC-SHA256) of ID
numbers, and the key rings behind them, one per purpose, that make rotation possible."""

import base64
import binascii
import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backoffice.core.config import Settings
from backoffice.core.security import load_or_create_key

KEY_BYTES = 32
_NONCE = 12


class CipherError(ValueError):
    """A key that is malformed, or a ciphertext whose key is not configured (any more)."""


def key_id(key: bytes) -> str:
    """A short fingerprint stored beside what a key protects: it names the key (so that an old
    key still decrypts after a new one took over) without revealing anything of it."""
    return hmac.new(key, b"haoka key id", hashlib.sha256).hexdigest()[:8]


def _ring(purpose: str, keys: Sequence[bytes]) -> dict[str, bytes]:
    """Key id → key, the current key first."""
    if not keys:
        raise CipherError(f"no {purpose} key configured")
    ring: dict[str, bytes] = {}
    for position, key in enumerate(keys, start=1):
        if len(key) != KEY_BYTES:
            raise CipherError(
                f"{purpose} key {position} has {len(key)} bytes, not {KEY_BYTES} "
                "(32 random bytes, urlsafe base64)"
            )
        ring.setdefault(key_id(key), key)
    return ring


class Cipher:
    """AES-256-GCM for one purpose. A ciphertext reads `<key id>:<base64(nonce, sealed)>`; the
    purpose and a context (the card serial, the sale id) are bound in as associated data, so a
    ciphertext copied onto another card or sale, or into another column, does not decrypt.

    The first key encrypts; the others only decrypt what they encrypted until `rotate-keys`
    has moved it to the first. Ciphertexts from before key ids (plain base64, associated data
    the context alone) still decrypt with any key of the ring."""

    def __init__(self, purpose: str, keys: Sequence[bytes]) -> None:
        self.purpose = purpose
        self._aeads = {kid: AESGCM(key) for kid, key in _ring(purpose, keys).items()}
        self.key_id = next(iter(self._aeads))
        self.prefix = f"{self.key_id}:"

    def _bound(self, context: str) -> bytes:
        return f"{self.purpose}\x1f{context}".encode()

    def encrypt(self, context: str, plaintext: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = self._aeads[self.key_id].encrypt(nonce, plaintext.encode(), self._bound(context))
        return self.prefix + base64.b64encode(nonce + sealed).decode()

    def decrypt(self, context: str, token: str) -> str:
        kid, keyed, body = token.rpartition(":")
        try:
            raw = base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            raise CipherError(f"{self.purpose} ciphertext of {context} is not base64") from exc
        if keyed:
            aead = self._aeads.get(kid)
            if aead is None:
                raise CipherError(
                    f"{self.purpose} ciphertext of {context} needs key {kid}, which is not "
                    "configured"
                )
            tries = [(aead, self._bound(context))]
        else:
            tries = [(aead, context.encode()) for aead in self._aeads.values()]
        for aead, bound in tries:
            try:
                return aead.decrypt(raw[:_NONCE], raw[_NONCE:], bound).decode()
            except InvalidTag:
                continue
        raise CipherError(f"{self.purpose} ciphertext of {context} does not decrypt with its key")

    def is_current(self, token: str) -> bool:
        return token.startswith(self.prefix)


class KeyedHash:
    """HMAC-SHA256 under the purpose's current key, stored as `<key id>:<hex>`: equal inputs give
    equal digests, so rows can be matched on it without anything being decrypted. A hash
    cannot be re-keyed by itself: rotation recomputes it from the decrypted input."""

    def __init__(self, purpose: str, keys: Sequence[bytes]) -> None:
        self.purpose = purpose
        self._keys = _ring(purpose, keys)
        self.key_id = next(iter(self._keys))
        self.prefix = f"{self.key_id}:"

    def digest(self, value: str) -> str:
        return self._digest(self.key_id, value)

    def candidates(self, value: str) -> list[str]:
        """The digest under every key of the ring, current first: what to look up while a
        rotation is under way."""
        return [self._digest(kid, value) for kid in self._keys]

    def is_current(self, digest: str) -> bool:
        return digest.startswith(self.prefix)

    def _digest(self, kid: str, value: str) -> str:
        return f"{kid}:{hmac.new(self._keys[kid], value.encode(), hashlib.sha256).hexdigest()}"


@dataclass(frozen=True)
class KeySource:
    """Where one purpose's keys come from: a setting, else a file in the data directory."""

    purpose: str
    setting: str  # the Settings attribute; the variable is HAOKA_ + its upper case
    file_name: str

    @property
    def variable(self) -> str:
        return f"HAOKA_{self.setting.upper()}"

    def path(self, settings: Settings) -> Path:
        return settings.data_dir / self.file_name

    def configured(self, settings: Settings) -> str | None:
        value = getattr(settings, self.setting)
        return value.get_secret_value() if value is not None else None

    def keys(self, settings: Settings) -> list[bytes]:
        """The configured keys (comma-separated, current first), else the file's (one a line,
        current first), else one generated once into the file (mode 0600)."""
        configured = self.configured(settings)
        path = self.path(settings)
        if configured:
            texts, origin = configured.split(","), self.variable
        else:
            if not path.exists():
                try:
                    return [load_or_create_key(None, path)]
                except FileExistsError:
                    pass  # another process generated it first: read what it wrote
            texts, origin = path.read_text().split(), str(path)
        keys = []
        for position, text in enumerate(t.strip() for t in texts if t.strip()):
            try:
                keys.append(base64.urlsafe_b64decode(text.encode() + b"=="))
            except (binascii.Error, ValueError) as exc:
                raise CipherError(f"{origin}: key {position + 1} is not urlsafe base64") from exc
        try:
            _ring(self.purpose, keys)
        except CipherError as exc:
            raise CipherError(f"{origin}: {exc}") from exc
        return keys

    def cipher(self, settings: Settings) -> Cipher:
        return Cipher(self.purpose, self.keys(settings))


PIN_KEYS = KeySource("pin", "pin_key", "pin.key")
ID_KEYS = KeySource("id", "id_key", "id.key")
NAME_KEYS = KeySource("name", "name_key", "name.key")
ID_HMAC_KEYS = KeySource("id-hmac", "id_hmac_key", "id-hmac.key")
KEY_SOURCES = (PIN_KEYS, ID_KEYS, NAME_KEYS, ID_HMAC_KEYS)


def _write_keys(path: Path, keys: Sequence[bytes]) -> None:
    """Replaces the key file at once (mode 0600), so a reader never sees half of it."""
    spare = path.with_name(path.name + ".new")
    spare.unlink(missing_ok=True)
    fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("".join(base64.urlsafe_b64encode(k).decode() + "\n" for k in keys))
    spare.replace(path)


def _file_only(source: KeySource, settings: Settings, instead: str) -> None:
    if source.configured(settings):
        raise CipherError(f"{source.variable} is set: {instead}")


def add_key(source: KeySource, settings: Settings) -> str:
    """Generates a new current key for a purpose whose keys live in the data directory: it goes
    first in the file, the old ones stay below it to decrypt until rotated. Returns its id."""
    _file_only(source, settings, "put a new key first in it, comma-separated from the old ones")
    key = secrets.token_bytes(KEY_BYTES)
    _write_keys(source.path(settings), [key, *source.keys(settings)])
    return key_id(key)


def retire_old_keys(source: KeySource, settings: Settings) -> list[str]:
    """Drops every key but the current one from the purpose's key file (once nothing stored
    needs them: `rotate-keys` checks); returns the ids of the keys dropped."""
    _file_only(source, settings, "remove the old keys from it")
    current, *old = source.keys(settings)
    if old:
        _write_keys(source.path(settings), [current])
    return [key_id(k) for k in old]


@dataclass(frozen=True)
class Keys:
    """The back office's keys, one ring per purpose: card PINs, resident ID numbers, names,
    and the keyed hash of ID numbers."""

    pins: Cipher
    ids: Cipher
    names: Cipher
    id_hash: KeyedHash

    @classmethod
    def from_settings(cls, settings: Settings) -> "Keys":
        return cls(
            pins=PIN_KEYS.cipher(settings),
            ids=ID_KEYS.cipher(settings),
            names=NAME_KEYS.cipher(settings),
            id_hash=KeyedHash(ID_HMAC_KEYS.purpose, ID_HMAC_KEYS.keys(settings)),
        )

    @classmethod
    def of(cls, pin: bytes, resident_id: bytes, name: bytes, id_hmac: bytes) -> "Keys":
        """One key per purpose, for tools and tests."""
        return cls(
            pins=Cipher(PIN_KEYS.purpose, [pin]),
            ids=Cipher(ID_KEYS.purpose, [resident_id]),
            names=Cipher(NAME_KEYS.purpose, [name]),
            id_hash=KeyedHash(ID_HMAC_KEYS.purpose, [id_hmac]),
        )


def pin_cipher(settings: Settings) -> Cipher:
    return PIN_KEYS.cipher(settings)
