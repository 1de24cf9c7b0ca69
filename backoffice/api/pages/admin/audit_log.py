"""The audit log's search page for administrators: by entity (a number, a card, a document,
a user…), actor, action and time, newest first, a keyset page at a time; and the search
exported as CSV or XLSX."""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from sqlmodel import Session

from backoffice.api.deps import SessionDep, disposition
from backoffice.api.pages.frame import (
    ADMIN_PAGES,
    OFFICE_ZONE,
    STATUS_NAMES,
    gettext_of,
    page_user,
    refused,
    render,
)
from backoffice.core.i18n import N_
from backoffice.models import AuditEntry, User
from backoffice.services import audit, exports
from backoffice.services.errors import NotFound

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
# The kinds of entity the log files rows under, as the search offers them (the log may hold
# others: a search by URL takes any).
ENTITY_TYPES: tuple[tuple[str, str], ...] = (
    ("number", N_("Number")),
    ("sim", N_("SIM card")),
    ("voucher", N_("Top-up card")),
    ("document", N_("Stock document (its items)")),
    ("user", N_("User")),
    ("dealer", N_("Dealer")),
    ("outlet", N_("Outlet")),
    ("terminal", N_("Terminal")),
    ("number_batch", N_("Number batch")),
    ("sim_batch", N_("SIM card batch")),
    ("voucher_batch", N_("Top-up card batch")),
    ("pairing", N_("SIM pairing")),
    ("price_list", N_("Price list")),
    ("dealer_price", N_("Dealer price")),
    ("dealer_override_cap", N_("Dealer override caps")),
    ("grade", N_("Number grade")),
    ("grading_rules", N_("Grading rules")),
    ("sale", N_("Sale")),
    ("sync_event", N_("Terminal event")),
    ("settlement_statement", N_("Settlement statement")),
    ("commission_plan", N_("Commission plan")),
    ("revenue", N_("Revenue")),
    ("login_account", N_("Log-in account")),
    ("login_address", N_("Log-in address")),
)
# What the key field takes for each kind, besides an id.
KEY_HINTS = {
    "user": N_("user name or id"),
    "dealer": N_("dealer code or id"),
    "outlet": N_("outlet code or id"),
    "terminal": N_("terminal number or id"),
    "price_list": N_("version or id"),
    "document": N_("document number or id"),
}
EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    (N_("Row id"), "id"),
    (N_("Time (UTC)"), "at"),
    (N_("Actor"), "actor"),
    (N_("Entity type"), "entity_type"),
    (N_("Entity"), "entity_id"),
    (N_("Action"), "action"),
    (N_("From"), "from_status"),
    (N_("To"), "to_status"),
    (N_("Count"), "item_count"),
    (N_("Document"), "document_id"),
    (N_("Reason"), "reason"),
    (N_("Seal number"), "seq"),
)
_LIMITS = {"entity": 32, "key": 64, "actor": 96, "action": 32}
FIELDS = ("entity", "key", "actor", "action", "start", "end")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass
class Filters:
    """The search as typed (kept in the URL), what it asks of the log, and what is wrong."""

    entity: str = ""
    key: str = ""
    actor: str = ""
    action: str = ""
    start: str = ""
    end: str = ""
    errors: dict[str, str] = field(default_factory=dict)
    search: audit.AuditSearch = field(default_factory=audit.AuditSearch)

    def query(self) -> str:
        """The filters as a query string (for the export links): only those given."""
        return urlencode({name: getattr(self, name) for name in FIELDS if getattr(self, name)})


