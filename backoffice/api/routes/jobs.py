"""Background jobs: their state, progress and result (the pages and the CLI show the same)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from backoffice.api.deps import CurrentUser, SessionDep
from backoffice.contracts.jobs import JobPage, JobPublic
from backoffice.domain.users import Role
from backoffice.services import jobs

router = APIRouter(prefix="/jobs", tags=["jobs"])


def _actor_filter(user: CurrentUser) -> str | None:
    """Administrators see every job; everyone else their own."""
    return None if user.role == Role.admin else user.username


@router.get("")
def list_jobs(
    session: SessionDep,
    user: CurrentUser,
    after: Annotated[
        str | None, Query(max_length=36, description="the last id of the page before")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> JobPage:
    rows, next_after = jobs.list_jobs(session, _actor_filter(user), after, limit)
    return JobPage(
        jobs=[JobPublic.model_validate(jobs.describe(job)) for job in rows], next_after=next_after
    )


@router.get("/{job_id}")
def get_job(
    session: SessionDep, user: CurrentUser, job_id: Annotated[str, Path(max_length=36)]
) -> JobPublic:
    return JobPublic.model_validate(jobs.describe(jobs.get(session, job_id, _actor_filter(user))))
