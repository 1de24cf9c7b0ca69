"""Sales statistics for managers and the sales centre, and for dealer managers over their
own outlets. Every table is served as JSON and, under `/{report}/{fmt}`, as CSV or XLSX."""

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel
from sqlmodel import Session

from backoffice.api.deps import ChannelReader, SessionDep, attachment, dealer_scope
from backoffice.contracts.statistics import (
    Dashboard,
    DashboardQuery,
    Range,
    RankingQuery,
    RankingRow,
    SalesQuery,
    SalesRow,
    SellThroughRow,
    ShiftCashQuery,
    ShiftCashRow,
    StockQuery,
    StockRow,
    VoucherQuery,
    VoucherRow,
)
from backoffice.models import User
from backoffice.services import exports
from backoffice.services.channel.dealers import find_dealer, find_outlet
from backoffice.services.errors import Forbidden
from backoffice.services.statistics import queries
from backoffice.services.statistics.queries import Scope

router = APIRouter(prefix="/statistics", tags=["statistics"])


def scope_of(session: Session, user: User, dealer: str | None, outlet: str | None) -> Scope:
    """The outlets a request may cover: dealer staff only ever their own dealer's."""
    own = dealer_scope(user)
    dealer_id = find_dealer(session, dealer).id if dealer else None
    if own is not None:
        if dealer_id not in (None, own):
            raise Forbidden("dealer staff see only their own dealer's figures")
        dealer_id = own
    outlet_id = find_outlet(session, outlet, dealer_id).id if outlet else None
    return Scope(dealer_id, outlet_id)


@router.get("/dashboard")
def dashboard(
    session: SessionDep, user: ChannelReader, query: Annotated[DashboardQuery, Query()]
) -> Dashboard:
    """Sales by day for the quarter to date, by dealer for the month, the top 20 outlets."""
    scope = scope_of(session, user, query.dealer, query.outlet)
    return queries.dashboard(session, query.day, scope)


def _report(
    path: str,
    title: str,
    query_type: type[BaseModel],
    row_type: type[BaseModel],
    columns: exports.Columns,
    compute: Callable[[Session, Any, Scope], Sequence[BaseModel]],
    summary: str,
) -> None:
    """Registers a report's JSON route and its CSV/XLSX export."""

    def read(session: Session, user: User, query: Any) -> Sequence[BaseModel]:
        scope = scope_of(session, user, getattr(query, "dealer", None), query.outlet)
        return compute(session, query, scope)

    def as_json(
        session: SessionDep,
        user: ChannelReader,
        query: Annotated[query_type, Query()],  # type: ignore[valid-type]
    ) -> Sequence[BaseModel]:
        return read(session, user, query)

    def as_file(
        fmt: exports.Format,
        session: SessionDep,
        user: ChannelReader,
        query: Annotated[query_type, Query()],  # type: ignore[valid-type]
    ) -> Response:
        body, media_type = exports.render(fmt, title, columns, read(session, user, query))
        return attachment(body, media_type, f"{path.strip('/')}.{fmt}")

    name = path.strip("/").replace("-", "_")
    router.add_api_route(
        path,
        as_json,
        methods=["GET"],
        response_model=list[row_type],  # type: ignore[valid-type]
        summary=summary,
        name=name,
    )
    router.add_api_route(
        f"{path}/{{fmt}}",
        as_file,
        methods=["GET"],
        response_class=Response,
        responses={200: {"content": {"text/csv": {}, exports.XLSX_TYPE: {}}}},
        summary=f"{summary} (CSV or XLSX)",
        name=f"{name}_export",
    )


_FIGURES = (
    ("销量", "sold_count"),
    ("销售额(分)", "sold_fen"),
    ("结算额(分)", "dealer_fen"),
    ("退货量", "returned_count"),
    ("退货额(分)", "returned_fen"),
    ("净销量", "net_count"),
    ("净销售额(分)", "net_fen"),
    ("退货率", "return_rate"),
    ("退货结算额(分)", "returned_dealer_fen"),
    ("净结算额(分)", "net_dealer_fen"),
)

