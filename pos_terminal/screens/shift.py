"""Shift: open with a counted float, cash in and out, X report, close with a blind count:
the clerk sees the expected cash only once the count is confirmed."""

from collections.abc import Callable
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Vertical
from textual.widgets import Footer, Input, Label, Static

from pos_terminal.screens.base import CounterScreen, Message, money
from pos_terminal.screens.dialogs import CashMove, CashMoveDialog, ConfirmDialog
from pos_terminal.screens.status import StatusBar
from pos_terminal.services.errors import PosError
from pos_terminal.services.receipts import local_time
from pos_terminal.services.reports import ShiftReport
from shared.money import format_fen

# The blind count at closing, by denomination in fen (100 yuan down to 1 jiao).
DENOMINATIONS = (10_000, 5_000, 2_000, 1_000, 500, 100, 50, 10)


def denomination_label(fen: int) -> str:
    return f"¥{fen // 100}" if fen >= 100 else f"¥0.{fen // 10}"


def cash_lines(report: ShiftReport) -> list[str]:
    """Counted, expected and the difference: only once the blind count is confirmed."""
    if report.counted_cash_fen is None or report.difference_fen is None:
        return []
    return [
        f"实点现金 counted {format_fen(report.counted_cash_fen)}",
        f"应有现金 expected {format_fen(report.expected_cash_fen)}",
        f"差额 difference {format_fen(report.difference_fen)}",
    ]


def report_text(report: ShiftReport) -> str:
    """The report on the screen; the X report (mid-shift) leaves the expected cash out, so the
    closing count stays blind."""
    title = f"Z 报表 No. {report.z_number}" if report.kind == "Z" else "X 报表 (不清零)"
    lines = [
        title,
        f"销售 {report.sales_count} 笔 {format_fen(report.sales_total_fen)}   "
        f"退货 {report.returns_count} 笔 {format_fen(report.refunds_total_fen)}",
        *(f"  {t.label}: {format_fen(t.amount_fen)}" for t in report.takings),
        f"无销售开钱箱 no-sale drawer openings {report.no_sale_openings}",
    ]
    if report.kind == "Z":
        lines += cash_lines(report)
    return "\n".join(lines)


