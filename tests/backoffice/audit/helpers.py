"""Writing audit rows for the chain tests, and tampering with them the way an intruder with
full database access would: around the triggers."""

from sqlalchemy import text
from sqlmodel import Session, col, select

from backoffice.models import AuditEntry
from backoffice.services import audit


def write(session: Session, count: int, actor: str = "sales1") -> list[str]:
    """`count` audit rows in one transaction, as a service writes them; their ids."""
    ids = [
        audit.record(
            session,
            actor=actor,
            entity_type="dealer",
            entity_id=f"D{n}",
            action="status",
            from_status="active",
            to_status="suspended",
            reason=f"说明 {n}",
        ).id
        for n in range(count)
    ]
    session.commit()
    return ids


def chain_rows(session: Session) -> list[AuditEntry]:
    session.expire_all()
    return list(session.exec(select(AuditEntry).order_by(col(AuditEntry.seq))))


def tamper(session: Session, *statements: str) -> None:
    """Runs statements with the audit log's triggers out of the way: on PostgreSQL as a
    superuser in replica mode, on SQLite by dropping and recreating them (file access)."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for statement in statements:
            connection.exec_driver_sql(statement)
        session.commit()
        return
    triggers = connection.execute(
        text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"),
        {"t": "audit_entry"},
    ).all()
    for name, _ in triggers:
        connection.exec_driver_sql(f"DROP TRIGGER {name}")
    for statement in statements:
        connection.exec_driver_sql(statement)
    for _, sql in triggers:
        connection.exec_driver_sql(sql)
    session.commit()
