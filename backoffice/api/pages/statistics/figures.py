"""The totals above a report: each figure with its definition (what it counts, so that no
two are confused) and its change from the previous period of the same length."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from backoffice.api.pages.statistics.charts import change
from backoffice.core.i18n import N_, Translate
from backoffice.domain.statistics import rate
from shared.money import format_fen

# The definitions, shared by the dashboard and the reports.
SOLD = N_("Retail value of the items sold in the period, counted on the day of the sale.")
RETURNED = N_(
    "Retail value of the items returned in the period, counted on the day of the return "
    "(whenever they were sold)."
)
NET = N_("Sold minus returned: what the counters took in, at retail prices.")
OWED = N_(
    "What the dealers owe the operator for the net sales: the dealer prices of the items sold "
    "minus those of the items returned (a top-up card's dealer price is its face value less "
    "the discount)."
)
RETURN_RATE = N_("Items returned ÷ items sold in the period.")


@dataclass(frozen=True)
class Figure:
    id: str
    label: str
    value: str
    detail: str
    definition: str
    delta: str = ""
    trend: str = ""  # "up" or "down": the class of the delta


def _sum(rows: Sequence[Any], name: str) -> int:
    return sum(getattr(row, name) for row in rows)


def _delta(_: Translate, current: int, previous: int | None, money: bool) -> tuple[str, str]:
    """`+12.5% on the previous period (¥400.00)` and its direction."""
    if previous is None:
        return "", ""
    shown = format_fen(previous) if money else f"{previous:,}"
    moved = change(current, previous)
    if moved is None:
        return _("previous period: %(value)s") % {"value": shown}, ""
    return (
        _("%(change)s on the previous period (%(value)s)")
        % {"change": f"{moved * 100:+.1f}%", "value": shown},
        "up" if moved > 0 else "down" if moved < 0 else "",
    )


def sales_figures(_: Translate, rows: Sequence[Any], before: Sequence[Any] | None) -> list[Figure]:
    """Sold, returned, net, what the dealers owe after returns, and the return rate, of
    sales rows (every row's figures added up), with the change from `before`."""

    def figure(id_: str, label: str, name: str, count: str | None, definition: str) -> Figure:
        value = _sum(rows, name)
        delta, trend = _delta(_, value, None if before is None else _sum(before, name), True)
        detail = _("%(n)s items") % {"n": f"{_sum(rows, count):,}"} if count else ""
        return Figure(id_, _(label), format_fen(value), detail, _(definition), delta, trend)

    sold, returned = _sum(rows, "sold_count"), _sum(rows, "returned_count")
    share = rate(returned, sold)
    before_share = (
        None if before is None else rate(_sum(before, "returned_count"), _sum(before, "sold_count"))
    )
    return [
        figure("sold", N_("Sold"), "sold_fen", "sold_count", SOLD),
        figure("returned", N_("Returned"), "returned_fen", "returned_count", RETURNED),
        figure("net", N_("Net sales"), "net_fen", "net_count", NET),
        figure("owed", N_("Owed by dealers after returns"), "net_dealer_fen", None, OWED),
        Figure(
            "return-rate",
            _("Return rate"),
            percent(share),
            "",
            _(RETURN_RATE),
            ""
            if before is None
            else _("previous period: %(value)s") % {"value": percent(before_share)},
        ),
    ]


def percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.1f}%"


def counted(
    _: Translate,
    id_: str,
    label: str,
    value: int,
    previous: int | None,
    definition: str,
    money: bool = False,
    detail: str = "",
) -> Figure:
    """A figure of a count (or an amount of fen with `money`)."""
    delta, trend = _delta(_, value, previous, money)
    shown = format_fen(value) if money else f"{value:,}"
    return Figure(id_, _(label), shown, detail, _(definition), delta, trend)
