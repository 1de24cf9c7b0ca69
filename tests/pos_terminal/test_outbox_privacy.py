"""The terminal keeps the buyer's full ID number only until the back office has the sale, and
never puts it in an error that its sync loop would log."""

import traceback
from datetime import UTC, datetime

import pytest

from pos_terminal.outbox import OutboxEvent
from shared.codes import resident_id_check_char
from shared.ids import new_id
from shared.sync import EventType

GOOD_BODY = "11010519491231002"
# Right shape, wrong check character: what a stored event of an older version could hold.
BAD_ID = GOOD_BODY + ("1" if resident_id_check_char(GOOD_BODY) != "1" else "2")


def test_a_stored_event_that_no_longer_validates_fails_without_quoting_the_id() -> None:
    event = OutboxEvent(
        seq=7,
        id=new_id(),
        type=EventType.sale,
        occurred_at=datetime(2026, 12, 1, tzinfo=UTC),
        payload={
            "sale_id": new_id(),
            "receipt_no": "S0000010000000070",
            "clerk": "wang",
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
            "customer": {"name": "张三", "resident_id": BAD_ID},
        },
        status="pending",
        reason=None,
        message=None,
        attempts=0,
    )
    with pytest.raises(ValueError) as caught:
        event.to_wire()
    # What `log.exception` would write: the message and the whole traceback.
    logged = "".join(traceback.format_exception(caught.value))
    assert "stored event 7 is not valid" in logged
    assert "resident_id" in logged and "check character" in logged
    assert BAD_ID not in logged and GOOD_BODY[6:14] not in logged
