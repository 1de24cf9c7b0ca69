"""Contracts shared by every area: the public base model, error bodies, stock documents."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict

# Request contracts derive from CheckedModel: text without NUL, numbers within 64 bits, dates
# within reason, each refused with its field's name; Int32 for what INTEGER columns hold;
# CheckedDate for a date parameter outside a contract (path, query, form).
from shared.checks import INT32_MAX as INT32_MAX
from shared.checks import CheckedDate as CheckedDate
from shared.checks import CheckedModel as CheckedModel
from shared.checks import Int32 as Int32


class Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class DocumentLinePublic(Public):
    item_kind: str
    batch_id: str
    first_item: str
    last_item: str
    item_count: int


class DocumentPublic(BaseModel):
    id: str
    number: str
    kind: str
    status: str
    created_by: str
    created_at: datetime
    note: str
    lines: list[DocumentLinePublic]


class ErrorBody(BaseModel):
    code: str
    message: str
