"""Builders for the users tests: users made straight through the service, log-ins over HTTP,
and the web log-in form with its CSRF token."""

import re

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from backoffice.contracts.users import UserCreate
from backoffice.domain.users import Role
from backoffice.models import AuditEntry, User
from backoffice.services import users

PASSWORD = "correct-horse-9"
ORIGIN = {"Origin": "http://testserver"}


def make_user(session: Session, username: str, role: Role = Role.billing) -> User:
    return users.create_user(
        session, UserCreate(username=username, password=PASSWORD, role=role), "test"
    )


def token_of(client: TestClient, username: str, password: str = PASSWORD) -> str:
    reply = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert reply.status_code == 200, reply.text
    return str(reply.json()["access_token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csrf_of(page: str) -> str:
    """The CSRF token of the (first) form on a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF field"
    return found.group(1)


def web_log_in(client: TestClient, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    """Posts the log-in form as the browser would after opening the log-in page."""
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        headers=ORIGIN,
        follow_redirects=False,
    )


def audit_rows(session: Session, entity_type: str, entity_id: str) -> list[AuditEntry]:
    """The audit rows of one entity, oldest first."""
    query = (
        select(AuditEntry)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id)
        .order_by(col(AuditEntry.id))
    )
    return list(session.exec(query))
