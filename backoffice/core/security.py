"""Password hashing (argon2), bearer tokens (JWT with expiry, issue time and a unique id), the
CSRF tokens of the web forms, and the keys behind them."""

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from backoffice.core.config import Settings

_hasher = PasswordHasher()
TOKEN_ALGORITHM = "HS256"
# A token lacking any of these is refused: no expiry would make it valid forever, and without
# an id it could not be revoked at log-out.
REQUIRED_CLAIMS = ("sub", "exp", "iat", "jti")
# Office processes may run on machines whose clocks differ by a few seconds.
CLOCK_LEEWAY = timedelta(seconds=30)


class TokenError(Exception):
    """A bearer token that is missing, malformed, forged or expired."""


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: datetime


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


def create_access_token(user_id: str, role: str, epoch: int, settings: Settings) -> IssuedToken:
    """A signed token for the user; `epoch` is the user's session epoch, which deactivation
    and password changes raise to end every token issued before."""
    issued = datetime.now(UTC)
    expires = issued + timedelta(minutes=settings.token_minutes)
    jti = secrets.token_urlsafe(16)
    claims = {
        "sub": user_id,
        "role": role,
        "typ": "user",
        "sep": epoch,
        "iat": issued,
        "exp": expires,
        "jti": jti,
    }
    token = jwt.encode(claims, token_key(settings), algorithm=TOKEN_ALGORITHM)
    return IssuedToken(token, jti, expires)


def decode_access_token(token: str, settings: Settings, *, verify_exp: bool = True) -> dict:
    """The claims of a token this office signed, with expiry, issue time and id present."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            token_key(settings),
            algorithms=[TOKEN_ALGORITHM],
            leeway=CLOCK_LEEWAY,
            options={"require": list(REQUIRED_CLAIMS), "verify_exp": verify_exp},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError("token expired") from exc
    except jwt.PyJWTError as exc:
        raise TokenError("invalid token") from exc
    if claims.get("typ") != "user" or not isinstance(claims["jti"], str):
        raise TokenError("invalid token")
    return claims


def token_id(token: str | None, settings: Settings) -> str | None:
    """The id of a token this office signed, expired or not (None for anything else): what a
    web form's CSRF token is bound to."""
    if not token:
        return None
    try:
        return str(decode_access_token(token, settings, verify_exp=False)["jti"])
    except TokenError:
        return None


def csrf_token(binding: str, settings: Settings) -> str:
    """The token a web form carries: a keyed hash of what it is bound to (the session's id, or
    before log-in the log-in page's nonce), so another site can neither read nor make it."""
    mac = hmac.new(token_key(settings), b"csrf\x00" + binding.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def csrf_token_matches(token: str, binding: str, settings: Settings) -> bool:
    expected = csrf_token(binding, settings)
    return bool(token) and hmac.compare_digest(token.encode(), expected.encode())
