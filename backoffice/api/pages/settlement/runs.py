"""Settlement runs (结算): a period settled for one dealer, or for every dealer of a cadence, as
a background job (services/settlement/jobs.py) whose page shows its progress and summary; and
the recent runs of the whole sales centre with their outcome."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from backoffice.api.deps import SessionDep
from backoffice.api.pages.frame import CHANNEL_PAGES, CsrfChecked, gettext_of, page_user, render
from backoffice.core.i18n import N_
from backoffice.domain.calendar import business_day
from backoffice.domain.settlement.accounts import Cadence
from backoffice.domain.users import Role
from backoffice.models import Job, User
from backoffice.services import jobs
from backoffice.services.channel import dealers
from backoffice.services.errors import NotFound
from backoffice.services.settlement import accounts
from backoffice.services.settlement import jobs as settlement_jobs

router = APIRouter(include_in_schema=False)
SalesCentre = Annotated[User, page_user(CHANNEL_PAGES)]
Text = Annotated[str, Form()]
CADENCE_NAMES = {
    Cadence.month: N_("Monthly"),
    Cadence.week: N_("Weekly (Monday to Sunday)"),
    Cadence.day: N_("Daily"),
}
RUNS_PAGE = 20
_JOB_ID = re.compile(r"[0-9a-f-]{36}")


@dataclass
class RunForm:
    day: str = ""
    dealer: str = ""
    cadence: str = Cadence.month.value


def _default_day() -> str:
    """The last day of last month: what a monthly settlement usually settles."""
    today = business_day(datetime.now(UTC))
    return (today.replace(day=1) - timedelta(days=1)).isoformat()


def _run_view(job: Job, user: User) -> dict[str, object]:
    result = dict(jobs.result_of(job))
    return {
        "job": job,
        "title_params": jobs.title_params(job),
        "error_params": jobs.error_params(job),
        "drafted": result.get(settlement_jobs.DRAFTED),
        "skipped": result.get(settlement_jobs.SKIPPED),
        "closing": result.get(settlement_jobs.CLOSING),
        # A job's page opens for whoever started it (and administrators).
        "own": job.created_by == user.username or user.role == Role.admin.value,
    }


def _runs_page(
    request: Request,
    session: Session,
    user: User,
    after: str | None,
    form: RunForm | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    _ = gettext_of(request)
    runs, next_after = settlement_jobs.recent_runs(
        session, after if after and _JOB_ID.fullmatch(after) else None, RUNS_PAGE
    )
    return render(
        request,
        "settlement/runs.html",
        {
            "form": form or RunForm(day=_default_day()),
            "errors": errors or {},
            "dealers": [(d.code, f"{d.code} {d.name}") for d in dealers.list_dealers(session)],
            "cadences": [(c.value, _(name)) for c, name in CADENCE_NAMES.items()],
            "runs": [_run_view(job, user) for job in runs],
            "next_after": next_after,
        },
        status_code=status_code,
    )


@router.get("/settlement/runs", response_class=HTMLResponse)
def runs_page(
    request: Request, session: SessionDep, user: SalesCentre, after: str | None = None
) -> Response:
    return _runs_page(request, session, user, after)


@router.post("/settlement/runs", dependencies=[CsrfChecked], response_class=HTMLResponse)
def start_run(
    request: Request,
    session: SessionDep,
    user: SalesCentre,
    day: Text = "",
    dealer: Text = "",
    cadence: Text = Cadence.month.value,
) -> Response:
    """Checks the form field by field; a dealer is settled at its own cadence (its settlement
    profile), all dealers at the cadence chosen. Then the job, and its page."""
    _ = gettext_of(request)
    form = RunForm(day=day.strip(), dealer=dealer.strip(), cadence=cadence.strip())
    errors: dict[str, str] = {}
    chosen_day: date | None = None
    try:
        chosen_day = date.fromisoformat(form.day)
    except ValueError:
        errors["day"] = _("A date, e.g. 2026-10-31.")
    else:
        if chosen_day > business_day(datetime.now(UTC)):
            errors["day"] = _("The day has not come yet: choose a day of a period that has begun.")
    run_cadence = Cadence.month
    if form.dealer:
        try:
            found = dealers.find_dealer(session, form.dealer)
        except NotFound:
            errors["dealer"] = _("No dealer %(code)s.") % {"code": form.dealer[:64]}
        else:
            form.dealer = found.code
            run_cadence = accounts.cadence_of(session, found.id)
    elif form.cadence in Cadence.__members__:
        run_cadence = Cadence(form.cadence)
    else:
        errors["cadence"] = _("Choose monthly, weekly or daily.")
    if errors or chosen_day is None:
        return _runs_page(
            request, session, user, None, form, errors, status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    job = settlement_jobs.submit_run(
        session,
        settlement_jobs.run_request(chosen_day, run_cadence, form.dealer or None),
        user.username,
    )
    return RedirectResponse(f"/jobs/{job.id}", status.HTTP_303_SEE_OTHER)
