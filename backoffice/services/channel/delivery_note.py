"""The delivery note (出库单) as an A4 PDF: Chinese text, a Code 128 barcode for the document
and for the first and last item of every range, so the outlet can receive by scanning."""

import io
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from sqlmodel import Session

from backoffice.contracts.channel import ChannelDocumentPublic
from backoffice.models import Dealer, Outlet
from backoffice.services.channel.items import channel_document, find_channel_document

CJK_FONT_FILES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
_KIND_NAMES = {"number": "号码", "voucher": "充值卡"}
_TITLES = {"DN": "出库单 Delivery note", "TR": "调拨单 Transfer note"}
_ROW_HEIGHT = 17 * mm
_BAR_HEIGHT = 9 * mm
_BAR_WIDTH = 0.3 * mm


@lru_cache
def cjk_font() -> str:
    """An embedded CJK TrueType font when one is installed; otherwise the standard CID font
    every PDF reader in China has (STSong-Light), which needs nothing installed here."""
    for path in CJK_FONT_FILES:
        if path.exists():
            pdfmetrics.registerFont(TTFont("HaoKaCJK", str(path), subfontIndex=0))
            return "HaoKaCJK"
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def _barcode(canvas: Canvas, value: str, x: float, y: float) -> None:
    Code128(value, barHeight=_BAR_HEIGHT, barWidth=_BAR_WIDTH, quiet=True).drawOn(canvas, x, y)


class _Page:
    """Draws the header and keeps track of the writing position."""

    def __init__(
        self, canvas: Canvas, font: str, document: ChannelDocumentPublic, heading: list[str]
    ) -> None:
        self.canvas, self.font, self.document, self.heading = canvas, font, document, heading
        self.width, self.height = A4
        self.page = 0
        self.y = 0.0

    def start(self) -> None:
        if self.page:
            self.canvas.showPage()
        self.page += 1
        c, top = self.canvas, self.height - 18 * mm
        c.setFont(self.font, 18)
        c.drawString(18 * mm, top, _TITLES.get(self.document.kind, self.document.kind))
        _barcode(c, self.document.number, self.width - 95 * mm, top - 6 * mm)
        c.setFont(self.font, 9)
        c.drawString(self.width - 95 * mm, top - 10 * mm, self.document.number)
        c.setFont(self.font, 10)
        y = top - 10 * mm
        for text in self.heading:
            c.drawString(18 * mm, y, text)
            y -= 5.5 * mm
        c.drawRightString(self.width - 18 * mm, 10 * mm, f"第 {self.page} 页")
        y -= 3 * mm
        c.setFont(self.font, 9)
        for x, title in ((18, "序号"), (30, "类型"), (48, "数量"), (64, "起始"), (132, "结束")):
            c.drawString(x * mm, y, title)
        c.line(18 * mm, y - 2 * mm, self.width - 18 * mm, y - 2 * mm)
        self.y = y - 4 * mm

    def room(self, needed: float) -> None:
        if self.y - needed < 30 * mm:
            self.start()


def render_delivery_note(session: Session, number: str) -> bytes:
    """The PDF of a delivery note or transfer note, ready for an A4 printer."""
    document = channel_document(session, find_channel_document(session, number))
    outlet = session.get(Outlet, document.outlet_id) if document.outlet_id else None
    dealer = session.get(Dealer, outlet.dealer_id) if outlet else None
    zone = ZoneInfo(outlet.timezone if outlet else "Asia/Shanghai")
    created = document.created_at.astimezone(zone)
    total = sum(line.item_count for line in document.lines)
    heading = [
        f"单号 Document: {document.number}",
        f"日期 Date: {created:%Y-%m-%d %H:%M} ({zone.key})",
        f"收货网点 Outlet: {outlet.code + ' ' + outlet.name if outlet else '-'}",
        f"代理商 Dealer: {dealer.code + ' ' + dealer.name if dealer else '-'}",
        f"合计 Items: {total}    结算金额 Charge: ¥{document.charge_fen / 100:.2f}",
        f"备注 Note: {document.note or '-'}",
    ]
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4, invariant=1)
    canvas.setTitle(f"{document.number}")
    canvas.setCreator("HaoKa back office")
    font = cjk_font()
    page = _Page(canvas, font, document, heading)
    page.start()
    for index, line in enumerate(document.lines, start=1):
        page.room(_ROW_HEIGHT)
        c, y = canvas, page.y - _ROW_HEIGHT + 4 * mm
        c.setFont(font, 10)
        c.drawString(18 * mm, y + 4 * mm, str(index))
        c.drawString(30 * mm, y + 4 * mm, _KIND_NAMES.get(line.item_kind, line.item_kind))
        c.drawString(48 * mm, y + 4 * mm, str(line.item_count))
        _barcode(c, line.first_item, 64 * mm, y + 2 * mm)
        c.setFont(font, 8)
        c.drawString(64 * mm, y - 1 * mm, line.first_item)
        if line.last_item != line.first_item:
            _barcode(c, line.last_item, 132 * mm, y + 2 * mm)
            c.drawString(132 * mm, y - 1 * mm, line.last_item)
        page.y -= _ROW_HEIGHT
    page.room(25 * mm)
    canvas.setFont(font, 10)
    canvas.drawString(18 * mm, page.y - 12 * mm, "发货人 Issued by: ____________")
    canvas.drawString(110 * mm, page.y - 12 * mm, "收货人 Received by: ____________")
    canvas.drawString(
        18 * mm, page.y - 20 * mm, f"打印时间 Printed: {datetime.now(zone):%Y-%m-%d %H:%M}"
    )
    canvas.save()
    return out.getvalue()
