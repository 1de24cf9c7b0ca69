"""Allocation by rule, credit limit, delivery note PDF, receipt with discrepancies, returns,
transfers and stock counts."""

import pypdfium2
import pytest
import zxingcpp
from pydantic import ValidationError
from sqlmodel import Session, select

from backoffice.contracts.channel import (
    AllocationRequest,
    AllocationRule,
    DiscrepancyResolution,
    ItemsIn,
    OutletCreate,
    TransferIn,
)
from backoffice.domain.channel import AllocationOrder
from backoffice.models import AuditEntry, MobileNumber, SimCard, Voucher
from backoffice.services.billing import numbers, sims
from backoffice.services.channel import allocation, dealers, delivery_note, movements, receipts
from backoffice.services.errors import Conflict, InvalidInput
from tests.backoffice.channel.helpers import (
    allocate_numbers,
    channel,
    pool,
    push,
    sale_event,
    stocked_numbers,
)
from tests.backoffice.helpers import csv_bytes, iccid


def _status(session: Session, msisdn: str) -> tuple[str, str | None]:
    row = session.get(MobileNumber, msisdn)
    assert row is not None
    session.refresh(row)
    return row.status, row.outlet_id


def _grade_counts(session: Session) -> dict[str, int]:
    return numbers.batch_detail(session, "SEG-A").grade_counts


def test_allocation_by_rule_moves_numbers_and_cards_and_charges_the_dealer(
    session: Session,
) -> None:
    pool(session, cards=30)
    shop = channel(session)
    g3_available = _grade_counts(session)["G3"]
    request = AllocationRequest(
        outlet=shop.outlet_code,
        rules=[
            AllocationRule(item_kind="number", count=20, grade="STD"),
            AllocationRule(item_kind="number", count=2, grade="G3"),
            AllocationRule(item_kind="voucher", count=10, face_value_fen=5000),
        ],
    )
    document = allocation.allocate(session, request, "sales1")
    assert document.kind == "DN" and document.status == "allocated"
    assert g3_available >= 2
    held = movements.outlet_stock(session, shop.outlet_code)
    assert {(i.item_kind, i.product) for i in held} == {
        ("number", "number:STD"),
        ("number", "number:G3"),
        ("voucher", "voucher:5000"),
    }
    assert len(held) == 32 and {i.status for i in held} == {"allocated"}
    assert sum(line.item_count for line in document.lines) == 32
    # Version 1 prices: STD 50 yuan, G3 600 yuan passed through; ¥50 cards at 48.50.
    assert document.charge_fen == 20 * 5_000 + 2 * 60_000 + 10 * 4_850
    assert dealers.owed(session, shop.dealer_id) == document.charge_fen
    audit = session.exec(select(AuditEntry).where(AuditEntry.document_id == document.id)).all()
    assert sorted(a.item_count for a in audit) == [2, 10, 20]


def test_allocation_over_the_credit_limit_is_refused_and_moves_nothing(session: Session) -> None:
    pool(session)
    shop = channel(session, credit_limit_fen=5_000 * 10)
    allocate_numbers(session, shop.outlet_code, 10)
    with pytest.raises(Conflict, match="credit limit") as refused:
        allocate_numbers(session, shop.outlet_code, 1)
    assert refused.value.code == "credit_limit_exceeded"
    assert len(movements.outlet_stock(session, shop.outlet_code)) == 10
    assert dealers.owed(session, shop.dealer_id) == 50_000


def test_allocation_short_of_stock_is_all_or_nothing(session: Session) -> None:
    pool(session, end=99)
    shop = channel(session)
    with pytest.raises(Conflict, match="only") as refused:
        allocation.allocate(
            session,
            AllocationRequest(
                outlet=shop.outlet_code,
                rules=[
                    AllocationRule(item_kind="number", count=5, grade="STD"),
                    AllocationRule(item_kind="number", count=500, grade="STD"),
                ],
            ),
            "sales1",
        )
    assert refused.value.code == "insufficient_stock"
    assert movements.outlet_stock(session, shop.outlet_code) == []
    assert dealers.owed(session, shop.dealer_id) == 0


