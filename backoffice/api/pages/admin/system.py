"""The administrators' pages that run the system: price lists (prices.py), the audit log
(audit_log.py), the activation outbox (outbox.py), and here the configuration in effect,
secrets shown only as set or not set."""

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import SecretBytes, SecretStr

from backoffice.api.deps import SettingsDep
from backoffice.api.pages.admin import audit_log, outbox, prices
from backoffice.api.pages.frame import ADMIN_PAGES, page_user, render
from backoffice.core.config import Settings
from backoffice.models import User

router = APIRouter(include_in_schema=False)
for part in (prices, audit_log, outbox):
    router.include_router(part.router)

# A setting whose name has one of these words may hold a credential: its value is never shown,
# only whether it is set, unless it is a number or a yes/no (a duration or a count, such as
# token_minutes, never a credential).
SECRET_WORDS = frozenset(
    {
        "secret",
        "key",
        "keys",
        "password",
        "passwd",
        "pwd",
        "token",
        "credential",
        "credentials",
        "pin",
        "hmac",
        "salt",
        "private",
        "cookie",
        "signature",
        "auth",
    }
)


@dataclass(frozen=True)
class ConfigRow:
    name: str
    variable: str  # the environment variable that sets it
    shown: str  # the value as shown; "" for a hidden one
    hidden: bool  # a secret: `is_set` tells whether it is set, nothing more
    is_set: bool
    default: bool  # the default value is in effect (nothing set it)


def _has_credentials(value: str) -> bool:
    """A URL with a user, a password or a query (where tokens travel) in it."""
    if "://" not in value:
        return False
    parts = urlsplit(value)
    return bool(parts.username or parts.password or parts.query or "@" in parts.netloc)


def is_secret(name: str, value: Any) -> bool:
    """Whether a setting's value must not be shown: secret types, secret-sounding names (but
    for numbers and yes/no), and URLs carrying credentials."""
    if isinstance(value, SecretStr | SecretBytes | bytes):
        return True
    if isinstance(value, bool | int | float):
        return False
    if set(name.lower().split("_")) & SECRET_WORDS:
        return True
    return isinstance(value, str) and _has_credentials(value)


def _variable(settings: Settings, name: str) -> str:
    field = type(settings).model_fields[name]
    alias = field.validation_alias
    choices = getattr(alias, "choices", None)
    if choices:
        return str(choices[0])
    prefix = settings.model_config.get("env_prefix", "") or ""
    return f"{prefix}{name}".upper()


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Path):
        return str(value)
    return str(value)


def config_rows(settings: Settings) -> list[ConfigRow]:
    """Every setting in effect, in the order Settings declares them, secrets hidden."""
    rows = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        hidden = is_secret(name, value)
        rows.append(
            ConfigRow(
                name=name,
                variable=_variable(settings, name),
                shown="" if hidden else _shown(value),
                hidden=hidden,
                is_set=value is not None and value != "",
                default=name not in settings.model_fields_set,
            )
        )
    return rows


@router.get("/admin/config", response_class=HTMLResponse)
def config_page(
    request: Request,
    settings: SettingsDep,
    user: Annotated[User, page_user(ADMIN_PAGES)],
) -> Response:
    return render(request, "admin/config.html", {"rows": config_rows(settings)})
