"""Allocation (配号/出库) by rule, never hand-picked: the system picks the items in one
set-based statement and charges the dealer within its credit limit."""

from sqlalchemy import func, select, update
from sqlmodel import Session

from backoffice.contracts.channel import AllocationRequest, AllocationRule, ChannelDocumentPublic
from backoffice.domain.channel import (
    IN_TRANSIT,
    AllocationOrder,
    Price,
    number_product,
    voucher_product,
)
from backoffice.models import (
    NumberGrade,
)
from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.channel.dealers import charge_dealer, find_dealer, find_outlet
from backoffice.services.channel.documents import create_document
from backoffice.services.channel.items import (
    NUMBERS,
    VOUCHERS,
    Items,
    _insert_lines,
    send_off,
)
from backoffice.services.channel.prices import prices_for_dealer
from backoffice.services.channel.product_range import check_rule
from backoffice.services.errors import Conflict, InvalidInput
from shared.codes import DocumentKind
from shared.lifecycle import (
    SimStatus,
)


def _rule_product(session: Session, index: int, rule: AllocationRule) -> tuple[Items, str, object]:
    if rule.item_kind == "number":
        if not rule.grade or rule.face_value_fen is not None:
            raise InvalidInput(f"rules[{index}]: a number rule needs grade and no face value")
        if session.get(NumberGrade, rule.grade) is None:
            raise InvalidInput(
                f"rules[{index}]: unknown grade {rule.grade!r}", code="unknown_grade"
            )
        return NUMBERS, number_product(rule.grade), rule.grade
    if rule.face_value_fen is None or rule.grade is not None:
        raise InvalidInput(f"rules[{index}]: a card rule needs face_value_fen and no grade")
    return VOUCHERS, voucher_product(rule.face_value_fen), rule.face_value_fen


def _pick(
    session: Session,
    items: Items,
    product_value: object,
    count: int,
    order: AllocationOrder,
    *,
    target: str,
    outlet_id: str,
    document_id: str,
) -> list[tuple[str, str]]:
    """One statement: the pool's first or random `count` items of the product move to the
    outlet. On PostgreSQL SKIP LOCKED lets concurrent allocations take disjoint items."""
    t = items.table
    pick = (
        select(items.key)
        .where(t.c.status == items.allocate_from)
        .where(items.product_column == product_value)
        .order_by(func.random() if order is AllocationOrder.random else items.key)
        .limit(count)
    )
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    # Both planners may rescan an IN subquery (PostgreSQL as the inner side of a semi-join),
    # and with random() every scan picks other rows; a materialized CTE runs exactly once.
    cte = pick.cte("pick").prefix_with("MATERIALIZED")
    chosen = select(cte.c[items.key.name]).scalar_subquery()
    statement = (
        update(t)
        .where(items.key.in_(chosen))
        .where(t.c.status == items.allocate_from)
        .values(
            status=target,
            outlet_id=outlet_id,
            prev_outlet_id=None,
            document_id=document_id,
            version=t.c.version + 1,
            updated_at=utcnow(),
        )
        .returning(items.key, t.c.batch_id)
    )
    return [(row[0], row[1]) for row in session.connection().execute(statement)]


def allocate(session: Session, request: AllocationRequest, actor: str) -> ChannelDocumentPublic:
    """Picks the items by rule (never by hand), charges the dealer within its credit limit,
    and writes the delivery note; all or nothing."""
    outlet = find_outlet(session, request.outlet)
    dealer = find_dealer(session, outlet.dealer_id)
    prices = prices_for_dealer(session, dealer.id)
    planned: list[tuple[Items, str, object, int, Price]] = []
    for index, rule in enumerate(request.rules):
        items, product, value = _rule_product(session, index, rule)
        check_rule(session, dealer, rule.item_kind, rule.grade)
        price = prices.get(product)
        if price is None:
            raise InvalidInput(f"rules[{index}]: {product} has no price", code="no_price")
        planned.append((items, product, value, rule.count, price))
    charge = sum(count * price.dealer_fen for *_, count, price in planned)
    document = create_document(
        session, DocumentKind.DN, actor, [], status="allocated", note=request.note
    )
    document.outlet_id = outlet.id
    session.add(document)
    session.flush()
    charge_dealer(
        session,
        dealer,
        charge,
        kind="allocation",
        actor=actor,
        document_id=document.id,
        note=f"delivery note {document.number}",
    )
    for items, product, value, count, _price in planned:
        target = IN_TRANSIT[items.kind]
        moved = _pick(
            session,
            items,
            value,
            count,
            request.order,
            target=target,
            outlet_id=outlet.id,
            document_id=document.id,
        )
        if len(moved) < count:
            session.rollback()
            raise Conflict(
                f"{product}: {count} requested, only {len(moved)} in the pool",
                code="insufficient_stock",
            )
        _insert_lines(session, document.id, items.kind, moved)
        audit.record(
            session,
            actor=actor,
            entity_type="outlet",
            entity_id=outlet.id,
            action="allocate",
            from_status=items.allocate_from,
            to_status=target,
            item_count=count,
            document_id=document.id,
            reason=f"{count} × {product} ({request.order.value}) for dealer {dealer.code}",
        )
    return send_off(session, document, [SimStatus.in_warehouse.value], outlet.id)
