"""The shift reports as plain data: X and Z reports, their cash summary and lines."""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal


@dataclass(frozen=True)
class ReportLine:
    """A labelled amount on a report, with a count where one makes sense."""

    label: str
    amount_fen: int
    count: int | None = None


@dataclass(frozen=True)
class CashSummary:
    opening_float_fen: int
    cash_sales_fen: int
    cash_refunds_fen: int
    cash_in_fen: int
    cash_out_fen: int

    @property
    def expected_fen(self) -> int:
        return (
            self.opening_float_fen
            + self.cash_sales_fen
            - self.cash_refunds_fen
            + self.cash_in_fen
            - self.cash_out_fen
        )


@dataclass(frozen=True)
class ShiftReport:
    """An X (mid-shift, nothing reset) or Z (closing, numbered) report, ready to print."""

    kind: Literal["X", "Z"]
    shift_id: str
    clerk: str
    opened_at: datetime
    made_at: datetime
    z_number: int | None
    cash: CashSummary
    sales_count: int
    sales_total_fen: int
    returns_count: int
    refunds_total_fen: int
    takings: tuple[ReportLine, ...]  # per payment method
    products: tuple[ReportLine, ...]  # per product sold
    counted: tuple[ReportLine, ...] = ()  # Z: the blind count per denomination
    counted_cash_fen: int | None = None
    no_sale_openings: int = 0  # drawer openings without a sale, each approved by a manager
    print_job_id: str | None = None  # the queued printout, when one was made

    @property
    def expected_cash_fen(self) -> int:
        return self.cash.expected_fen

    @property
    def difference_fen(self) -> int | None:
        """Counted minus expected: negative is a shortage."""
        if self.counted_cash_fen is None:
            return None
        return self.counted_cash_fen - self.cash.expected_fen
