"""Background jobs: work that takes more than a second (an import of a million rows, a
release, a regrade), run apart from the request that asked for it, with its progress and its
result kept here so that a page reload, the CLI and the API all see the same job."""

from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, Text
from sqlalchemy.orm import deferred
from sqlmodel import Field, SQLModel

from backoffice.models.types import utc_column, utcnow


class Job(SQLModel, table=True):
    __tablename__ = "job"
    __table_args__ = (
        Index("ix_job_state", "state", "created_at"),
        Index("ix_job_created_by", "created_by", "created_at"),
    )

    id: str = Field(primary_key=True, max_length=36)
    kind: str = Field(max_length=32)
    # What the job does, as a catalog message with %(name)s parameters: shown translated.
    title: str = Field(max_length=200)
    title_params_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    params_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    # An uploaded file the job works on (an import's CSV or XLSX), read only by the job.
    payload: bytes | None = Field(
        default=None, sa_column=deferred(Column(LargeBinary, nullable=True))
    )
    payload_name: str | None = Field(default=None, max_length=255)
    state: str = Field(max_length=16)  # queued | running | succeeded | failed | interrupted
    done: int = 0
    total: int | None = None
    phase: str | None = Field(default=None, max_length=120)
    # [[catalog message, value], ...]: the summary shown when the job has ended.
    result_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    result_link: str | None = Field(default=None, max_length=255)
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error_params_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    runner: str | None = Field(default=None, max_length=120)
    created_by: str = Field(max_length=96)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    started_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column())
    finished_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
