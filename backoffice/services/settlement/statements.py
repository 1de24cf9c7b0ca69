"""Settlement statements as documents: the detail for the API, an A4 PDF in Chinese with
page numbers, and XLSX / CSV exports of the totals and every line."""

import io

from openpyxl import Workbook
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from sqlmodel import Session

from backoffice.contracts.settlement import AccountEntryPublic, StatementDetail, StatementPublic
from backoffice.models import Dealer
from backoffice.services import exports
from backoffice.services.channel.delivery_note import cjk_font
from backoffice.services.exports import CSV_TYPE, XLSX_TYPE
from backoffice.services.settlement.runs import find_statement, statement_lines
from shared.money import format_fen

KIND_NAMES = {
    "deposit": "押金",
    "sale": "销售结算",
    "return": "退货冲回",
    "commission": "佣金",
    "penalty": "罚款",
    "payment": "付款",
    "adjustment": "调整",
}
STATUS_NAMES = {"draft": "草稿", "confirmed": "已确认", "paid": "已付款", "disputed": "有争议"}

# (label, field) in the order the statement shows its totals.
TOTALS = (
    ("期初余额", "opening_fen"),
    ("代收零售额", "retail_collected_fen"),
    ("应付结算款", "sales_fen"),
    ("退货冲回", "returns_fen"),
    ("佣金", "commission_fen"),
    ("罚款", "penalties_fen"),
    ("付款", "payments_fen"),
    ("押金", "deposits_fen"),
    ("调整", "adjustments_fen"),
    ("期末余额", "closing_fen"),
)
LINE_COLUMNS = ("记账日", "发生日", "类型", "号码/卡号", "摘要", "零售额", "金额", "补记", "说明")


def statement_detail(
    session: Session, number: str, dealer_scope: str | None = None
) -> StatementDetail:
    statement = find_statement(session, number, dealer_scope)
    dealer = session.get(Dealer, statement.dealer_id)
    assert dealer is not None  # a foreign key
    return StatementDetail(
        statement=StatementPublic.model_validate(statement),
        dealer_code=dealer.code,
        dealer_name=dealer.name,
        lines=[AccountEntryPublic.model_validate(e) for e in statement_lines(session, statement)],
    )


def _line_cells(line: AccountEntryPublic) -> list[object]:
    note = " ".join(x for x in (line.reason, line.approver and f"批准:{line.approver}") if x)
    return [
        line.booked_on.isoformat(),
        line.occurred_on.isoformat(),
        KIND_NAMES.get(line.kind.value, line.kind.value),
        line.item_key or "",
        line.description,
        line.retail_fen,
        line.amount_fen,
        "补记" if line.late else "",
        note,
    ]


def _heading(detail: StatementDetail) -> list[tuple[str, str]]:
    s = detail.statement
    return [
        ("结算单号", s.number),
        ("代理商", f"{detail.dealer_code} {detail.dealer_name}"),
        ("结算周期", f"{s.period_start.isoformat()} 至 {s.period_end.isoformat()}"),
        ("状态", STATUS_NAMES.get(s.status.value, s.status.value)),
    ]


def render_csv(detail: StatementDetail) -> bytes:
    """UTF-8 with a byte-order mark, so that Excel in China opens the Chinese text; names and
    descriptions made safe to open (exports.csv_bytes)."""
    rows: list[list[object]] = [[label, value] for label, value in _heading(detail)]
    rows += [[label + "(分)", getattr(detail.statement, name)] for label, name in TOTALS]
    rows.append([])
    rows.append([*LINE_COLUMNS[:5], "零售额(分)", "金额(分)", *LINE_COLUMNS[7:]])
    rows += [_line_cells(line) for line in detail.lines]
    return exports.csv_bytes(rows)


