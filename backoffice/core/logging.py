"""What the back office's logs may not contain, and the filter that keeps it out: resident ID
numbers, bearer tokens and JWTs, and password/PIN/token/secret values are redacted from every
record (message, arguments, traceback) before any handler writes it."""

import copy
import logging
import logging.config
import re
from collections.abc import Mapping
from typing import Any

_SECRET_NAME = r"[A-Za-z_]*(?:password|passwd|pin|token|secret|credential)"
_DONE = r"\[redacted\]"  # so that redacting twice changes nothing
REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # A resident ID number (and anything else 18 characters long shaped like one). Longer
    # digit runs (ICCIDs) are left alone, and so are runs inside lower-case hex (digests such
    # as the audit chain's anchors, which must stay whole).
    (re.compile(r"(?<![0-9a-f])[0-9]{17}[0-9Xx](?![0-9a-f])"), "[id redacted]"),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]+=*"), "Bearer [redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[jwt redacted]"),
    # password=…, pin=… in URLs, forms and reprs; "pin": "…" in JSON and dict reprs.
    (
        re.compile(rf"(?i)\b({_SECRET_NAME})(\s*=\s*)(?!{_DONE})[^\s&\"',;)}}\]]+"),
        r"\1\2[redacted]",
    ),
    (
        re.compile(
            rf"(?i)([\"']{_SECRET_NAME}[\"']\s*:\s*)(?!{_DONE})(?:\"[^\"]*\"|'[^']*'|[^\s,}}\]]+)"
        ),
        r"\1[redacted]",
    ),
)


def redact(text: str) -> str:
    for pattern, replacement in REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def _redact_arg(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    text = str(value)
    cleaned = redact(text)
    # Objects are kept as they are (so that %d and %r still format them) unless their text
    # holds something to hide.
    return value if cleaned == text else cleaned


_formatter = logging.Formatter()


class RedactingFilter(logging.Filter):
    """Rewrites each record in place, so every handler after it writes the redacted text."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, Mapping):
            record.args = {k: _redact_arg(v) for k, v in args.items()}
        elif args:
            # uvicorn's access formatter reads its arguments by position: keep them a tuple.
            record.args = tuple(_redact_arg(a) for a in args)
        try:
            message, broken = record.getMessage(), False
        except (TypeError, ValueError):
            message, broken = f"{record.msg} {record.args}", True
        cleaned = redact(message)
        if broken or cleaned != message or not isinstance(record.msg, str):
            # What to hide is in the format string, or spans it and an argument ("pin=%s"):
            # the record carries the finished, redacted message instead.
            record.msg, record.args = cleaned, None
        if record.exc_info:
            record.exc_text = redact(_formatter.formatException(record.exc_info))
            # Handlers format exc_text as is; left set, exc_info would be formatted afresh.
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def install() -> None:
    """Adds the filter to every handler the root and uvicorn's loggers have now, and to the
    last-resort handler: for a server started some other way than `haoka-office serve`
    (which configures logging with log_config)."""
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in _SERVER_LOGGERS)]
    handlers = [h for logger in loggers for h in logger.handlers]
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())


def log_config(level: str = "INFO") -> dict[str, Any]:
    """uvicorn's logging configuration with the filter on every handler, and a handler for
    the back office's own loggers (`haoka.*`), for logging.config.dictConfig."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": f"{__name__}.RedactingFilter"}}
    config["formatters"]["plain"] = {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    config["handlers"]["plain"] = {
        "class": "logging.StreamHandler",
        "formatter": "plain",
        "stream": "ext://sys.stderr",
    }
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    config["root"] = {"handlers": ["plain"], "level": level}
    return config


def configure(level: str = "INFO") -> None:
    """Logging for a back-office process that is not the server (the worker)."""
    logging.config.dictConfig(log_config(level))