class ShiftScreen(CounterScreen):
    DEFAULT_CSS = """
    ShiftScreen #state { margin: 0 1; height: auto; }
    ShiftScreen #count { grid-size: 4; grid-gutter: 0 2; height: auto; margin: 1 1; }
    ShiftScreen #report {
        margin: 0 1; height: auto; border: round $accent; padding: 0 1; display: none;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f5", "open_shift", "开班 Open"),
        Binding("f6", "cash_in", "存入 Cash in"),
        Binding("f7", "cash_out", "取出 Cash out"),
        Binding("f8", "x_report", "X 报表"),
        Binding("f9", "close_shift", "交班 Close (Z)"),
    ]

    def compose(self) -> ComposeResult:
        yield Label("班次 Shift", id="title")
        yield Static("", id="state")
        with Vertical():
            yield Label("开班备用金 Opening float (F5)")
            yield Input(placeholder="0.00", id="float")
            yield Label("交班点钞 Blind count at closing (F9) — 张数 notes and coins")
            with Grid(id="count"):
                for fen in DENOMINATIONS:
                    yield Label(denomination_label(fen))
                    yield Input(placeholder="0", id=f"d{fen}", type="integer")
        yield Static("", id="report")
        yield Message("")
        yield StatusBar()
        yield Footer()

    def on_mount(self) -> None:
        self.show_state()

    def on_screen_resume(self) -> None:
        self.show_state()

    def show_state(self) -> None:
        shift = self.services.shifts.current()
        confirmed = self.services.shifts.confirmed_count()
        if shift is None:
            text = "没有开班 No shift open — 输入备用金后按 F5 / count the float, then F5"
            self.query_one("#float", Input).focus()
        else:
            opened = local_time(shift.opened_at, self.services.identity().timezone)
            text = f"当班 {shift.clerk}, 开班 opened {opened}"
            if confirmed is not None:
                text += "\n点钞已确认, 不能再改; F9 交班 — count confirmed; F9 closes the shift"
        # A confirmed count is kept on the shift and shown as it was confirmed.
        for fen in DENOMINATIONS:
            field = self.query_one(f"#d{fen}", Input)
            if confirmed is not None:
                field.value = str(confirmed.get(fen, 0))
            field.disabled = confirmed is not None
        self.query_one("#state", Static).update(text)

    @on(Input.Submitted, "#float")
    def action_open_shift(self) -> None:
        try:
            float_fen = money(self.query_one("#float", Input).value, "opening float")
            self.services.shifts.open_shift(self.clerk().username, float_fen)
        except PosError as error:
            self.refuse(error)
            return
        self.show_state()
        self.say(f"已开班 shift open, 备用金 float {format_fen(float_fen)}")
        self.app.kick_drawer()  # type: ignore[attr-defined]
        self.app.wake_sync()  # type: ignore[attr-defined]

    def _cash(self, title: str, move: Callable[[str, int, str], object]) -> None:
        def entered(form: CashMove | None) -> None:
            if form is None:
                return
            try:
                move(self.clerk().username, form.amount_fen, form.reason)
            except PosError as error:
                self.refuse(error)
                return
            self.say(f"{title} {format_fen(form.amount_fen)}: {form.reason}")
            self.app.kick_drawer()  # type: ignore[attr-defined]
            self.app.wake_sync()  # type: ignore[attr-defined]

        self.app.push_screen(CashMoveDialog(title), entered)

    def action_cash_in(self) -> None:
        self._cash("存入 Cash in", self.services.shifts.cash_in)

    def action_cash_out(self) -> None:
        self._cash("取出 Cash out", self.services.shifts.cash_out)

    def action_x_report(self) -> None:
        try:
            report = self.services.shifts.x_report(print_it=True)
        except PosError as error:
            self.refuse(error)
            return
        self.show_report(report)
        self.app.print_pending()  # type: ignore[attr-defined]

    def show_report(self, report: ShiftReport) -> None:
        shown = self.query_one("#report", Static)
        shown.update(report_text(report))
        shown.display = True

    def counts(self) -> dict[int, int]:
        counts = {}
        for fen in DENOMINATIONS:
            text = self.query_one(f"#d{fen}", Input).value.strip() or "0"
            # isdecimal, not isdigit: int() refuses superscripts such as "²".
            if not text.isdecimal():
                raise PosError("bad_count", f"{denomination_label(fen)}: {text!r} is not a count")
            counts[fen] = int(text)
        return counts

    def action_close_shift(self) -> None:
        """F9: the blind count is confirmed first (without the expected cash); then counted,
        expected and difference are shown and closing the shift is asked for."""
        shifts = self.services.shifts
        try:
            self.clerk()
            if shifts.current() is None:
                raise PosError("no_open_shift", "no shift is open")
            confirmed = shifts.confirmed_count()
            counts = self.counts() if confirmed is None else confirmed
        except PosError as error:
            self.refuse(error)
            return
        if confirmed is not None:
            self.ask_to_close(counts)
            return
        counted = sum(fen * n for fen, n in counts.items())
        lines = [
            *(f"{denomination_label(fen)} × {n}" for fen, n in counts.items() if n),
            f"实点现金 counted {format_fen(counted)}",
        ]

        def confirmed_count(yes: bool | None) -> None:
            if yes:
                self.ask_to_close(counts)

        self.app.push_screen(
            ConfirmDialog(
                "确认点钞 Confirm the count",
                lines,
                "确认后不能再改 Once confirmed, the count cannot change",
            ),
            confirmed_count,
        )

    def ask_to_close(self, counts: dict[int, int]) -> None:
        try:
            report = self.services.shifts.confirm_count(counts)
        except PosError as error:
            self.refuse(error)
            return
        self.show_state()

        def close(yes: bool | None) -> None:
            if yes:
                self.close_shift()
            else:
                self.say("点钞已确认, 班次未交 count confirmed, shift still open — F9 交班 closes")

        self.app.push_screen(
            ConfirmDialog("交班 Close the shift (Z)", cash_lines(report), "现在交班? Close now?"),
            close,
        )

    def close_shift(self) -> None:
        try:
            report = self.services.shifts.close_shift(self.clerk().username)
        except PosError as error:
            self.refuse(error)
            return
        self.show_state()
        for fen in DENOMINATIONS:
            self.query_one(f"#d{fen}", Input).value = ""
        self.show_report(report)
        self.say(f"已交班 shift closed, Z {report.z_number}")
        self.app.print_pending()  # type: ignore[attr-defined]
        self.app.wake_sync()  # type: ignore[attr-defined]
