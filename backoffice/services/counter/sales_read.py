"""Reading sales back for the sales centre: one sale, or a page of an outlet's sales."""

from sqlmodel import Session, col
from sqlmodel import select as sql_select

from backoffice.contracts.counter import SalePublic
from backoffice.models import (
    Sale,
    SaleLine,
)
from backoffice.services.errors import NotFound


def sale_public(session: Session, sale: Sale) -> SalePublic:
    lines = session.exec(sql_select(SaleLine).where(SaleLine.sale_id == sale.id)).all()
    return SalePublic(
        id=sale.id,
        receipt_no=sale.receipt_no,
        terminal_id=sale.terminal_id,
        outlet_id=sale.outlet_id,
        dealer_id=sale.dealer_id,
        clerk=sale.clerk,
        sold_at=sale.sold_at,
        total_fen=sale.total_fen,
        customer_name_masked=sale.customer_name_masked,
        customer_id_masked=sale.customer_id_masked,
        lines=[
            line.model_dump(
                include={
                    "item_kind",
                    "item_key",
                    "product",
                    "price_fen",
                    "list_price_fen",
                    "override_approved_by",
                    "returned_at",
                }
            )
            for line in lines
        ],
    )


def list_sales(
    session: Session,
    dealer_scope: str | None = None,
    outlet_id: str | None = None,
    limit: int = 100,
) -> list[SalePublic]:
    query = sql_select(Sale).order_by(col(Sale.sold_at).desc()).limit(limit)
    if dealer_scope is not None:
        query = query.where(Sale.dealer_id == dealer_scope)
    if outlet_id is not None:
        query = query.where(Sale.outlet_id == outlet_id)
    return [sale_public(session, s) for s in session.exec(query)]


def get_sale(session: Session, receipt_no: str, dealer_scope: str | None = None) -> SalePublic:
    sale = session.exec(sql_select(Sale).where(Sale.receipt_no == receipt_no)).first()
    if sale is None or dealer_scope not in (None, sale.dealer_id):
        raise NotFound(f"sale {receipt_no} not found", code="sale_not_found")
    return sale_public(session, sale)
