"""Settlement routes: dealer accounts, settlement profiles, commission plans, provisioning
callbacks, settlement runs, statements and their PDF / XLSX / CSV downloads, and the shift
cash reconciliation (Z reports)."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import Field

from backoffice.api.deps import (
    ChannelReader,
    ProvisioningSystem,
    SalesCentre,
    SessionDep,
    attachment,
    dealer_scope,
    require,
)
from backoffice.contracts.common import CheckedDate, CheckedModel
from backoffice.contracts.settlement import (
    AccountEntryIn,
    AccountEntryPublic,
    AccountPublic,
    ActivationCallback,
    CommissionPlanCreate,
    CommissionPlanPublic,
    NumberActivationPublic,
    RevenueReport,
    RevenueReportPublic,
    SettlementProfileIn,
    SettlementProfilePublic,
    SettlementRunIn,
    SettlementRunPublic,
    ShiftReconciliationRow,
    StatementDetail,
    StatementDispute,
    StatementPublic,
)
from backoffice.domain.settlement.accounts import StatementAction, StatementStatus
from backoffice.domain.users import Role
from backoffice.models import User
from backoffice.services import exports
from backoffice.services.channel.dealers import find_dealer
from backoffice.services.errors import Forbidden
from backoffice.services.settlement import accounts, plans, revenue, runs
from backoffice.services.settlement import shifts as shift_reconciliation
from backoffice.services.settlement import statements as statement_documents

router = APIRouter(tags=["settlement"])

SettlementReader = Annotated[User, Depends(require(Role.sales_centre, Role.manager))]
# Dealer managers also read their own dealer's statements, once confirmed.
StatementReader = ChannelReader
# Monthly revenue comes from the billing centre, by hand or from the charging system.
RevenueReporter = Annotated[User, Depends(require(Role.billing, Role.charging))]


@router.get("/dealers/{key}/account")
def dealer_account(
    key: str,
    session: SessionDep,
    _: SettlementReader,
    start: CheckedDate | None = None,
    end: CheckedDate | None = None,
) -> AccountPublic:
    dealer = find_dealer(session, key)
    entries = accounts.account_entries(session, dealer.id, start, end)
    return AccountPublic(
        dealer_id=dealer.id,
        balance_fen=accounts.balance(session, dealer.id),
        entries=[AccountEntryPublic.model_validate(e) for e in entries],
    )


@router.post("/dealers/{key}/account/entries", status_code=status.HTTP_201_CREATED)
def post_account_entry(
    key: str, request: AccountEntryIn, session: SessionDep, user: SalesCentre
) -> AccountEntryPublic:
    return AccountEntryPublic.model_validate(
        accounts.post_entry(session, key, request, user.username)
    )


@router.put("/dealers/{key}/settlement-profile")
def set_settlement_profile(
    key: str, request: SettlementProfileIn, session: SessionDep, user: SalesCentre
) -> SettlementProfilePublic:
    profile = accounts.set_cadence(session, key, request.cadence, user.username)
    return SettlementProfilePublic.model_validate(profile)


@router.post("/commission-plans", status_code=status.HTTP_201_CREATED)
def create_commission_plan(
    request: CommissionPlanCreate, session: SessionDep, user: SalesCentre
) -> CommissionPlanPublic:
    return plans.create_plan(session, request, user.username)


@router.get("/commission-plans")
def list_commission_plans(
    session: SessionDep, _: SettlementReader, dealer: str | None = None
) -> list[CommissionPlanPublic]:
    return plans.list_plans(session, dealer)


@router.post("/activations/callback")
def activation_callback(
    request: ActivationCallback, session: SessionDep, system: ProvisioningSystem
) -> NumberActivationPublic:
    row = revenue.record_activation(session, request, system.username)
    return NumberActivationPublic.model_validate(row)


@router.post("/revenue")
def report_revenue(
    request: RevenueReport, session: SessionDep, system: RevenueReporter
) -> RevenueReportPublic:
    """The billing system's revenue per number for a month (revenue-share commission)."""
    return revenue.report_revenue(session, request, system.username)