def render_xlsx(detail: StatementDetail) -> bytes:
    book = Workbook()
    summary = book.active
    summary.title = "汇总"
    for label, value in _heading(detail):
        exports.append_row(summary, [label, value])
    for label, name in TOTALS:
        exports.append_row(summary, [label + "(元)", getattr(detail.statement, name) / 100])
        summary.cell(summary.max_row, 2).number_format = "#,##0.00"
    lines = book.create_sheet("明细")
    exports.append_row(lines, [*LINE_COLUMNS[:5], "零售额(元)", "金额(元)", *LINE_COLUMNS[7:]])
    for line in detail.lines:
        cells = _line_cells(line)
        cells[5] = line.retail_fen / 100
        cells[6] = line.amount_fen / 100
        exports.append_row(lines, cells)
    return exports.workbook_bytes(book)


class _NumberedCanvas(Canvas):
    """Holds each page until the end so that every page can say how many there are."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._pages: list[dict[str, object]] = []

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self.setFont(cjk_font(), 9)
            self.drawRightString(
                A4[0] - 18 * mm, 10 * mm, f"第 {self._pageNumber} 页 共 {total} 页"
            )
            super().showPage()
        super().save()


_COLUMNS_X = (18, 38, 58, 76, 98)  # mm: 记账日 发生日 类型 号码 摘要; amounts right-aligned


def render_pdf(detail: StatementDetail) -> bytes:
    """The statement on A4: heading, totals, then every line; amounts in yuan."""
    font = cjk_font()
    out = io.BytesIO()
    canvas = _NumberedCanvas(out, pagesize=A4, invariant=1)
    canvas.setTitle(detail.statement.number)
    canvas.setCreator("HaoKa back office")
    width, height = A4
    y = height - 20 * mm

    def table_header() -> float:
        canvas.setFont(font, 9)
        for x, title in zip(
            _COLUMNS_X, ("记账日", "发生日", "类型", "号码/卡号", "摘要"), strict=True
        ):
            canvas.drawString(x * mm, y, title)
        canvas.drawRightString(174 * mm, y, "零售额")
        canvas.drawRightString(width - 18 * mm, y, "金额")
        canvas.line(18 * mm, y - 2 * mm, width - 18 * mm, y - 2 * mm)
        return y - 6 * mm

    canvas.setFont(font, 16)
    canvas.drawString(18 * mm, y, "代理商结算单")
    y -= 9 * mm
    canvas.setFont(font, 10)
    for label, value in _heading(detail):
        canvas.drawString(18 * mm, y, f"{label}: {value}")
        y -= 5.5 * mm
    y -= 2 * mm
    for label, name in TOTALS:
        canvas.drawString(18 * mm, y, label)
        canvas.drawRightString(90 * mm, y, format_fen(getattr(detail.statement, name)))
        y -= 5.5 * mm
    y -= 4 * mm
    y = table_header()
    for line in detail.lines:
        if y < 22 * mm:
            canvas.showPage()
            y = height - 20 * mm
            y = table_header()
        cells = _line_cells(line)
        canvas.setFont(font, 8)
        for x, value in zip(_COLUMNS_X[:4], cells[:4], strict=True):
            canvas.drawString(x * mm, y, str(value))
        summary = " ".join(str(x) for x in (cells[4], cells[8]) if x)
        summary += " (补记)" if line.late else ""
        canvas.drawString(_COLUMNS_X[4] * mm, y, summary[:34])
        if line.retail_fen:
            canvas.drawRightString(174 * mm, y, format_fen(line.retail_fen, ""))
        canvas.drawRightString(width - 18 * mm, y, format_fen(line.amount_fen, ""))
        y -= 5 * mm
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def render(
    session: Session, number: str, fmt: str, dealer_scope: str | None = None
) -> tuple[bytes, str]:
    """The statement in `fmt` (pdf, xlsx or csv) and its media type."""
    detail = statement_detail(session, number, dealer_scope)
    if fmt == "pdf":
        return render_pdf(detail), "application/pdf"
    if fmt == "xlsx":
        return render_xlsx(detail), XLSX_TYPE
    return render_csv(detail), CSV_TYPE
