"""The statistics pages' charts, drawn on the server as SVG shapes (the templates only place
them: templates/statistics/chart.html): column charts over periods, with the previous period
beside the current one, and horizontal bars with their value beside each bar, one or several
segments each. Value axes have round ticks (1, 2 or 5 times a power of ten) labelled with
thousands separators, in yuan for money; every shape has its figure as a tooltip."""

from dataclasses import dataclass, field
from enum import StrEnum
from math import ceil, floor


class Unit(StrEnum):
    fen = "fen"  # money, labelled in yuan
    count = "count"
    basis_points = "basis_points"  # a rate as hundredths of a percent (1 = 0.01%)


_SMALLEST_STEP = {Unit.fen: 100, Unit.count: 1, Unit.basis_points: 100}


def nice_step(span: int, target: int = 5, smallest: int = 1) -> int:
    """The round step (1, 2 or 5 times a power of ten, at least `smallest`) that cuts `span`
    into about `target` intervals, never more than `target` + a half."""
    if span <= 0:
        return smallest
    raw = span / target
    magnitude = 1
    while magnitude * 10 <= raw:
        magnitude *= 10
    for multiple in (1, 2, 5, 10):
        step = multiple * magnitude
        if step >= raw:
            return max(step, smallest)
    return max(10 * magnitude, smallest)  # pragma: no cover - the loop always returns


def ticks(low: int, high: int, unit: Unit = Unit.count, target: int = 5) -> list[int]:
    """Round values from at or below min(low, 0) to at or above max(high, 0), zero among them."""
    low, high = min(low, 0), max(high, 0)
    step = nice_step(high - low, target, _SMALLEST_STEP[unit])
    first = floor(low / step) * step
    last = ceil(high / step) * step
    if first == last:
        last = first + step
    return list(range(first, last + 1, step))


def grouped(value: int) -> str:
    """12345678 -> "12,345,678"."""
    return f"{value:,}"


def label(value: int, unit: Unit) -> str:
    """A value as an axis or a bar names it: ¥12,000 (¥12,000.50 with fen), 1,234, 12.5%."""
    if unit is Unit.fen:
        sign = "-" if value < 0 else ""
        yuan, fen = divmod(abs(value), 100)
        return f"{sign}¥{yuan:,}" + (f".{fen:02d}" if fen else "")
    if unit is Unit.basis_points:
        return f"{value / 100:,.2f}".rstrip("0").rstrip(".") + "%"
    return grouped(value)


@dataclass(frozen=True)
class Shape:
    x: float
    y: float
    width: float
    height: float
    css: str
    title: str


@dataclass(frozen=True)
class Caption:
    x: float
    y: float
    text: str
    anchor: str = "start"  # SVG text-anchor
    css: str = ""


@dataclass(frozen=True)
class Rule:
    """A grid line at a value tick, with its label."""

    x1: float
    y1: float
    x2: float
    y2: float
    label: Caption
    zero: bool


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    shapes: list[Shape]
    captions: list[Caption]  # category labels, values beside bars, axis titles
    rules: list[Rule]
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css class, text)

    @property
    def empty(self) -> bool:
        return not self.shapes


def _r(value: float) -> float:
    return round(value, 1)


@dataclass(frozen=True)
class Series:
    """One series of a column chart: a value and a tooltip per category."""

    name: str
    css: str
    values: list[int]
    titles: list[str]


_WIDTH = 800


