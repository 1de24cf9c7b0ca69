"""The one error type the services raise: a stable code for the UI and a message for people."""

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class PosError(Exception):
    """An act the terminal refuses; `code` is stable, `message` is shown to the clerk."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Offline(Exception):
    """The back office could not be reached; the terminal carries on from its own store."""


class Busy(Offline):
    """The back office is overloaded and asked to be called again in `retry_after` seconds
    (503 with Retry-After): nothing was wrong with what was sent, which stays pending."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BackOfficeRefused(Exception):
    """The back office answered with an error; `code` is its stable error code."""

    def __init__(self, code: str, message: str, status_code: int = 0) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status_code = status_code


def build(model: type[M], **fields: Any) -> M:
    """A wire contract from the clerk's input; what it refuses becomes a PosError to show."""
    try:
        return model(**fields)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise PosError("invalid_input", f"{where}: {first['msg']}") from None
