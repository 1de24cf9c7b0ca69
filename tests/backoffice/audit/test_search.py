"""Searching the audit log (the administrators' page and its exports): every filter, keyset
pages that cover the search exactly once newest first, names people know things by, and
reasons shown without a resident ID number in clear."""

from datetime import timedelta

from sqlmodel import Session

from backoffice.models.types import utcnow
from backoffice.services import audit
from backoffice.services.audit import AuditSearch
from tests.backoffice.users.helpers import make_user


def _write(session: Session, rows: list[dict[str, str]]) -> list[str]:
    ids = []
    for values in rows:
        ids.append(
            audit.record(
                session,
                actor=values.get("actor", "billing1"),
                entity_type=values.get("entity_type", "number"),
                entity_id=values.get("entity_id", "13900000001"),
                action=values.get("action", "freeze"),
                document_id=values.get("document_id"),
                reason=values.get("reason"),
            ).id
        )
    session.commit()
    return ids


def _ids(session: Session, wanted: AuditSearch) -> list[str]:
    rows, _ = audit.find(session, wanted, limit=1_000)
    return [r.id for r in rows]


def test_each_filter_finds_exactly_its_rows(session: Session) -> None:
    a, b, c, d, e = _write(
        session,
        [
            {"actor": "terminal:7/clerk1", "entity_id": "13900000001", "action": "sell"},
            {"actor": "terminal:7/clerk2", "entity_id": "13900000002", "action": "sell"},
            {"actor": "terminal:70/clerk1", "entity_type": "voucher", "entity_id": "V1"},
            {"actor": "a_b", "document_id": "doc-1", "entity_type": "outlet", "entity_id": "O1"},
            {"actor": "axb", "action": "activation_retry"},
        ],
    )
    number = AuditSearch(entity_type="number", entity_id="13900000001")
    assert set(_ids(session, number)) == {a, e}
    assert _ids(session, AuditSearch(entity_type="voucher")) == [c]
    assert _ids(session, AuditSearch(document_id="doc-1")) == [d]
    assert _ids(session, AuditSearch(actor="terminal:7/clerk1")) == [a]
    # A prefix ends in *: terminal 7's clerks, not terminal 70's.
    assert _ids(session, AuditSearch(actor="terminal:7/*")) == [b, a]
    # LIKE's wildcards in a prefix are taken literally.
    assert _ids(session, AuditSearch(actor="a_*")) == [d]
    assert _ids(session, AuditSearch(action="sell", actor="terminal:7/clerk2")) == [b]
    assert _ids(session, AuditSearch(action="nothing")) == []


def test_time_range_keeps_the_rows_written_in_it(session: Session) -> None:
    (first,) = _write(session, [{}])
    now = utcnow()
    assert first in _ids(session, AuditSearch(start=now - timedelta(minutes=5)))
    assert first in _ids(session, AuditSearch(end=now + timedelta(minutes=5)))
    assert first not in _ids(session, AuditSearch(end=now - timedelta(minutes=10)))
    assert first not in _ids(session, AuditSearch(start=now + timedelta(minutes=10)))
    # The id range that lets a time search read the primary key covers the rows it should.
    assert (
        audit._id_floor(now - audit.ID_TIME_SLACK)
        < first
        < audit._id_floor(now + audit.ID_TIME_SLACK)
    )


def test_keyset_pages_cover_the_search_once_newest_first(session: Session) -> None:
    ids = _write(session, [{"entity_id": "13900000009"} for _ in range(7)])
    wanted = AuditSearch(entity_type="number", entity_id="13900000009")
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        rows, after = audit.find(session, wanted, after, limit=3)
        seen += [r.id for r in rows]
        pages += 1
        if after is None:
            break
    assert seen == sorted(ids, reverse=True)
    assert pages == 3
    # An export reads the same rows a batch at a time, up to its limit.
    assert [r.id for r in audit.find_all(session, wanted)] == seen
    assert [r.id for r in audit.find_all(session, wanted, max_rows=4)] == seen[:4]


def test_entities_are_found_by_the_names_people_know_them_by(session: Session) -> None:
    user = make_user(
        session,
        "alice",
    )
    assert audit.entity_key(session, "user", "alice") == user.id
    assert audit.entity_key(session, "user", user.id) == user.id
    assert audit.entity_key(session, "user", "nobody") == "nobody"
    # The migrations seed price list version 1.
    version_one = audit.entity_key(session, "price_list", "1")
    assert version_one != "1"
    assert audit.entity_key(session, "price_list", "99999999999") == "99999999999"
    assert audit.entity_key(session, "number", "13900000001") == "13900000001"
    names = audit.entity_names(
        session, [("user", user.id), ("price_list", version_one), ("number", "139")]
    )
    assert names == {("user", user.id): "alice", ("price_list", version_one): "1"}


def test_a_resident_id_typed_into_a_reason_is_shown_masked() -> None:
    shown = audit.shown_reason("customer 330602199001011234 asked; order 12345678901234567890")
    assert "330602199001011234" not in shown
    assert "330602********1234" in shown
    # Longer digit runs (an order number) are not IDs and stay as they are.
    assert "12345678901234567890" in shown
    assert audit.shown_reason(None) == ""