def test_allocation_cannot_be_hand_picked(session: Session) -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        AllocationRule.model_validate(
            {"item_kind": "number", "count": 1, "grade": "G1", "items": ["13905758888"]}
        )
    with pytest.raises(ValidationError, match="Extra inputs"):
        AllocationRequest.model_validate(
            {"outlet": "X", "rules": [], "msisdn": "13905758888", "order": "in_order"}
        )
    pool(session)
    shop = channel(session)
    lowest_standard = session.exec(
        select(MobileNumber.msisdn)
        .where(MobileNumber.grade_code == "STD")
        .order_by(MobileNumber.msisdn)
        .limit(1)
    ).one()
    in_order = allocate_numbers(session, shop.outlet_code, 5)
    assert in_order.lines[0].first_item == lowest_standard
    in_order_items = {i.item for i in movements.outlet_stock(session, shop.outlet_code)}
    assert len(in_order_items) == 5
    lowest_fifty = set(
        session.exec(
            select(MobileNumber.msisdn)
            .where(MobileNumber.status == "available")
            .where(MobileNumber.grade_code == "STD")
            .order_by(MobileNumber.msisdn)
            .limit(50)
        )
    )
    random = allocate_numbers(session, shop.outlet_code, 50, order=AllocationOrder.random)
    picked = {i.item for i in movements.outlet_stock(session, shop.outlet_code)} - in_order_items
    assert len(picked) == sum(line.item_count for line in random.lines) == 50
    assert picked != lowest_fifty


def test_unknown_grade_and_wrong_rule_shape_name_the_rule(session: Session) -> None:
    shop = channel(session)
    with pytest.raises(InvalidInput, match=r"rules\[0\]: unknown grade 'G9'"):
        allocate_numbers(session, shop.outlet_code, 1, grade="G9")
    with pytest.raises(InvalidInput, match=r"rules\[0\]: a card rule needs face_value_fen"):
        allocation.allocate(
            session,
            AllocationRequest(
                outlet=shop.outlet_code, rules=[AllocationRule(item_kind="voucher", count=1)]
            ),
            "sales1",
        )


def test_receipt_reports_missing_and_unexpected_items(session: Session) -> None:
    pool(session)
    shop = channel(session)
    document = allocate_numbers(session, shop.outlet_code, 10)
    sent = [i.item for i in movements.outlet_stock(session, shop.outlet_code)]
    stranger = "13905750999"
    result = receipts.receive(session, document.number, [*sent[:8], stranger], "clerk")
    assert result.received == 8
    found = {(d.kind, d.item_key) for d in result.discrepancies}
    assert found == {("missing", sent[8]), ("missing", sent[9]), ("unexpected", stranger)}
    assert result.document.status == "discrepancy"
    assert _status(session, sent[0]) == ("in_stock", shop.outlet_id)
    assert _status(session, sent[9]) == ("allocated", shop.outlet_id)
    assert _status(session, stranger) == ("available", None)
    with pytest.raises(Conflict, match="already received"):
        receipts.receive(session, document.number, sent, "clerk")

    by_item = {d.item_key: d.id for d in result.discrepancies}
    receipts.resolve_discrepancy(
        session, by_item[sent[8]], DiscrepancyResolution(resolution="received"), "sales1"
    )
    receipts.resolve_discrepancy(
        session, by_item[sent[9]], DiscrepancyResolution(resolution="returned_to_pool"), "sales1"
    )
    with pytest.raises(InvalidInput, match="unexpected item can be resolved as noted"):
        receipts.resolve_discrepancy(
            session, by_item[stranger], DiscrepancyResolution(resolution="received"), "sales1"
        )
    assert _status(session, sent[8]) == ("in_stock", shop.outlet_id)
    assert _status(session, sent[9]) == ("available", None)
    assert dealers.owed(session, shop.dealer_id) == 9 * 5_000
    assert [d.item_key for d in receipts.list_discrepancies(session)] == [stranger]


def test_receipt_of_another_outlets_document_is_refused(session: Session) -> None:
    pool(session)
    shop = channel(session)
    document = allocate_numbers(session, shop.outlet_code, 2)
    other = dealers.create_outlet(
        session, OutletCreate(dealer="D1", code="D1-O2", name="second"), "sales1"
    )
    with pytest.raises(Conflict) as refused:
        receipts.receive(session, document.number, [], "clerk", outlet_scope=other.id)
    assert refused.value.code == "document_not_for_outlet"