@router.post("/settlement/runs")
def run_settlement(
    request: SettlementRunIn, session: SessionDep, user: SalesCentre
) -> SettlementRunPublic:
    return runs.run_settlement(session, request, user.username)


@router.get("/settlement/statements")
def list_statements(
    session: SessionDep,
    user: StatementReader,
    dealer: str | None = None,
    period_start: CheckedDate | None = None,
    status_: Annotated[StatementStatus | None, Query(alias="status")] = None,
) -> list[StatementPublic]:
    rows = runs.list_statements(session, dealer, period_start, status_, dealer_scope(user))
    return [StatementPublic.model_validate(s) for s in rows]


@router.get("/settlement/statements/{number}")
def get_statement(number: str, session: SessionDep, user: StatementReader) -> StatementDetail:
    return statement_documents.statement_detail(session, number, dealer_scope(user))


@router.get(
    "/settlement/statements/{number}/{fmt}",
    response_class=Response,
    responses={
        200: {
            "content": {
                "application/pdf": {},
                "text/csv": {},
                exports.XLSX_TYPE: {},
            }
        }
    },
)
def download_statement(
    number: str, fmt: Literal["pdf", "xlsx", "csv"], session: SessionDep, user: StatementReader
) -> Response:
    body, media_type = statement_documents.render(session, number, fmt, dealer_scope(user))
    return attachment(body, media_type, f"{number}.{fmt}")


def _move(
    number: str, action: StatementAction, session: SessionDep, user: User, comment: str = ""
) -> StatementPublic:
    statement = runs.move_statement(session, number, action, user.username, comment)
    return StatementPublic.model_validate(statement)


@router.post("/settlement/statements/{number}/confirm")
def confirm_statement(number: str, session: SessionDep, user: SalesCentre) -> StatementPublic:
    return _move(number, StatementAction.confirm, session, user)


@router.post("/settlement/statements/{number}/dispute")
def dispute_statement(
    number: str, request: StatementDispute, session: SessionDep, user: SalesCentre
) -> StatementPublic:
    return _move(number, StatementAction.dispute, session, user, request.comment)


@router.post("/settlement/statements/{number}/paid")
def mark_statement_paid(number: str, session: SessionDep, user: SalesCentre) -> StatementPublic:
    return _move(number, StatementAction.mark_paid, session, user)


class ZReportFilter(CheckedModel):
    outlet: str | None = Field(default=None, description="outlet id or code")
    clerk: str | None = None
    dealer: str | None = Field(default=None, description="dealer id or code")
    start: CheckedDate | None = Field(default=None, description="first day the shifts closed on")
    end: CheckedDate | None = Field(default=None, description="last day the shifts closed on")


def _z_reports(
    session: SessionDep, user: User, query: ZReportFilter
) -> list[ShiftReconciliationRow]:
    scope = dealer_scope(user)
    dealer_id = find_dealer(session, query.dealer).id if query.dealer else None
    if scope is not None:
        if dealer_id not in (None, scope):
            raise Forbidden("dealer staff see only their own dealer's shifts")
        dealer_id = scope
    return shift_reconciliation.z_reports(
        session,
        outlet=query.outlet,
        clerk=query.clerk,
        dealer_id=dealer_id,
        start=query.start,
        end=query.end,
    )


@router.get("/shifts/z-reports")
def z_reports(
    session: SessionDep, user: ChannelReader, query: Annotated[ZReportFilter, Query()]
) -> list[ShiftReconciliationRow]:
    return _z_reports(session, user, query)


@router.get(
    "/shifts/z-reports/{fmt}",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, exports.XLSX_TYPE: {}}}},
)
def export_z_reports(
    fmt: Literal["xlsx", "csv"],
    session: SessionDep,
    user: ChannelReader,
    query: Annotated[ZReportFilter, Query()],
) -> Response:
    rows = _z_reports(session, user, query)
    body, media_type = exports.render(fmt, "交班对账", shift_reconciliation.COLUMNS, rows)
    return attachment(body, media_type, f"z-reports.{fmt}")
