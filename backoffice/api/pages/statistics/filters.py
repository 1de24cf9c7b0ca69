"""The statistics pages' filters, read from the URL (GET forms, so a report can be bookmarked
and shared): the period (this month to date by default), dealer, outlet, product, grade, grain,
breakdown and clerk, each checked with its error beside its field; the scope they give
(routes.statistics.scope_of: dealer staff only ever their own dealer); and the period of
the same length just before, for the comparisons."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import urlencode

from fastapi import Request
from sqlmodel import Session, col, select

from backoffice.api.pages.frame import gettext_of
from backoffice.api.routes.statistics import scope_of
from backoffice.contracts.statistics import MAX_SPAN_DAYS
from backoffice.core.i18n import N_
from backoffice.domain.calendar import business_day, month_of, week_of
from backoffice.domain.channel import check_product
from backoffice.domain.statistics import Dimension, Grain
from backoffice.models import NumberGrade, User
from backoffice.models.types import utcnow
from backoffice.services.channel import dealers
from backoffice.services.errors import Forbidden, NotFound
from backoffice.services.statistics.queries import Scope
from shared.checks import EARLIEST_YEAR, LATEST_YEAR

GRAIN_NAMES = {Grain.day: N_("Day"), Grain.week: N_("Week"), Grain.month: N_("Month")}
DIMENSION_NAMES = {
    Dimension.total: N_("Total"),
    Dimension.dealer: N_("Dealer"),
    Dimension.outlet: N_("Outlet"),
    Dimension.product: N_("Product"),
    Dimension.grade: N_("Grade"),
}
KIND_NAMES = {"number": N_("Numbers"), "voucher": N_("Top-up cards")}
MAX_TEXT = 64


@dataclass
class Filters:
    """What the form shows (`values`, as typed or defaulted), its errors, and what the
    reports are asked for."""

    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    start: date = date.min
    end: date = date.min
    scope: Scope = field(default_factory=Scope)
    grain: Grain = Grain.day
    by: Dimension = Dimension.total
    dealers: list[tuple[str, str]] = field(default_factory=list)  # none for dealer staff
    grades: list[tuple[str, str]] = field(default_factory=list)

    @property
    def previous(self) -> tuple[date, date] | None:
        """The period of the same length that ends the day before `start`; None before the
        earliest year a date may have."""
        length = (self.end - self.start).days + 1
        first = self.start - timedelta(days=length)
        if first.year < EARLIEST_YEAR:
            return None
        return first, self.start - timedelta(days=1)

    def query(self, *names: str) -> str:
        """The filters in an export link: the same query the page read."""
        return urlencode({n: self.values[n] for n in names if self.values.get(n)})


def _date(text: str) -> date | None:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    return day if EARLIEST_YEAR <= day.year <= LATEST_YEAR else None


class Refused(Exception):
    """A dealer's staff asked for another dealer's figures."""

    def __init__(self, error: Forbidden) -> None:
        super().__init__(error.message)
        self.error = error


def read(
    request: Request,
    session: Session,
    user: User,
    typed: dict[str, str],
    *,
    dated: bool = True,
) -> Filters:
    """The filters of `typed` (the query's strings), checked; raises Refused when a dealer's
    staff name another dealer."""
    _ = gettext_of(request)
    values = {k: v.strip() for k, v in typed.items()}
    found = Filters(values)
    errors = found.errors
    for name, value in list(values.items()):
        if len(value) > MAX_TEXT:
            errors[name] = _("At most %(n)s characters.") % {"n": MAX_TEXT}
        elif any(ord(c) < 32 or ord(c) == 127 for c in value):
            errors[name] = _("Control characters are not allowed here.")
        else:
            continue
        values[name] = ""  # neither looked up nor shown back
    if dated:
        today = business_day(utcnow())
        if "start" not in errors:
            values["start"] = values.get("start") or month_of(today).isoformat()
        if "end" not in errors:
            values["end"] = values.get("end") or today.isoformat()
        start, end = _date(values["start"]), _date(values["end"])
        for name, day in (("start", start), ("end", end)):
            if day is None and name not in errors:
                errors[name] = _(
                    "Not a date between the years %(first)s and %(last)s: use the picker, "
                    "e.g. 2026-12-01."
                ) % {"first": EARLIEST_YEAR, "last": LATEST_YEAR}
        if start and end:
            if end < start:
                errors["end"] = _("The end must not be before the start.")
            elif (end - start).days > MAX_SPAN_DAYS:
                errors["end"] = _("At most %(n)s days at once: choose weeks or months.") % {
                    "n": MAX_SPAN_DAYS
                }
            found.start, found.end = start, end
    if "grain" in values:
        try:
            found.grain = Grain(values["grain"] or Grain.day)
        except ValueError:
            errors["grain"] = _("Choose day, week or month.")
        values["grain"] = found.grain.value
    if "by" in values:
        try:
            found.by = Dimension(values["by"] or Dimension.total)
        except ValueError:
            errors["by"] = _("Choose what to break the sales down by.")
        values["by"] = found.by.value
    if values.get("product"):
        try:
            values["product"] = check_product(values["product"])
        except ValueError:
            errors["product"] = _("A product is number:<grade> or voucher:<face value in fen>.")
    grades = session.exec(select(NumberGrade).order_by(col(NumberGrade.rank))).all()
    found.grades = [(g.code, f"{g.code} {g.name}") for g in grades]
    if values.get("grade") and values["grade"] not in {g.code for g in grades}:
        errors["grade"] = _("No grade %(code)s.") % {"code": values["grade"][:16]}
    dealer, outlet = values.get("dealer", ""), values.get("outlet", "")
    own = user.dealer_id
    if own is None:
        found.dealers = [(d.code, f"{d.code} {d.name}") for d in dealers.list_dealers(session)]
        if dealer:
            try:
                dealers.find_dealer(session, dealer)
            except NotFound:
                errors["dealer"] = _("No dealer %(code)s.") % {"code": dealer[:32]}
    if "dealer" in errors:
        return found
    try:
        found.scope = scope_of(session, user, dealer or None, None)
    except Forbidden as error:
        raise Refused(error) from error
    if outlet:
        try:
            found.scope = scope_of(session, user, dealer or None, outlet)
        except NotFound:
            errors["outlet"] = _("No outlet %(code)s here.") % {"code": outlet[:32]}
    return found


def periods(start: date, end: date, grain: Grain) -> list[date]:
    """Every period from `start` to `end`: days, Mondays or months' firsts."""
    out: list[date] = []
    day = start
    while day <= end:
        first = {Grain.day: day, Grain.week: week_of(day), Grain.month: month_of(day)}[grain]
        if not out or out[-1] != first:
            out.append(first)
        day += timedelta(days=1)
    return out


def period_label(day: date, grain: Grain) -> str:
    return f"{day:%Y-%m}" if grain is Grain.month else f"{day:%m-%d}"
