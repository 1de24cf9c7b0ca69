"""A dealer's product range: which products (numbers, SIM starter packs, top-up cards) and
which number grades it may sell. A dealer without a row may sell everything; stock reaches a
dealer only by allocation, which asks `check_rule` before it picks anything."""

from collections.abc import Sequence

from sqlmodel import Session, col, select

from backoffice.contracts.channel import RANGE_PRODUCTS, ProductRange
from backoffice.core.i18n import N_
from backoffice.models import Dealer, NumberGrade
from backoffice.models.channel import DealerProductRange
from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.errors import Conflict, InvalidInput

EVERYTHING = ProductRange()


def _public(row: DealerProductRange | None) -> ProductRange:
    if row is None:
        return EVERYTHING
    chosen = {"numbers": row.numbers, "sim_packs": row.sim_packs, "vouchers": row.vouchers}
    return ProductRange(
        products=[p for p in RANGE_PRODUCTS if chosen[p]],
        grades=None if row.grades is None else [g for g in row.grades.split(",") if g],
    )


def range_of(session: Session, dealer_id: str) -> ProductRange:
    return _public(session.get(DealerProductRange, dealer_id))


def ranges_by_dealer(session: Session, dealer_ids: Sequence[str]) -> dict[str, ProductRange]:
    """The ranges of these dealers (everything for those without a row)."""
    rows = session.exec(
        select(DealerProductRange).where(col(DealerProductRange.dealer_id).in_(dealer_ids))
    )
    found = {row.dealer_id: _public(row) for row in rows}
    return {d: found.get(d, EVERYTHING) for d in dealer_ids}


def describe(product_range: ProductRange) -> str:
    """The range in a line of the audit log."""
    grades = "all" if product_range.grades is None else ",".join(product_range.grades) or "none"
    return f"products {','.join(product_range.products) or 'none'}; grades {grades}"


def set_range(session: Session, dealer: Dealer, wanted: ProductRange, actor: str) -> None:
    """Stores the dealer's range with its audit row, in the caller's transaction; refuses a
    grade that does not exist."""
    grades = None
    if wanted.grades is not None:
        grades = sorted(set(wanted.grades))
        known = set(session.exec(select(NumberGrade.code).where(col(NumberGrade.code).in_(grades))))
        unknown = [g for g in grades if g not in known]
        if unknown:
            raise InvalidInput(
                N_("Unknown number grade %(grade)s."),
                code="unknown_grade",
                params={"grade": ", ".join(unknown)},
            )
    before = range_of(session, dealer.id)
    row = session.get(DealerProductRange, dealer.id) or DealerProductRange(
        dealer_id=dealer.id, updated_by=actor
    )
    row.numbers = "numbers" in wanted.products
    row.sim_packs = "sim_packs" in wanted.products
    row.vouchers = "vouchers" in wanted.products
    row.grades = None if grades is None else ",".join(grades)
    row.updated_by = actor
    row.updated_at = utcnow()
    session.add(row)
    after = _public(row)
    if after != before:
        audit.record(
            session,
            actor=actor,
            entity_type="dealer",
            entity_id=dealer.id,
            action="product_range",
            reason=f"{describe(before)} → {describe(after)}",
        )


def check_rule(session: Session, dealer: Dealer, item_kind: str, grade: str | None) -> None:
    """Refuses stock the dealer may not sell: numbers (or their grade), or top-up cards."""
    allowed = range_of(session, dealer.id)
    if item_kind == "number":
        if "numbers" not in allowed.products:
            raise Conflict(
                N_("Dealer %(dealer)s may not sell numbers: they are outside its product range."),
                code="outside_product_range",
                params={"dealer": dealer.code},
            )
        if allowed.grades is not None and grade not in allowed.grades:
            raise Conflict(
                N_(
                    "Dealer %(dealer)s may not sell numbers of grade %(grade)s: the grade is "
                    "outside its product range."
                ),
                code="outside_product_range",
                params={"dealer": dealer.code, "grade": grade},
            )
    elif item_kind == "voucher" and "vouchers" not in allowed.products:
        raise Conflict(
            N_("Dealer %(dealer)s may not sell top-up cards: they are outside its product range."),
            code="outside_product_range",
            params={"dealer": dealer.code},
        )
