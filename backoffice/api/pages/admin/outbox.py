"""The activation outbox for administrators: the backlog by status, the failing deliveries
with their last error and next attempt, and the retry of one failed delivery or all of them
(after a confirmation), each audited."""

from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from backoffice.api.deps import SessionDep, SettingsDep
from backoffice.api.errors import status_of
from backoffice.api.pages.frame import (
    ADMIN_PAGES,
    CsrfChecked,
    gettext_of,
    page_user,
    refused,
    render,
)
from backoffice.core.i18n import N_
from backoffice.domain.channel import OutboxStatus
from backoffice.models import ActivationOutbox, User
from backoffice.services.counter import activations
from backoffice.services.errors import Conflict, NotFound, ServiceError

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
# The views of the list, in the order of the tabs.
VIEWS: tuple[tuple[str, str], ...] = (
    ("", N_("All")),
    (activations.RETRYING, N_("Retrying")),
    (OutboxStatus.failed.value, N_("Failed")),
    (OutboxStatus.pending.value, N_("Pending")),
    (OutboxStatus.delivered.value, N_("Delivered")),
    (OutboxStatus.cancelled.value, N_("Cancelled")),
)
# The outbox's words as badges show them (`status(value)` in macros.html).
OUTBOX_WORDS = (N_("pending"), N_("delivered"), N_("failed"), N_("cancelled"), N_("retrying"))
DONE = {
    "retried": N_("Activation %(id)s is back in the queue, due now."),
    "retried-all": N_("%(n)s failed activations are back in the queue, due now."),
}


@router.get("/admin/outbox", response_class=HTMLResponse)
def outbox_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Annotated[User, page_user(ADMIN_PAGES)],
    view: str = "",
    after: str = "",
    done: str = "",
    n: str = "",
    entry: str = "",
) -> Response:
    views = dict(VIEWS)
    if view not in views:
        view = ""
    rows, next_after = activations.entries_page(
        session, view or None, after[:36] or None, PAGE_SIZE
    )
    _ = gettext_of(request)
    notice = None
    if done in DONE:
        notice = _(DONE[done]) % {"id": entry[:36], "n": n[:9]}
    return render(
        request,
        "admin/outbox.html",
        {
            "views": VIEWS,
            "view": view,
            "counts": activations.view_counts(session),
            "cap": activations.COUNT_CAP,
            "oldest_due": activations.oldest_pending_at(session),
            "rows": rows,
            "next_after": next_after,
            "configured": bool(
                settings.activation_webhook_url and settings.activation_webhook_secret
            ),
            "max_attempts": settings.activation_max_attempts,
            "notice": notice,
        },
    )


def _confirm(
    request: Request, title: str, message: str, action: str, details: list[str]
) -> Response:
    _ = gettext_of(request)
    return render(
        request,
        "confirm.html",
        {
            "title": title,
            "message": message,
            "details": details,
            "action": action,
            "fields": {},
            "button": _("Retry"),
            "back": "/admin/outbox",
        },
    )


@router.post(
    "/admin/outbox/{entry_id}/retry", response_class=HTMLResponse, dependencies=[CsrfChecked]
)
def retry_one(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(ADMIN_PAGES)],
    entry_id: str,
    confirmed: Annotated[str, Form()] = "",
) -> Response:
    _ = gettext_of(request)
    entry = session.get(ActivationOutbox, entry_id[:36])
    if entry is None:
        error: ServiceError = NotFound(
            N_("There is no activation %(id)s."), params={"id": entry_id[:36]}
        )
        return refused(request, user, status.HTTP_404_NOT_FOUND, error)
    if entry.status != OutboxStatus.failed.value:
        error = Conflict(
            N_("The activation of %(msisdn)s is %(status)s: only a failed one can be retried."),
            params={"msisdn": entry.msisdn, "status": _(entry.status)},
        )
        return refused(request, user, status.HTTP_409_CONFLICT, error)
    if confirmed != "yes":
        return _confirm(
            request,
            _("Retry the activation of %(msisdn)s?") % {"msisdn": entry.msisdn},
            _(
                "The activation goes back in the queue, due now, with its attempts counted "
                "from zero: the worker sends it to the provisioning system at its next round."
            ),
            f"/admin/outbox/{entry.id}/retry",
            [
                _("Attempts so far: %(n)s") % {"n": entry.attempts},
                _("Last error: %(error)s") % {"error": entry.last_error or "–"},
            ],
        )
    try:
        activations.retry(session, entry.id, user.username)
    except ServiceError as error:
        return refused(request, user, status_of(error), error)
    return RedirectResponse(
        f"/admin/outbox?done=retried&entry={entry.id}", status.HTTP_303_SEE_OTHER
    )


@router.post("/admin/outbox/retry-failed", response_class=HTMLResponse, dependencies=[CsrfChecked])
def retry_all(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(ADMIN_PAGES)],
    confirmed: Annotated[str, Form()] = "",
) -> Response:
    _ = gettext_of(request)
    if confirmed != "yes":
        failed = activations.view_counts(session)[OutboxStatus.failed.value]
        return _confirm(
            request,
            _("Retry every failed activation?"),
            _(
                "%(n)s failed activations go back in the queue, due now, with their attempts "
                "counted from zero: the worker sends them at its next round."
            )
            % {"n": f"{failed:,}" if failed <= activations.COUNT_CAP else f"{failed - 1:,}+"},
            "/admin/outbox/retry-failed",
            [],
        )
    moved = activations.retry_failed(session, user.username)
    return RedirectResponse(f"/admin/outbox?done=retried-all&n={moved}", status.HTTP_303_SEE_OTHER)
