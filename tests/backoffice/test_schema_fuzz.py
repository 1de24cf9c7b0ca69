"""Schemathesis against the app's own OpenAPI schema: every operation, as an administrator, as
a counter clerk (the least-privileged user) and as a terminal, on SQLite and PostgreSQL. No
answer may be a server error, and every documented answer must match its schema.

The number of examples per operation is small so that the whole run stays near two minutes;
Hypothesis's generation still covers each operation's parameters, bodies and their edges
(NUL bytes, huge integers, empty and over-long strings), and a seeded world (a dealer, an
outlet, a terminal, numbers and cards in the pool) lets requests reach past the lookups."""

import time
from collections.abc import Callable

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlmodel import Session

from backoffice.core.config import Settings
from backoffice.core.crypto import pin_cipher
from backoffice.domain.users import Role
from tests.backoffice.channel.helpers import channel, pool

# Examples per operation and identity; with about 130 operations, three identities and two
# databases this keeps the run near two minutes on a 2-core machine.
EXAMPLES = 8
CHECKS = [not_a_server_error, response_schema_conformance]


@pytest.fixture
def identities(
    session: Session, settings: Settings, login: Callable[[Role], dict[str, str]]
) -> dict[str, dict[str, str]]:
    pool(session, end=199, cards=20, cipher=pin_cipher(settings))
    shop = channel(session)
    return {
        "admin": login(Role.admin),
        "clerk": login(Role.clerk),
        "terminal": {"Authorization": f"Bearer {shop.credential}"},
    }


def _answering_500(app: Callable, crashes: list[str]) -> Callable:  # type: ignore[type-arg]
    """The app as a server runs it: Starlette answers 500 and re-raises for test clients; the
    exception is kept for the report instead of ending the run."""

    async def app_with_500(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        try:
            await app(scope, receive, send)
        except Exception as error:
            crashes.append(f"{scope.get('method')} {scope.get('path')}: {error!r}"[:600])

    return app_with_500


def test_no_operation_answers_a_server_error_or_off_schema(
    client: TestClient, identities: dict[str, dict[str, str]]
) -> None:
    crashes: list[str] = []
    schema = schemathesis.openapi.from_asgi("/openapi.json", _answering_500(client.app, crashes))
    # Log-out last: it ends the session it is called with, and the rest needs the sessions.
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda operation: operation.path == "/api/v1/auth/logout",
    )
    assert len(operations) > 100
    failures: list[str] = []
    started = time.monotonic()
    for operation in operations:
        for who, headers in identities.items():

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy())
            def probe(case) -> None:  # type: ignore[no-untyped-def]
                # Run at once, inside this iteration: the loop variable is the one meant. What
                # is checked is the answer, not its speed (a generated card batch may be large
                # and the machine busy): no 10-second client timeout.
                answer = case.call(headers=headers, timeout=300)  # noqa: B023
                case.validate_response(answer, checks=CHECKS)

            try:
                probe()
            except (Exception, BaseExceptionGroup) as error:  # each operation's failure, reported
                parts = getattr(error, "exceptions", [error])
                failures.append(
                    f"{who} {operation.label}: " + " | ".join(str(p)[:400] for p in parts)
                )
    elapsed = time.monotonic() - started
    assert not failures, (
        f"{len(failures)} failures in {elapsed:.0f} s:\n"
        + "\n\n".join(failures[:20])
        + "\n\nserver errors:\n"
        + "\n".join(sorted(set(crashes))[:40])
    )
