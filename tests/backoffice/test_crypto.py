"""Keys per purpose, key ids in ciphertexts, rotation-ready key rings, the keyed hash of ID
numbers, and where the keys come from."""

import base64
import hashlib
import hmac
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backoffice.core.config import Settings
from backoffice.core.crypto import (
    ID_KEYS,
    KEY_SOURCES,
    PIN_KEYS,
    Cipher,
    CipherError,
    KeyedHash,
    Keys,
    add_key,
    key_id,
    pin_cipher,
    retire_old_keys,
)

OLD, NEW = b"o" * 32, b"n" * 32


def _b64(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


def test_a_ciphertext_names_its_key_and_binds_purpose_and_context() -> None:
    ids = Cipher("id", [OLD])
    token = ids.encrypt("sale-1", "33060219900101123X")
    assert token.startswith(f"{key_id(OLD)}:") and "33060219900101123X" not in token
    assert ids.is_current(token)
    assert ids.decrypt("sale-1", token) == "33060219900101123X"
    assert ids.encrypt("sale-1", "33060219900101123X") != token  # a fresh nonce each time
    with pytest.raises(CipherError, match="sale-2"):
        ids.decrypt("sale-2", token)  # copied onto another sale
    with pytest.raises(CipherError):
        Cipher("name", [OLD]).decrypt("sale-1", token)  # the same key used for another purpose


def test_an_old_key_decrypts_while_the_new_one_encrypts() -> None:
    before = Cipher("pin", [OLD]).encrypt("10575000000000001", "1234567890123456")
    ring = Cipher("pin", [NEW, OLD])
    assert not ring.is_current(before)
    assert ring.decrypt("10575000000000001", before) == "1234567890123456"
    after = ring.encrypt("10575000000000001", "1234567890123456")
    assert ring.is_current(after) and after.startswith(f"{key_id(NEW)}:")
    with pytest.raises(CipherError, match=f"key {key_id(OLD)}, which is not configured"):
        Cipher("pin", [NEW]).decrypt("10575000000000001", before)


def test_ciphertexts_from_before_key_ids_still_decrypt() -> None:
    # The format PINs (and sales' ID numbers) were stored in: base64(nonce, sealed), the
    # context alone as associated data.
    nonce = os.urandom(12)
    legacy = base64.b64encode(
        nonce + AESGCM(OLD).encrypt(nonce, b"1234567890123456", b"S1")
    ).decode()
    assert Cipher("pin", [NEW, OLD]).decrypt("S1", legacy) == "1234567890123456"
    with pytest.raises(CipherError):
        Cipher("pin", [NEW]).decrypt("S1", legacy)


def test_keys_must_be_32_bytes() -> None:
    with pytest.raises(CipherError, match="id key 2 has 5 bytes"):
        Cipher("id", [OLD, b"short"])
    with pytest.raises(CipherError, match="no name key"):
        Cipher("name", [])


def test_the_keyed_hash_is_hmac_sha256_of_the_id_under_the_current_key() -> None:
    value = "33060219900101123X"
    hashed = KeyedHash("id-hmac", [NEW, OLD])
    expected = hmac.new(NEW, value.encode(), hashlib.sha256).hexdigest()
    assert hashed.digest(value) == f"{key_id(NEW)}:{expected}"
    assert hashed.digest(value) == hashed.digest(value)
    assert hashed.is_current(hashed.digest(value))
    old = KeyedHash("id-hmac", [OLD]).digest(value)
    assert not hashed.is_current(old)
    assert hashed.candidates(value) == [hashed.digest(value), old]


def test_each_purpose_gets_its_own_generated_key_file(tmp_path: Path) -> None:
    settings = Settings(database_url="sqlite://", data_dir=tmp_path)
    keys = Keys.from_settings(settings)
    files = {s.file_name: (tmp_path / s.file_name).read_bytes() for s in KEY_SOURCES}
    assert set(files) == {"pin.key", "id.key", "name.key", "id-hmac.key"}
    assert len(set(files.values())) == 4  # four different keys
    for name in files:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    token = keys.ids.encrypt("sale-1", "33060219900101123X")
    with pytest.raises(CipherError):
        keys.pins.decrypt("sale-1", token)
    # Read again, the same keys.
    assert Keys.from_settings(settings).ids.decrypt("sale-1", token) == "33060219900101123X"


def test_configured_keys_list_the_current_one_first(tmp_path: Path) -> None:
    settings = Settings(
        database_url="sqlite://", data_dir=tmp_path, id_key=f"{_b64(NEW)},{_b64(OLD)}"
    )
    assert Keys.from_settings(settings).ids.key_id == key_id(NEW)
    assert not (tmp_path / "id.key").exists()
    bad = Settings(database_url="sqlite://", data_dir=tmp_path, name_key=_b64(b"x" * 16))
    with pytest.raises(CipherError, match="HAOKA_NAME_KEY: name key 1 has 16 bytes"):
        Keys.from_settings(bad)


def test_a_new_key_goes_first_in_the_file_and_old_ones_can_be_retired(tmp_path: Path) -> None:
    settings = Settings(database_url="sqlite://", data_dir=tmp_path)
    first = Keys.from_settings(settings).ids
    token = first.encrypt("sale-1", "33060219900101123X")
    new_id = add_key(ID_KEYS, settings)
    ring = Keys.from_settings(settings).ids
    assert ring.key_id == new_id != first.key_id
    assert ring.decrypt("sale-1", token) == "33060219900101123X"
    assert stat.S_IMODE((tmp_path / "id.key").stat().st_mode) == 0o600
    assert pin_cipher(settings).key_id == Keys.from_settings(settings).pins.key_id  # untouched
    assert retire_old_keys(ID_KEYS, settings) == [first.key_id]
    with pytest.raises(CipherError):
        Keys.from_settings(settings).ids.decrypt("sale-1", token)
    configured = Settings(database_url="sqlite://", data_dir=tmp_path, pin_key=_b64(NEW))
    with pytest.raises(CipherError, match="HAOKA_PIN_KEY is set"):
        add_key(PIN_KEYS, configured)


def test_settings_never_show_the_keys() -> None:
    secret = _b64(NEW)
    settings = Settings(
        database_url="sqlite://", pin_key=secret, id_key=secret, name_key=secret, id_hmac_key=secret
    )
    assert secret not in repr(settings) and secret not in str(settings.model_dump())
    assert Keys.from_settings(settings).ids.key_id == key_id(NEW)
