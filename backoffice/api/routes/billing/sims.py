"""SIM card batches and pairing SIM cards with numbers."""

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile, status

from backoffice.api.deps import BillingClerk, SessionDep, SettingsDep, StockReader
from backoffice.contracts.billing import (
    AutoPairRequest,
    ImportEncoding,
    ImportReport,
    PairingResult,
    SimBatchPublic,
    SimPublic,
)
from backoffice.services.billing import sims
from backoffice.services.billing.tabular import ImportLimits, upload_name

router = APIRouter(tags=["sims"])


@router.post("/sim-batches/import", status_code=status.HTTP_201_CREATED)
def import_sims(
    session: SessionDep,
    clerk: BillingClerk,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="CSV or XLSX with columns iccid, imsi")],
    skip_bad_rows: Annotated[bool, Form()] = False,
    encoding: Annotated[ImportEncoding, Form()] = "utf-8",
    code: Annotated[str | None, Form()] = None,
) -> ImportReport:
    return sims.import_sims(
        session,
        file.file,
        upload_name(file.filename),
        clerk.username,
        skip_bad_rows=skip_bad_rows,
        encoding=encoding,
        code=code,
        limits=ImportLimits.from_settings(settings),
    )


@router.get("/sim-batches")
def list_sim_batches(session: SessionDep, _: StockReader) -> list[SimBatchPublic]:
    return [SimBatchPublic.model_validate(b) for b in sims.list_sim_batches(session)]


@router.post("/sim-pairings/import")
def import_pairs(
    session: SessionDep,
    clerk: BillingClerk,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="CSV or XLSX with columns msisdn, iccid")],
    skip_bad_rows: Annotated[bool, Form()] = False,
    encoding: Annotated[ImportEncoding, Form()] = "utf-8",
) -> ImportReport:
    return sims.import_pairs(
        session,
        file.file,
        upload_name(file.filename),
        clerk.username,
        skip_bad_rows=skip_bad_rows,
        encoding=encoding,
        limits=ImportLimits.from_settings(settings),
    )


@router.post("/sim-pairings/in-order")
def pair_in_order(
    request: AutoPairRequest, session: SessionDep, clerk: BillingClerk
) -> PairingResult:
    return sims.pair_in_order(session, request.number_batch, request.sim_batch, clerk.username)


@router.get("/sims/{iccid}")
def get_sim(iccid: str, session: SessionDep, _: StockReader) -> SimPublic:
    return SimPublic.model_validate(sims.get_sim(session, iccid))
