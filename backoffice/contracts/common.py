"""Contracts shared by every area: the public base model, error bodies, stock documents."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict


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
