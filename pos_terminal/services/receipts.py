"""Receipt models for sales, returns and X/Z reports, and their JSON form in the print queue."""

import json
from dataclasses import asdict
from datetime import datetime
from zoneinfo import ZoneInfo

from devices.printer.receipt import AmountLine, ItemLine, Receipt
from pos_terminal.services.reports import ShiftReport
from shared.codes import mask_name, mask_resident_id

METHOD_LABELS = {"cash": "现金 Cash", "card": "银行卡 Card", "wallet": "移动支付 Wallet"}


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
    return Receipt(
        number=receipt_no,
        title="号卡 HaoKa 销售小票",
        header=(outlet, f"终端 Terminal {terminal_no}  收银员 {clerk}", local_time(at, timezone)),
        items=tuple(ItemLine(name, 1, amount) for name, amount in lines),
        totals=(AmountLine("合计 Total", total_fen),),
        payments=tuple(AmountLine(METHOD_LABELS[m], a) for m, a in payments),
        change_fen=change_fen,
        footer=tuple(footer),
    )


def return_receipt(
    *,
    receipt_no: str,
    outlet: str,
    clerk: str,
    at: datetime,
    timezone: str,
    lines: list[tuple[str, int]],
    refund_fen: int,
    refund_method: str,
) -> Receipt:
    return Receipt(
        number=receipt_no,
        title="退货单 Return",
        header=(
            outlet,
            f"原小票 Original {receipt_no}",
            f"收银员 {clerk}",
            local_time(at, timezone),
        ),
        items=tuple(ItemLine(name, 1, -amount) for name, amount in lines),
        totals=(AmountLine("退款 Refund", -refund_fen),),
        payments=(AmountLine(METHOD_LABELS[refund_method], -refund_fen),),
        footer=("客户签名 Customer signature:", ""),
    )


def report_receipt(report: ShiftReport, outlet: str, timezone: str) -> Receipt:
    """An X or Z report laid out as a receipt, so the same printer path prints it."""
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
    if report.counted_cash_fen is not None and report.difference_fen is not None:
        totals += [
            AmountLine("应有现金 Expected", cash.expected_fen),
            AmountLine("实点现金 Counted", report.counted_cash_fen),
            AmountLine("差额 Difference", report.difference_fen),
        ]
    else:
        totals.append(AmountLine("应有现金 Expected", cash.expected_fen))
    if report.kind == "Z":
        number, title = f"Z{report.z_number:06d}", f"Z 报表 No. {report.z_number}"
    else:
        number, title = "X" + report.shift_id[-8:], "X 报表 (不清零)"
    return Receipt(
        number=number,
        title=title,
        header=tuple(header),
        items=tuple(items),
        totals=tuple(totals),
        payments=tuple(AmountLine(line.label, line.amount_fen) for line in report.takings),
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