def test_return_to_centre_credits_the_dealer_and_refuses_foreign_items(session: Session) -> None:
    pool(session)
    shop = channel(session)
    held = stocked_numbers(session, shop.outlet_code, 5)
    with pytest.raises(Conflict, match="1 item") as refused:
        movements.return_to_centre(
            session, ItemsIn(outlet=shop.outlet_code, items=[held[0], "13905750900"]), "sales1"
        )
    assert refused.value.code == "item_not_in_outlet_stock"
    assert _status(session, held[0]) == ("in_stock", shop.outlet_id)
    document = movements.return_to_centre(
        session, ItemsIn(outlet=shop.outlet_code, items=held[:2]), "sales1"
    )
    assert document.kind == "RT" and document.charge_fen == -2 * 5_000
    assert _status(session, held[0]) == ("available", None)


def test_transfer_is_in_transit_until_received(session: Session) -> None:
    pool(session)
    shop = channel(session)
    other = dealers.create_outlet(
        session, OutletCreate(dealer="D1", code="D1-O2", name="second"), "sales1"
    )
    held = stocked_numbers(session, shop.outlet_code, 3)
    document = movements.transfer(
        session, TransferIn(from_outlet=shop.outlet_code, to_outlet="D1-O2", items=held), "s1"
    )
    assert _status(session, held[0]) == ("allocated", other.id)
    row = session.get(MobileNumber, held[0])
    assert row is not None and row.prev_outlet_id == shop.outlet_id
    result = receipts.receive(session, document.number, held, "clerk", outlet_scope=other.id)
    assert result.received == 3 and result.discrepancies == []
    assert _status(session, held[2]) == ("in_stock", other.id)


def test_stock_count_reports_missing_and_unexpected(session: Session) -> None:
    pool(session, cards=5)
    shop = channel(session)
    held = stocked_numbers(session, shop.outlet_code, 4)
    result = movements.stock_count(
        session, shop.outlet_code, [*held[:3], "13905750999", "10575000000000001"], "clerk"
    )
    assert result.counted == 5
    assert result.missing == [held[3]]
    assert result.unexpected == ["13905750999", "10575000000000001"]
    assert len(receipts.list_discrepancies(session)) == 3
    with pytest.raises(InvalidInput, match="'12345' is neither"):
        movements.stock_count(session, shop.outlet_code, ["12345"], "clerk")


def test_delivery_note_pdf_barcodes_decode_to_document_and_items(session: Session) -> None:
    pool(session, cards=20)
    shop = channel(session)
    document = allocation.allocate(
        session,
        AllocationRequest(
            outlet=shop.outlet_code,
            rules=[
                AllocationRule(item_kind="number", count=30, grade="STD"),
                AllocationRule(item_kind="voucher", count=20, face_value_fen=5000),
            ],
            order=AllocationOrder.in_order,
        ),
        "sales1",
    )
    pdf = delivery_note.render_delivery_note(session, document.number)
    assert pdf.startswith(b"%PDF")
    decoded: set[str] = set()
    page_sizes = []
    for page in pypdfium2.PdfDocument(pdf):
        page_sizes.append((round(page.get_width()), round(page.get_height())))
        image = page.render(scale=4).to_pil()
        decoded |= {b.text for b in zxingcpp.read_barcodes(image)}
    assert set(page_sizes) == {(595, 842)}  # A4 in points
    expected = {document.number}
    for line in document.lines:
        expected |= {line.first_item, line.last_item}
    assert expected <= decoded
    voucher = session.get(Voucher, "10575000000000001")
    assert voucher is not None and voucher.status == "allocated"


def test_paired_sim_cards_travel_with_their_numbers(session: Session) -> None:
    pool(session, end=99)
    sims.import_sims(
        session,
        csv_bytes("iccid,imsi", *(f"{iccid(n)},46000571{n:07d}" for n in range(100))),
        "sims.csv",
        "billing1",
        code="SIM-A",
    )
    sims.pair_in_order(session, "SEG-A", "SIM-A", "billing1")
    shop = channel(session)
    first, second = stocked_numbers(session, shop.outlet_code, 2)

    def sim_of(msisdn: str) -> tuple[str, str | None]:
        sim = session.exec(select(SimCard).where(SimCard.msisdn == msisdn)).one()
        session.refresh(sim)
        return sim.status, sim.outlet_id

    assert sim_of(first) == ("in_stock", shop.outlet_id)
    (sold,) = push(session, shop, sale_event(shop.terminal_no, 1, [("number", first, 5_000)]))
    assert sold.status == "accepted"
    assert sim_of(first) == ("sold", shop.outlet_id)
    movements.return_to_centre(session, ItemsIn(outlet=shop.outlet_code, items=[second]), "s1")
    assert sim_of(second) == ("in_warehouse", None)
