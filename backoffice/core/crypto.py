"""Encryption of top-up card PINs at rest (AES-256-GCM)."""

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backoffice.core.config import Settings
from backoffice.core.security import load_or_create_key


class PinCipher:
    """Encrypts each PIN with a fresh nonce; the card serial is bound in as associated data
    so a ciphertext copied onto another card does not decrypt."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("PIN key must be 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def from_settings(cls, settings: Settings) -> "PinCipher":
        return cls(load_or_create_key(settings.pin_key, settings.data_dir / "pin.key"))

    def encrypt(self, serial: str, pin: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, pin.encode(), serial.encode())
        return base64.b64encode(nonce + sealed).decode()

    def decrypt(self, serial: str, token: str) -> str:
        raw = base64.b64decode(token)
        try:
            return self._aead.decrypt(raw[:12], raw[12:], serial.encode()).decode()
        except InvalidTag as exc:
            raise ValueError(f"PIN of card {serial} does not decrypt with this key") from exc
