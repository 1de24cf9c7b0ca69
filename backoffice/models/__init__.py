"""SQLModel tables of the back office; the schema itself comes from Alembic migrations."""

from backoffice.models.audit import AuditEntry
from backoffice.models.billing import (
    GradingRule,
    ImportJob,
    MobileNumber,
    NumberBatch,
    NumberGrade,
    SimBatch,
    SimCard,
    Voucher,
    VoucherBatch,
)
from backoffice.models.channel import (
    Dealer,
    DealerLedgerEntry,
    DealerOverrideCap,
    DealerPrice,
    DocumentDiscrepancy,
    NumberReservation,
    Outlet,
    PriceList,
    PriceListItem,
    ReservationQuota,
    Terminal,
)
from backoffice.models.counter import (
    ActivationOutbox,
    CashMovement,
    PinLockout,
    Sale,
    SaleLine,
    Shift,
    SyncEvent,
)
from backoffice.models.documents import DocumentCounter, StockDocument, StockDocumentLine
from backoffice.models.jobs import Job
from backoffice.models.settlement import (
    CommissionPlanRow,
    DealerAccountEntry,
    NumberActivation,
    NumberRevenue,
    SettlementProfile,
    SettlementStatement,
)
from backoffice.models.statistics import SalesStatOutlet, SalesStatProduct
from backoffice.models.users import RateLimitCounter, RevokedToken, User

__all__ = [
    "ActivationOutbox",
    "AuditEntry",
    "CashMovement",
    "CommissionPlanRow",
    "Dealer",
    "DealerAccountEntry",
    "DealerLedgerEntry",
    "DealerOverrideCap",
    "DealerPrice",
    "DocumentCounter",
    "DocumentDiscrepancy",
    "GradingRule",
    "ImportJob",
    "Job",
    "MobileNumber",
    "NumberActivation",
    "NumberBatch",
    "NumberGrade",
    "NumberReservation",
    "NumberRevenue",
    "Outlet",
    "PinLockout",
    "PriceList",
    "PriceListItem",
    "RateLimitCounter",
    "ReservationQuota",
    "RevokedToken",
    "Sale",
    "SaleLine",
    "SalesStatOutlet",
    "SalesStatProduct",
    "SettlementProfile",
    "SettlementStatement",
    "Shift",
    "SimBatch",
    "SimCard",
    "StockDocument",
    "StockDocumentLine",
    "SyncEvent",
    "Terminal",
    "User",
    "Voucher",
    "VoucherBatch",
]
