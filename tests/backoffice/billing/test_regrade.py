"""Regrading after the grading rules change: the numbers still in the billing centre take their
new grade, allocated ones keep theirs (over HTTP, SQLite and PostgreSQL)."""

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from backoffice.contracts.billing import SegmentRequest
from backoffice.domain.users import Role
from backoffice.models import MobileNumber
from backoffice.services.billing import numbers
from tests.backoffice.channel.helpers import allocate_numbers, channel, pool


def _grades(session: Session, *msisdns: str) -> dict[str, tuple[str, int]]:
    session.expire_all()
    rows = session.exec(
        select(MobileNumber.msisdn, MobileNumber.grade_code, MobileNumber.version).where(
            MobileNumber.msisdn.in_(msisdns)  # type: ignore[attr-defined]
        )
    ).all()
    return {m: (g, v) for m, g, v in rows}


def test_regrade_after_a_rule_change_moves_only_numbers_still_in_the_centre(
    client: TestClient, session: Session, login: Callable[[Role], dict[str, str]]
) -> None:
    pool(session, end=199)  # released to the channel pool: available
    shop = channel(session)
    allocate_numbers(session, shop.outlet_code, 1, grade="G4")  # the first ...x88-like tail
    allocated = session.exec(
        select(MobileNumber.msisdn).where(MobileNumber.status == "allocated")
    ).one()
    numbers.generate_segment(
        session, SegmentRequest(prefix="1390576", start=0, end=199, code="NEW"), "billing1"
    )  # imported, not released
    admin = login(Role.admin)
    rules = client.get("/api/v1/grading-rules", headers=admin).json()
    assert any(r["grade_code"] == "G4" for r in rules)
    # Pairs with 6/8/9 are no longer a grade of their own: standard from now on.
    changed = [
        {k: r[k] for k in ("name", "pattern", "grade_code", "active")}
        | ({"grade_code": "STD"} if r["grade_code"] == "G4" else {})
        for r in rules
    ]
    assert client.put("/api/v1/grading-rules", json=changed, headers=admin).status_code == 200

    before = _grades(session, "13905750188", "13905760188", allocated)
    reply = client.post("/api/v1/grading-rules/regrade", headers=admin)
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert result["changed"] > 0 and result["examined"] >= 200 + 200 - 1
    after = _grades(session, "13905750188", "13905760188", allocated)
    for pooled in ("13905750188", "13905760188"):  # available in the pool; imported
        assert before[pooled][0] == "G4"
        assert after[pooled] == ("STD", before[pooled][1] + 1)
    assert after[allocated] == before[allocated]  # the dealer's deal stands
    again = client.post("/api/v1/grading-rules/regrade", headers=admin).json()
    assert again["changed"] == 0
