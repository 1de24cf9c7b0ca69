"""Typed errors of the use cases; routes map each code to an HTTP status."""

from dataclasses import dataclass, field


@dataclass
class ServiceError(Exception):
    """Base of all use-case errors: a stable machine code and a message for people.

    The message is English. Where it is a catalog message (marked with N_, with %(name)s
    placeholders filled from `params`), the pages show it in the reader's language."""

    message: str
    code: str = "error"
    params: dict[str, object] = field(default_factory=dict, kw_only=True)

    def __str__(self) -> str:
        return self.message % self.params if self.params else self.message


@dataclass
class NotFound(ServiceError):
    code: str = "not_found"


@dataclass
class Conflict(ServiceError):
    code: str = "conflict"


@dataclass
class InvalidInput(ServiceError):
    code: str = "invalid_input"


@dataclass
class ImportFileError(ServiceError):
    """The file as a whole cannot be read: encoding, header, format."""

    code: str = "import_file_invalid"
    file: str = ""
    line: int | None = None
    column: str | None = None


@dataclass
class ImportRejected(ServiceError):
    """Some rows are bad and the clerk did not ask to skip them: nothing was imported."""

    code: str = "import_rejected"
    report: object = field(default=None)


@dataclass
class Unauthenticated(ServiceError):
    code: str = "not_authenticated"


@dataclass
class Forbidden(ServiceError):
    code: str = "forbidden"
