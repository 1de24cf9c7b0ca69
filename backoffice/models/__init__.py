"""SQLModel tables of the back office; the schema itself comes from Alembic migrations."""

from backoffice.models.tables import (
    AuditEntry,
    DocumentCounter,
    GradingRule,
    ImportJob,
    MobileNumber,
    NumberBatch,
    NumberGrade,
    SimBatch,
    SimCard,
    StockDocument,
    StockDocumentLine,
    User,
    Voucher,
    VoucherBatch,
)

__all__ = [
    "AuditEntry",
    "DocumentCounter",
    "GradingRule",
    "ImportJob",
    "MobileNumber",
    "NumberBatch",
    "NumberGrade",
    "SimBatch",
    "SimCard",
    "StockDocument",
    "StockDocumentLine",
    "User",
    "Voucher",
    "VoucherBatch",
]
