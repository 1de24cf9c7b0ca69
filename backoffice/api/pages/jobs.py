"""The background jobs' pages: a list of one's jobs, and a job's page with its progress bar
(refreshed by htmx while it runs, so a reload or another tab shows the same) and its result."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from backoffice.api.deps import SessionDep
from backoffice.api.pages.frame import EVERYONE, page_user, render
from backoffice.domain.users import Role
from backoffice.models import Job, User
from backoffice.services import jobs

router = APIRouter(include_in_schema=False)


def _actor_filter(user: User) -> str | None:
    return None if user.role == Role.admin else user.username


def view(job: Job) -> dict[str, object]:
    """What the templates show of a job (messages still to translate)."""
    done, total, phase = jobs.progress_of(job)
    return {
        "job": job,
        "title_params": jobs.title_params(job),
        "done": done,
        "total": total,
        "phase": phase,
        "percent": None if not total else min(100, round(100 * done / total)),
        "ended": job.state in jobs.ENDED,
        "result": jobs.result_of(job),
        "error_params": jobs.error_params(job),
    }


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(EVERYONE)],
    after: Annotated[str | None, Query(max_length=36)] = None,
) -> Response:
    rows, next_after = jobs.list_jobs(session, _actor_filter(user), after, 50)
    return render(
        request, "jobs/list.html", {"jobs": [view(job) for job in rows], "next_after": next_after}
    )


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(EVERYONE)],
    job_id: Annotated[str, Path(max_length=36)],
) -> Response:
    job = jobs.get(session, job_id, _actor_filter(user))
    return render(request, "jobs/job.html", view(job))


@router.get("/jobs/{job_id}/progress", response_class=HTMLResponse)
def job_progress(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(EVERYONE)],
    job_id: Annotated[str, Path(max_length=36)],
) -> Response:
    """The progress part alone, for htmx to swap in every second while the job runs."""
    job = jobs.get(session, job_id, _actor_filter(user))
    return render(request, "jobs/progress.html", view(job))