_report(
    "/sales",
    "销售统计",
    SalesQuery,
    SalesRow,
    (("期间", "period"), ("编码", "key"), ("名称", "name"), *_FIGURES),
    lambda session, query, scope: queries.sales(session, query, scope),
    "Sales by day, week or month, in total or by dealer, outlet, product or grade",
)
_report(
    "/dealer-ranking",
    "代理商排名",
    RankingQuery,
    RankingRow,
    (("名次", "rank"), ("代理商", "code"), ("名称", "name"), ("网点数", "outlets"), *_FIGURES),
    lambda session, query, scope: queries.dealer_ranking(
        session, query.start, query.end, scope, query.limit
    ),
    "Dealers by net sales",
)
_report(
    "/top-outlets",
    "网点排名",
    RankingQuery,
    RankingRow,
    (("名次", "rank"), ("网点", "code"), ("名称", "name"), ("代理商", "dealer_code"), *_FIGURES),
    lambda session, query, scope: queries.top_outlets(
        session, query.start, query.end, scope, query.limit
    ),
    "Outlets by net sales",
)
_report(
    "/vouchers",
    "充值卡激活与兑换",
    VoucherQuery,
    VoucherRow,
    (
        ("期间", "period"),
        ("激活张数", "activated_count"),
        ("激活面值(分)", "activated_fen"),
        ("退货张数", "returned_count"),
        ("兑换张数", "redeemed_count"),
        ("兑换面值(分)", "redeemed_fen"),
        ("兑换率", "redemption_rate"),
    ),
    lambda session, query, scope: queries.vouchers(
        session, query.start, query.end, query.grain, scope
    ),
    "Top-up cards activated and redeemed",
)
_report(
    "/stock",
    "库存与库龄",
    StockQuery,
    StockRow,
    (
        ("网点", "outlet_code"),
        ("名称", "outlet_name"),
        ("代理商", "dealer_code"),
        ("类别", "item_kind"),
        ("在库", "on_hand"),
        ("已预占", "reserved"),
        ("0-30天", "days_0_30"),
        ("31-60天", "days_31_60"),
        ("61-90天", "days_61_90"),
        ("90天以上", "days_over_90"),
        ("最长库龄(天)", "oldest_days"),
        ("平均库龄(天)", "average_days"),
    ),
    lambda session, query, scope: queries.stock(session, scope),
    "Stock on hand and its age per outlet",
)
_report(
    "/sell-through",
    "售罄率",
    Range,
    SellThroughRow,
    (
        ("网点", "outlet_code"),
        ("名称", "outlet_name"),
        ("代理商", "dealer_code"),
        ("类别", "item_kind"),
        ("到货", "received"),
        ("售出", "sold"),
        ("退货", "returned"),
        ("在库", "on_hand"),
        ("售罄率", "sell_through"),
    ),
    lambda session, query, scope: queries.sell_through(session, query.start, query.end, scope),
    "Sell-through per outlet: sold against received",
)
_report(
    "/shift-cash",
    "交班现金差异",
    ShiftCashQuery,
    ShiftCashRow,
    (
        ("网点", "outlet_code"),
        ("名称", "outlet_name"),
        ("营业员", "clerk"),
        ("班次", "shifts"),
        ("有差异班次", "shifts_with_difference"),
        ("应有现金(分)", "expected_cash_fen"),
        ("实点现金(分)", "counted_cash_fen"),
        ("差额(分)", "difference_fen"),
        ("最大短款(分)", "largest_shortage_fen"),
        ("无销售开钱箱", "no_sale_openings"),
    ),
    lambda session, query, scope: queries.shift_cash(
        session, query.start, query.end, scope, query.clerk
    ),
    "Shift cash differences and no-sale drawer openings per outlet and clerk",
)
