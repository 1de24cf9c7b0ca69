"""Receipt models for sales, returns and X/Z reports, and their JSON form in the print queue."""

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from zoneinfo import ZoneInfo

from devices.printer.receipt import AmountLine, ItemLine, Receipt
from pos_terminal.services.reports import ShiftReport
from shared.codes import mask_name, mask_resident_id
from shared.money import format_fen

METHOD_LABELS = {"cash": "现金 Cash", "card": "银行卡 Card", "wallet": "移动支付 Wallet"}
CASH_TENDERED = "现金收款 Cash tendered"
X_REPORT_TITLE = "X 报表 (不清零)"


def local_time(moment: datetime, timezone: str) -> str:
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M:%S")


def sale_receipt(
    *,
    receipt_no: str,
    outlet: str,
    terminal_no: int,
    clerk: str,
    at: datetime,
    timezone: str,
    lines: list[tuple[str, int]],
    total_fen: int,
    payments: list[tuple[str, int]],
    change_fen: int,
    customer: tuple[str, str] | None,
    return_days: int,
) -> Receipt:
    footer = []
    if customer is not None:
        name, resident_id = customer
        footer.append(f"实名登记 {mask_name(name)} {mask_resident_id(resident_id)}")
    footer += [
        "谢谢惠顾 Thank you",
        f"凭小票{return_days}日内可退 Returns within {return_days} days",
    ]
    # Change comes out of cash only: the customer handed over the cash paid plus the change.
    cash_tendered = sum(amount for method, amount in payments if method == "cash") + change_fen
    shown = [AmountLine(METHOD_LABELS[m], amount) for m, amount in payments if m != "cash"]
    if cash_tendered:
        shown.append(AmountLine(CASH_TENDERED, cash_tendered))
    return Receipt(
        number=receipt_no,
        title="号卡 HaoKa 销售小票",
        header=(outlet, f"终端 Terminal {terminal_no}  收银员 {clerk}", local_time(at, timezone)),
        items=tuple(ItemLine(name, 1, amount) for name, amount in lines),
        totals=(AmountLine("合计 Total", total_fen),),
        payments=tuple(shown),
        change_fen=change_fen,
        footer=tuple(footer),
    )


def return_receipt(
    *,
    return_no: str,
    original_receipt_no: str,
    outlet: str,
    clerk: str,
    at: datetime,
    timezone: str,
    lines: list[tuple[str, int]],
    refund_fen: int,
    refund_method: str,
) -> Receipt:
    """A return slip: its own number (text and barcode), the sale it undoes named in the header."""
    return Receipt(
        number=return_no,
        title="退货单 Return",
        header=(
            outlet,
            f"原小票 Original {original_receipt_no}",
            f"收银员 {clerk}",
            local_time(at, timezone),
        ),
        items=tuple(ItemLine(name, 1, -amount) for name, amount in lines),
        totals=(AmountLine("退款 Refund", -refund_fen),),
        payments=(AmountLine(METHOD_LABELS[refund_method], -refund_fen),),
        footer=("客户签名 Customer signature:", ""),
    )


def report_receipt(report: ShiftReport, outlet: str, timezone: str) -> Receipt:
    """An X or Z report laid out as a receipt, so the same printer path prints it.

    Its product lines carry the product codes and an X report has no number yet: the print
    queue names the products and numbers an X report from the store (name_products,
    number_x_report) when it queues one."""
    cash = report.cash
    header = [
        outlet,
        f"收银员 {report.clerk}",
        f"开班 Opened {local_time(report.opened_at, timezone)}",
        f"打印 Printed {local_time(report.made_at, timezone)}",
        f"销售 Sales {report.sales_count}  退货 Returns {report.returns_count}",
        f"无销售开钱箱 No-sale drawer {report.no_sale_openings}",
    ]
    items = [ItemLine(line.label, line.count or 0, line.amount_fen) for line in report.products]
    items += [
        ItemLine(f"点钞 {line.label}", line.count or 0, line.amount_fen) for line in report.counted
    ]
    totals = [
        AmountLine("备用金 Float", cash.opening_float_fen),
        AmountLine("现金销售 Cash sales", cash.cash_sales_fen),
        AmountLine("现金退款 Cash refunds", -cash.cash_refunds_fen),
        AmountLine("存入 Cash in", cash.cash_in_fen),
        AmountLine("取出 Cash out", -cash.cash_out_fen),
    ]
    # The closing count is blind: the cash expected is printed only beside a count.
    if report.counted_cash_fen is not None and report.difference_fen is not None:
        totals += [
            AmountLine("应有现金 Expected", cash.expected_fen),
            AmountLine("实点现金 Counted", report.counted_cash_fen),
            AmountLine("差额 Difference", report.difference_fen),
        ]
    if report.kind == "Z":
        number, title = f"Z{report.z_number:06d}", f"Z 报表 No. {report.z_number}"
    else:
        number, title = "X", X_REPORT_TITLE  # numbered when queued
    return Receipt(
        number=number,
        title=title,
        header=tuple(header),
        items=tuple(items),
        totals=tuple(totals),
        payments=tuple(AmountLine(line.label, line.amount_fen) for line in report.takings),
    )


def product_name(product: str, grade_names: Mapping[str, str]) -> str:
    """What a report prints for a product code: a number grade's name (number:G4 -> 二级靓号),
    a top-up card with its face value (voucher:5000 -> 充值卡 ¥50.00); any other text as is."""
    kind, _, rest = product.partition(":")
    if kind == "number":
        return grade_names.get(rest) or f"号卡 {rest}"
    if kind == "voucher" and rest.isdecimal() and rest.isascii():
        return f"充值卡 {format_fen(int(rest))}"
    return product


def name_products(receipt: Receipt, grade_names: Mapping[str, str]) -> Receipt:
    """The receipt with each item line that shows a product code named as product_name does;
    other lines (names already, counted notes) stay as they are."""
    items = tuple(
        dataclasses.replace(item, name=product_name(item.name, grade_names))
        for item in receipt.items
    )
    return dataclasses.replace(receipt, items=items)


def number_x_report(receipt: Receipt, x_number: int) -> Receipt:
    """An X report with its number from the terminal's X sequence, as text and barcode."""
    return dataclasses.replace(
        receipt,
        number=f"X{x_number:06d}",
        header=(f"X报表号 {x_number}", *receipt.header),
    )


def receipt_to_json(receipt: Receipt) -> str:
    return json.dumps(asdict(receipt), ensure_ascii=False)


def receipt_from_json(text: str) -> Receipt:
    data = json.loads(text)
    return Receipt(
        number=data["number"],
        title=data["title"],
        header=tuple(data["header"]),
        items=tuple(ItemLine(**item) for item in data["items"]),
        totals=tuple(AmountLine(**line) for line in data["totals"]),
        payments=tuple(AmountLine(**line) for line in data["payments"]),
        change_fen=data["change_fen"],
        footer=tuple(data["footer"]),
        qr_payload=data["qr_payload"],
    )
