"""The sales receipt as printed: header, item lines, totals, payments, change, footer, codes."""

from dataclasses import dataclass, field

from shared.codes import format_receipt_number


def _check_fen(what: str, fen: int) -> None:
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"{what} must be integer fen, got {type(fen).__name__}")


@dataclass(frozen=True)
class ItemLine:
    """One sold item: name, quantity and the line's amount (quantity × price) in fen."""

    name: str
    quantity: int
    amount_fen: int

    def __post_init__(self) -> None:
        _check_fen("item amount", self.amount_fen)


@dataclass(frozen=True)
class AmountLine:
    """A labelled amount: a total, a discount, a payment."""

    label: str
    amount_fen: int

    def __post_init__(self) -> None:
        _check_fen(f"amount of {self.label!r}", self.amount_fen)


@dataclass(frozen=True)
class Receipt:
    """A receipt; `number` is printed as text and as a Code 128 barcode, so returns can scan it.

    The last of `totals` is the amount due and is printed enlarged."""

    number: str
    title: str
    header: tuple[str, ...] = ()
    items: tuple[ItemLine, ...] = ()
    totals: tuple[AmountLine, ...] = ()
    payments: tuple[AmountLine, ...] = ()
    change_fen: int | None = None
    footer: tuple[str, ...] = ()
    qr_payload: str | None = field(default=None)

    def __post_init__(self) -> None:
        if self.change_fen is not None:
            _check_fen("change", self.change_fen)


def test_receipt() -> Receipt:
    """A receipt that exercises everything a printer must get right: Chinese and English text,
    two-column amounts, "¥", an enlarged total, the barcode and a QR code."""
    return Receipt(
        number=format_receipt_number(1, 1),
        title="号卡 HaoKa 打印测试",
        header=("测试网点 Test outlet", "收银员 Clerk: 张三", "Printer test / 打印机测试"),
        items=(
            ItemLine("号卡 13800138000 (三级靓号)", 1, 12500),
            ItemLine("充值卡 Top-up card ¥100", 2, 19600),
            ItemLine("SIM 卡套 SIM holder", 3, 150),
        ),
        totals=(
            AmountLine("小计 Subtotal", 32250),
            AmountLine("优惠 Discount", -250),
            AmountLine("合计 Total", 32000),
        ),
        payments=(AmountLine("现金 Cash", 35000),),
        change_fen=3000,
        footer=("谢谢惠顾 Thank you", "凭小票七日内可退 Returns within 7 days"),
        qr_payload="https://haoka.example/r/" + format_receipt_number(1, 1),
    )


# The name is the public contract; without this pytest would collect it wherever it is imported.
test_receipt.__test__ = False  # type: ignore[attr-defined]