def _office_time(text: str, *, end: bool) -> datetime:
    """A time typed in the office's zone (a datetime-local field, or a date) as UTC; a date
    alone as an end means the whole day."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        raise ValueError("give the office's local time, without a zone")
    if not 1970 <= moment.year <= 9000:
        raise ValueError("a year the log can hold")
    if len(text) == 10 and end:
        moment += timedelta(days=1)
    return moment.replace(tzinfo=OFFICE_ZONE).astimezone(UTC)


def read_filters(session: Session, request: Request, typed: dict[str, str]) -> Filters:
    """Checks the filters and resolves the key to the id the log files the entity under."""
    _ = gettext_of(request)
    found = Filters(**{name: typed.get(name, "").strip() for name in FIELDS})
    errors = found.errors
    for name, limit in _LIMITS.items():
        value = getattr(found, name)
        if len(value) > limit:
            errors[name] = _("At most %(n)s characters.") % {"n": limit}
        elif _CONTROL.search(value):
            errors[name] = _("Control characters are not allowed here.")
    if found.key and not found.entity and "key" not in errors:
        errors["entity"] = _("Choose what the key names (a number, a user…).")
    times: dict[str, datetime] = {}
    for name in ("start", "end"):
        text = getattr(found, name)
        if not text:
            continue
        try:
            if len(text) > 32:
                raise ValueError(text)
            times[name] = _office_time(text, end=name == "end")
        except ValueError:
            errors[name] = _("Not a date and time: use the picker, e.g. 2026-12-07 09:30.")
    if "start" in times and "end" in times and times["end"] <= times["start"]:
        errors["end"] = _("The end must come after the start.")
    if errors:
        return found
    entity_id = audit.entity_key(session, found.entity, found.key) if found.key else None
    is_document = found.entity == "document"
    found.search = audit.AuditSearch(
        entity_type=None if is_document else found.entity or None,
        entity_id=None if is_document else entity_id,
        document_id=entity_id if is_document else None,
        actor=found.actor or None,
        action=found.action or None,
        start=times.get("start"),
        end=times.get("end"),
    )
    return found


def _typed(*values: str) -> dict[str, str]:
    return dict(zip(FIELDS, values, strict=True))


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(ADMIN_PAGES)],
    entity: Annotated[str, Query()] = "",
    key: Annotated[str, Query()] = "",
    actor: Annotated[str, Query()] = "",
    action: Annotated[str, Query()] = "",
    start: Annotated[str, Query()] = "",
    end: Annotated[str, Query()] = "",
    after: Annotated[str, Query()] = "",
) -> Response:
    filters = read_filters(session, request, _typed(entity, key, actor, action, start, end))
    rows: list[AuditEntry] = []
    next_after = None
    if not filters.errors:
        rows, next_after = audit.find(session, filters.search, after[:36] or None, PAGE_SIZE)
    keys = [(r.entity_type, r.entity_id) for r in rows]
    keys += [("document", r.document_id) for r in rows if r.document_id]
    types = dict(ENTITY_TYPES)
    if filters.entity and filters.entity not in types:
        types[filters.entity] = filters.entity
    return render(
        request,
        "admin/audit.html",
        {
            "filters": filters,
            "errors": filters.errors,
            "rows": rows,
            "next_after": next_after,
            "names": audit.entity_names(session, keys),
            "reasons": {r.id: audit.shown_reason(r.reason) for r in rows},
            "types": types,
            "key_hints": KEY_HINTS,
            "statuses": frozenset(STATUS_NAMES),
            "export_query": filters.query(),
            "csv_max": audit.EXPORT_MAX_ROWS,
            "xlsx_max": audit.XLSX_MAX_ROWS,
        },
        status_code=422 if filters.errors else 200,
    )


def _cells(entry: Any) -> list[object]:
    values = {
        "at": entry.at.astimezone(UTC).isoformat() if entry.at else "",
        "reason": audit.shown_reason(entry.reason),
    }
    return [values.get(name, getattr(entry, name)) for _, name in EXPORT_COLUMNS]


def _rows(request: Request, search: audit.AuditSearch) -> Iterator[list[object]]:
    """The search's rows, read on a session of their own: a streamed download outlives the
    request's session."""
    with Session(request.app.state.engine) as session:
        for entry in audit.find_all(session, search):
            yield _cells(entry)


@router.get("/admin/audit/export/{fmt}", response_class=Response)
def audit_export(
    request: Request,
    session: SessionDep,
    user: Annotated[User, page_user(ADMIN_PAGES)],
    fmt: str,
    entity: Annotated[str, Query()] = "",
    key: Annotated[str, Query()] = "",
    actor: Annotated[str, Query()] = "",
    action: Annotated[str, Query()] = "",
    start: Annotated[str, Query()] = "",
    end: Annotated[str, Query()] = "",
) -> Response:
    """The search's rows as CSV, streamed, or XLSX (the newest EXPORT_MAX_ROWS or
    XLSX_MAX_ROWS of a wider one); times in UTC, reasons as the page shows them."""
    if fmt not in ("csv", "xlsx"):
        error = NotFound(N_("There is no export as %(format)s."), params={"format": fmt[:8]})
        return refused(request, user, status.HTTP_404_NOT_FOUND, error)
    filters = read_filters(session, request, _typed(entity, key, actor, action, start, end))
    if filters.errors:
        return audit_page(request, session, user, entity, key, actor, action, start, end)
    _ = gettext_of(request)
    header = [_(title) for title, _name in EXPORT_COLUMNS]
    stamp = f"{datetime.now(OFFICE_ZONE):%Y%m%d-%H%M}"
    name = f"audit-log-{stamp}.{fmt}"
    download = disposition(name)
    if fmt == "csv":
        body = exports.csv_chunks(chain([header], _rows(request, filters.search)))
        return StreamingResponse(body, media_type=exports.CSV_TYPE, headers=download)
    content = exports.rows_to_xlsx_streamed(
        _("Audit log"),
        header,
        (_cells(e) for e in audit.find_all(session, filters.search, audit.XLSX_MAX_ROWS)),
    )
    return Response(content, media_type=exports.XLSX_TYPE, headers=download)
