"""Top-up card batches. PINs go in, and come out only once, when the system generates them."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile, status

from backoffice.api.deps import BillingClerk, PinCipherDep, SessionDep, StockReader
from backoffice.contracts.billing import (
    GeneratedVouchers,
    ImportReport,
    VoucherBatchPublic,
    VoucherBatchTerms,
    VoucherGenerateRequest,
    VoucherPublic,
)
from backoffice.services.billing import vouchers

router = APIRouter(tags=["vouchers"])


@router.post("/voucher-batches/import", status_code=status.HTTP_201_CREATED)
def import_vouchers(
    session: SessionDep,
    clerk: BillingClerk,
    cipher: PinCipherDep,
    file: Annotated[UploadFile, File(description="CSV or XLSX with columns serial, pin")],
    face_value_fen: Annotated[int, Form()],
    dealer_price_fen: Annotated[int, Form()],
    expires_on: Annotated[date, Form()],
    code: Annotated[str | None, Form()] = None,
    skip_bad_rows: Annotated[bool, Form()] = False,
    encoding: Annotated[str, Form()] = "utf-8",
) -> ImportReport:
    terms = VoucherBatchTerms(
        face_value_fen=face_value_fen,
        dealer_price_fen=dealer_price_fen,
        expires_on=expires_on,
        code=code,
    )
    return vouchers.import_vouchers(
        session,
        file.file.read(),
        file.filename or "upload.csv",
        terms,
        cipher,
        clerk.username,
        skip_bad_rows=skip_bad_rows,
        encoding=encoding,
    )


@router.post("/voucher-batches/generate", status_code=status.HTTP_201_CREATED)
def generate_vouchers(
    request: VoucherGenerateRequest, session: SessionDep, clerk: BillingClerk, cipher: PinCipherDep
) -> GeneratedVouchers:
    return vouchers.generate_vouchers(session, request, cipher, clerk.username)


@router.get("/voucher-batches")
def list_voucher_batches(session: SessionDep, _: StockReader) -> list[VoucherBatchPublic]:
    return [VoucherBatchPublic.model_validate(b) for b in vouchers.list_voucher_batches(session)]


@router.get("/vouchers/{serial}")
def get_voucher(serial: str, session: SessionDep, _: StockReader) -> VoucherPublic:
    return VoucherPublic.model_validate(vouchers.get_voucher(session, serial))
