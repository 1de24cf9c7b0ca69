"""The activation outbox as the administrators' page reads it: counts per status that stop
at a cap, keyset pages per view, and the retry of every failed delivery at once, audited."""

from datetime import timedelta

from sqlmodel import Session, col, select

from backoffice.models import ActivationOutbox, AuditEntry
from backoffice.models.types import utcnow
from backoffice.services.counter import activations
from shared.ids import new_id


def _entries(session: Session, statuses: list[str]) -> list[ActivationOutbox]:
    now = utcnow()
    rows = []
    for n, outbox_status in enumerate(statuses):
        failing = outbox_status == "failed" or (outbox_status == "pending" and n % 2)
        row = ActivationOutbox(
            id=new_id(),
            msisdn=f"1390000{n:04d}",
            sale_id=new_id(),
            payload="{}",
            status=outbox_status,
            attempts=12 if outbox_status == "failed" else int(failing),
            next_attempt_at=now + timedelta(minutes=5),
            last_error="HTTP 503" if failing else None,
        )
        session.add(row)
        rows.append(row)
    session.commit()
    return rows


def test_counts_per_view_stop_at_the_cap(session: Session) -> None:
    _entries(session, ["pending", "pending", "failed", "delivered", "delivered", "delivered"])
    counts = activations.view_counts(session)
    assert counts == {
        "pending": 2,
        "delivered": 3,
        "failed": 1,
        "cancelled": 0,
        "retrying": 1,
    }
    # Past the cap a count says only "more than the cap".
    assert activations.view_counts(session, cap=2)["delivered"] == 3
    assert activations.view_counts(session, cap=1)["delivered"] == 2
    assert activations.oldest_pending_at(session) is not None


def test_pages_per_view_newest_first(session: Session) -> None:
    rows = _entries(session, ["failed"] * 5 + ["delivered"] * 2)
    failed = sorted((r.id for r in rows if r.status == "failed"), reverse=True)
    first, after = activations.entries_page(session, "failed", None, 3)
    second, end = activations.entries_page(session, "failed", after, 3)
    assert [r.id for r in first + second] == failed
    assert end is None
    every, _ = activations.entries_page(session, None, None, 50)
    assert len(every) == 7
    retrying, _ = activations.entries_page(session, activations.RETRYING, None, 50)
    assert retrying == []


def test_retry_failed_requeues_each_failed_entry_once_and_audits_it(session: Session) -> None:
    rows = _entries(session, ["failed", "failed", "pending", "delivered"])
    assert activations.retry_failed(session, "admin1") == 2
    session.expire_all()
    after = {r.id: session.get(ActivationOutbox, r.id) for r in rows}
    for row in rows[:2]:
        entry = after[row.id]
        assert entry is not None
        assert (entry.status, entry.attempts) == ("pending", 0)
        assert entry.next_attempt_at <= utcnow()
    assert after[rows[3].id].status == "delivered"  # type: ignore[union-attr]
    audited = session.exec(
        select(AuditEntry)
        .where(AuditEntry.action == "activation_retry")
        .order_by(col(AuditEntry.entity_id))
    ).all()
    assert [(a.actor, a.entity_type, a.entity_id) for a in audited] == [
        ("admin1", "number", rows[0].msisdn),
        ("admin1", "number", rows[1].msisdn),
    ]
    assert {a.reason for a in audited} == {f"activation {r.id}" for r in rows[:2]}
    # Nothing failed any more: a second retry moves nothing.
    assert activations.retry_failed(session, "admin1") == 0
