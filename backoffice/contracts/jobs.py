"""Background jobs as the API shows them."""

from datetime import datetime

from pydantic import BaseModel


class JobResultLine(BaseModel):
    label: str
    value: object


class JobPublic(BaseModel):
    id: str
    kind: str
    title: str
    state: str  # queued | running | succeeded | failed | interrupted
    done: int
    total: int | None
    phase: str | None
    result: list[JobResultLine]
    result_link: str | None
    error: str | None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobPage(BaseModel):
    jobs: list[JobPublic]
    next_after: str | None
