"""The sync wire contracts: envelopes, payload validation, results."""

from datetime import UTC, datetime

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.codes import format_receipt_number, resident_id_check_char
from shared.ids import new_id
from shared.sync import (
    Event,
    EventResult,
    EventStatus,
    PushRequest,
    PushResponse,
    RejectReason,
    ReserveRequest,
    SaleEvent,
    ShiftOpenEvent,
)

EVENT = TypeAdapter(Event)
ID_BODY = "33060219900101123"


def _sale(**changes: object) -> dict[str, object]:
    payload: dict[str, object] = {
        "sale_id": new_id(),
        "receipt_no": format_receipt_number(7, 42),
        "clerk": "clerk1",
        "lines": [
            {
                "item_kind": "number",
                "item": "13905750001",
                "product": "number:STD",
                "price_fen": 5000,
                "price_list_version": 1,
            }
        ],
        "payments": [{"method": "cash", "amount_fen": 5000}],
        "customer": {"name": "张三", "resident_id": ID_BODY + resident_id_check_char(ID_BODY)},
    }
    payload.update(changes)
    return {
        "id": new_id(),
        "seq": 1,
        "occurred_at": datetime.now(UTC).isoformat(),
        "type": "sale",
        "payload": payload,
    }


def test_events_round_trip_through_json_by_their_type() -> None:
    sale = EVENT.validate_python(_sale())
    assert isinstance(sale, SaleEvent)
    assert EVENT.validate_json(EVENT.dump_json(sale)) == sale
    shift = EVENT.validate_python(
        {
            "id": new_id(),
            "seq": 2,
            "occurred_at": "2026-11-23T08:00:00+08:00",
            "type": "shift_open",
            "payload": {"shift_id": new_id(), "clerk": "c", "opening_float_fen": 0},
        }
    )
    assert isinstance(shift, ShiftOpenEvent)


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"id": "3f1e5d8a-0000-4000-8000-000000000000"}, "id"),
        ({"occurred_at": "2026-11-23T08:00:00"}, "occurred_at"),
        ({"seq": 0}, "seq"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_envelopes_name_the_field(change: dict[str, object], where: str) -> None:
    with pytest.raises(ValidationError) as bad:
        EVENT.validate_python({**_sale(), **change})
    assert where in str(bad.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"receipt_no": "S0000070000000420"}, "check digit"),
        ({"customer": {"name": "x", "resident_id": ID_BODY + "0"}}, "check character"),
        ({"payments": []}, "at least 1"),
        (
            {
                "lines": [
                    {
                        "item_kind": "number",
                        "item": "123",
                        "product": "number:STD",
                        "price_fen": 1,
                        "price_list_version": 1,
                    }
                ]
            },
            "item",
        ),
    ],
)
def test_bad_payloads_are_refused(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        EVENT.validate_python(_sale(**change))


def test_push_request_limits_and_result_reasons() -> None:
    with pytest.raises(ValidationError):
        PushRequest(events=[])
    result = EventResult(
        id=new_id(), seq=1, status=EventStatus.rejected, reason=RejectReason.item_already_sold
    )
    assert result.model_dump(mode="json")["reason"] == "item_already_sold"


def test_answers_tolerate_fields_a_newer_back_office_adds_but_requests_do_not() -> None:
    result = EventResult.model_validate(
        {"id": "e1", "seq": 1, "status": "accepted", "settled_on": "2026-11-01"}
    )
    assert result.status is EventStatus.accepted
    reply = PushResponse.model_validate_json(
        '{"results": [{"id": "e1", "seq": 1, "status": "accepted", "hint": "x"}], "took_ms": 3}'
    )
    assert [r.id for r in reply.results] == ["e1"]
    with pytest.raises(ValidationError, match="extra_field"):
        ReserveRequest.model_validate({"msisdn": "13905750001", "clerk": "wang", "extra_field": 1})
