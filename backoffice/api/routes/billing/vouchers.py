"""Top-up card batches. PINs go in, and come out only once, when the system generates them."""

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile, status

from backoffice.api.deps import BillingClerk, PinCipherDep, SessionDep, SettingsDep, StockReader
from backoffice.contracts.billing import (
    GeneratedVouchers,
    ImportReport,
    VoucherBatchPublic,
    VoucherGenerateRequest,
    VoucherImportForm,
    VoucherPublic,
)
from backoffice.services.billing import vouchers
from backoffice.services.billing.tabular import ImportLimits, upload_name

router = APIRouter(tags=["vouchers"])


@router.post("/voucher-batches/import", status_code=status.HTTP_201_CREATED)
def import_vouchers(
    session: SessionDep,
    clerk: BillingClerk,
    cipher: PinCipherDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="CSV or XLSX with columns serial, pin")],
    form: Annotated[VoucherImportForm, Form()],
) -> ImportReport:
    return vouchers.import_vouchers(
        session,
        file.file,
        upload_name(file.filename),
        form,  # the batch's terms, with the import's options beside them
        cipher,
        clerk.username,
        skip_bad_rows=form.skip_bad_rows,
        encoding=form.encoding,
        limits=ImportLimits.from_settings(settings),
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