def columns(
    categories: list[str],
    series: list[Series],
    unit: Unit,
    *,
    value_title: str,
    category_title: str,
    height: int = 220,
) -> Chart:
    """Columns per category, the series side by side (the previous period beside the
    current one), over a value axis with round ticks and grid lines."""
    left, right, top, bottom = 78, 10, 30, 46
    plot_w, plot_h = _WIDTH - left - right, height
    values = [v for s in series for v in s.values]
    scale = ticks(min(values, default=0), max(values, default=0), unit)
    low, high = scale[0], scale[-1]

    def y_of(value: int) -> float:
        return top + plot_h * (high - value) / (high - low)

    rules = [
        Rule(
            left,
            _r(y_of(tick)),
            left + plot_w,
            _r(y_of(tick)),
            Caption(left - 6, _r(y_of(tick) + 4), label(tick, unit), "end"),
            tick == 0,
        )
        for tick in scale
    ]
    count = max(len(categories), 1)
    slot = plot_w / count
    gap = slot * 0.15 if count > 1 else slot * 0.3
    bar_w = max((slot - gap) / max(len(series), 1), 0.5)
    shapes = []
    zero = y_of(0)
    for index in range(len(categories)):
        for number, s in enumerate(series):
            if index >= len(s.values):
                continue
            value = s.values[index]
            y = y_of(max(value, 0))
            shapes.append(
                Shape(
                    _r(left + index * slot + gap / 2 + number * bar_w),
                    _r(y),
                    _r(bar_w),
                    _r(abs(y_of(value) - zero)),
                    s.css,
                    s.titles[index],
                )
            )
    every = max(ceil(count / 12), 1)
    captions = [
        Caption(_r(left + (index + 0.5) * slot), top + plot_h + 16, text, "middle")
        for index, text in enumerate(categories)
        if index % every == 0
    ]
    captions.append(
        Caption(left + plot_w / 2, top + plot_h + 38, category_title, "middle", "axis-title")
    )
    captions.append(Caption(4, 14, value_title, "start", "axis-title"))
    legend = [(s.css, s.name) for s in series] if len(series) > 1 else []
    return Chart(_WIDTH, top + plot_h + bottom, shapes, captions, rules, legend)


@dataclass(frozen=True)
class Segment:
    value: int
    css: str
    title: str


@dataclass(frozen=True)
class Row:
    """One horizontal bar: its label, its segments (stacked, left to right) and the text
    written beside it."""

    label: str
    segments: list[Segment]
    text: str


def bars(
    rows: list[Row],
    unit: Unit,
    *,
    value_title: str,
    legend: tuple[tuple[str, str], ...] = (),
) -> Chart:
    """Horizontal bars, one per row, with the value beside each; a negative value (a cash
    shortage) runs left of the zero line."""
    left, right, top, bottom, row_h = 180, 110, 6, 40, 24
    plot_w = _WIDTH - left - right
    totals = [sum(s.value for s in r.segments) for r in rows]
    lows = [min(s.value for s in r.segments) if r.segments else 0 for r in rows]
    scale = ticks(min(lows, default=0), max(totals, default=0), unit)
    low, high = scale[0], scale[-1]
    plot_h = max(len(rows), 1) * row_h

    def x_of(value: float) -> float:
        return left + plot_w * (value - low) / (high - low)

    rules = [
        Rule(
            _r(x_of(tick)),
            top,
            _r(x_of(tick)),
            top + plot_h,
            Caption(_r(x_of(tick)), top + plot_h + 14, label(tick, unit), "middle"),
            tick == 0,
        )
        for tick in scale
    ]
    shapes, captions = [], []
    for index, row in enumerate(rows):
        y = top + index * row_h + 4
        at = 0
        for segment in row.segments:
            start, end = x_of(min(at, at + segment.value)), x_of(max(at, at + segment.value))
            shapes.append(
                Shape(_r(start), y, _r(end - start), row_h - 8, segment.css, segment.title)
            )
            if segment.value > 0:
                at += segment.value
        # Beside the bar's end; a shortage's beside the zero line, clear of the labels.
        captions.append(Caption(_r(x_of(at) + 4), y + 12, row.text, "start", "value"))
        captions.append(Caption(left - 8, y + 12, row.label[:22], "end", "category"))
    captions.append(
        Caption(left + plot_w / 2, top + plot_h + 32, value_title, "middle", "axis-title")
    )
    return Chart(_WIDTH, top + plot_h + bottom, shapes, captions, rules, list(legend))


def change(current: int, previous: int) -> float | None:
    """The change from the previous period, as a fraction; None when it had nothing."""
    return round((current - previous) / abs(previous), 4) if previous else None
