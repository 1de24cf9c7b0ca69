"""Password hashing (argon2), bearer tokens (JWT) and the keys behind them."""

import base64
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backoffice.core.config import Settings

_hasher = PasswordHasher()
TOKEN_ALGORITHM = "HS256"


class TokenError(Exception):
    """A bearer token that is missing, malformed, forged or expired."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def load_or_create_key(configured: str | None, path: Path) -> bytes:
    """The configured key, else one generated once into `path` (mode 0600)."""
    if configured:
        return base64.urlsafe_b64decode(configured.encode() + b"==")
    if path.exists():
        return base64.urlsafe_b64decode(path.read_bytes().strip() + b"==")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(base64.urlsafe_b64encode(key))
    return key


def token_key(settings: Settings) -> bytes:
    return load_or_create_key(settings.secret_key, settings.data_dir / "secret.key")


def create_access_token(user_id: str, role: str, settings: Settings) -> tuple[str, datetime]:
    expires = datetime.now(UTC) + timedelta(minutes=settings.token_minutes)
    claims = {"sub": user_id, "role": role, "exp": expires, "typ": "user"}
    return jwt.encode(claims, token_key(settings), algorithm=TOKEN_ALGORITHM), expires


def decode_access_token(token: str, settings: Settings) -> dict:
    try:
        return jwt.decode(token, token_key(settings), algorithms=[TOKEN_ALGORITHM])
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token expired") from exc
    except jwt.PyJWTError as exc:
        raise TokenError("invalid token") from exc
