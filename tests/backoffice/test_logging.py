"""Logs never hold an ID number, a PIN, a password or a token: the engine keeps statement
parameters out of its errors, and a filter on every back-office log handler redacts what gets
through (a database's own message quoting a row, an URL, a header)."""

import io
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from backoffice.api.main import create_app
from backoffice.core import logging as logs
from backoffice.core.config import Settings
from backoffice.db import make_engine
from backoffice.models import Shift
from shared.ids import new_id
from shared.sync import CashInEvent, CashMovePayload, PushRequest
from tests.backoffice.channel.helpers import channel

RESIDENT_ID = "33060219900101123X"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f"buyer {RESIDENT_ID} at 10:00", "buyer [id redacted] at 10:00"),
        ("id=330602199001011238;", "id=[id redacted];"),
        ("ID330602199001011238", "ID[id redacted]"),
        # Masked IDs, ICCIDs (19-20 digits), receipt and card serials stay.
        ("330602********123X", "330602********123X"),
        ("89860012345678901234", "89860012345678901234"),
        ("anchor 9f123456789012345678e0", "anchor 9f123456789012345678e0"),
        ("S0000120000003455 10575000000000001", "S0000120000003455 10575000000000001"),
        (f"Authorization: Bearer {TOKEN}", "Authorization: Bearer [redacted]"),
        ("authorization: bearer abc.def-ghi_jkl", "authorization: Bearer [redacted]"),
        (f"token {TOKEN} expired", "token [jwt redacted] expired"),
        ("POST /login?user=a&password=hunter22&x=1", "POST /login?user=a&password=[redacted]&x=1"),
        ("approved with PIN=8888", "approved with PIN=[redacted]"),
        ("access_token=abc123 ok", "access_token=[redacted] ok"),
        ("{'pin': '8888', 'serial': '1'}", "{'pin': [redacted], 'serial': '1'}"),
        ('{"password": "hunter22"}', '{"password": [redacted]}'),
        ("the shipping: free", "the shipping: free"),
    ],
)
def test_redact(line: str, expected: str) -> None:
    assert logs.redact(line) == expected


def _handler() -> tuple[logging.Handler, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    handler.addFilter(logs.RedactingFilter())
    return handler, stream


def test_the_filter_redacts_messages_arguments_and_tracebacks() -> None:
    handler, stream = _handler()
    log = logging.getLogger("haoka.test.redaction")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("sale of %s refused; pin=%s", RESIDENT_ID, "7319")
        try:
            raise ValueError(f"buyer {RESIDENT_ID} with Bearer {TOKEN}")
        except ValueError:
            log.exception("round failed for %r", {"pin": "7319"})
        log.warning("%s %d", "plain", 5)
    finally:
        log.removeHandler(handler)
    out = stream.getvalue()
    assert RESIDENT_ID not in out and "7319" not in out and TOKEN not in out
    assert "sale of [id redacted] refused; pin=[redacted]" in out
    assert "ValueError: buyer [id redacted] with Bearer [redacted]" in out
    assert "plain 5" in out


def test_uvicorn_access_records_keep_their_arguments() -> None:
    # uvicorn's access formatter unpacks record.args by position.
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/api/v1/x?pin=1234&id={RESIDENT_ID}", "1.1", 200),
        None,
    )
    assert logs.RedactingFilter().filter(record)
    assert record.args == (
        "127.0.0.1:5000",
        "GET",
        "/api/v1/x?pin=[redacted]&id=[id redacted]",
        "1.1",
        200,
    )


def test_the_engine_hides_statement_parameters_in_errors(engine: Engine) -> None:
    with pytest.raises(DBAPIError) as caught, engine.connect() as connection:
        connection.execute(text("SELECT * FROM no_such_table WHERE x = :x"), {"x": RESIDENT_ID})
    assert RESIDENT_ID not in str(caught.value)
    assert "hide_parameters" in str(caught.value)


@pytest.fixture
def quiet_logging() -> Iterator[None]:
    """Puts the loggers back as they were: configuring logging replaces the root's handlers."""
    loggers = [
        logging.getLogger(),
        *(logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.access")),
    ]
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    yield
    for lg, handlers, level, propagate in saved:
        lg.handlers[:] = handlers
        lg.setLevel(level)
        lg.propagate = propagate


def test_the_worker_logging_redacts(
    quiet_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure()
    try:
        raise RuntimeError(f"delivery for {RESIDENT_ID} failed")
    except RuntimeError:
        logging.getLogger("haoka.worker").exception("worker round failed")
    err = capsys.readouterr().err
    assert "worker round failed" in err and "[id redacted]" in err
    assert RESIDENT_ID not in err


def test_the_app_redacts_through_the_handlers_it_finds(
    quiet_logging: None, settings: Settings
) -> None:
    handler = logging.StreamHandler(io.StringIO())
    logging.getLogger("uvicorn.error").addHandler(handler)
    create_app(settings)
    assert any(isinstance(f, logs.RedactingFilter) for f in handler.filters)


# --- the real server --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _refuse_cash_movements(engine: Engine) -> None:
    """Makes the database refuse every new cash movement, quoting the row where it can."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # PostgreSQL's message then says "Failing row contains (…)", the row in clear.
            connection.execute(
                text(
                    "ALTER TABLE cash_movement ADD CONSTRAINT no_cash "
                    "CHECK (amount_fen < 0) NOT VALID"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE TRIGGER no_cash BEFORE INSERT ON cash_movement "
                    "BEGIN SELECT RAISE(ABORT, 'cash movements refused'); END"
                )
            )


def test_a_database_error_with_an_id_and_a_pin_leaves_neither_in_the_server_log(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    shop = channel(session)
    shift_id = new_id()
    session.add(
        Shift(
            id=shift_id,
            terminal_id=shop.terminal_id,
            clerk="clerk1",
            opened_at=datetime.now(UTC),
            opening_float_fen=10_000,
        )
    )
    session.commit()
    engine = make_engine(settings.database_url)
    _refuse_cash_movements(engine)
    engine.dispose()

    port = _free_port()
    out, err = tmp_path / "server.out", tmp_path / "server.err"
    env = os.environ | {
        "DATABASE_URL": settings.database_url,
        "HAOKA_DATA_DIR": str(settings.data_dir),
    }
    with out.open("wb") as stdout, err.open("wb") as stderr:
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("haoka-office")), "serve", "--port", str(port)],
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("the server did not start: " + err.read_text())
        event = CashInEvent(
            id=new_id(),
            seq=1,
            occurred_at=datetime.now(UTC),
            payload=CashMovePayload(
                shift_id=shift_id,
                amount_fen=5_000,
                reason=f"押金 客户 {RESIDENT_ID} pin=731946",
            ),
        )
        reply = httpx.post(
            f"{base}/api/v1/sync/push",
            content=PushRequest(events=[event]).model_dump_json(),
            headers={
                "Authorization": f"Bearer {shop.credential}",
                "Content-Type": "application/json",
            },
            timeout=30,
        )
        assert reply.status_code == 500
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    log = out.read_text(encoding="utf-8") + err.read_text(encoding="utf-8")
    assert "Exception in ASGI application" in log  # the error was logged, traceback and all
    assert "cash_movement" in log
    assert RESIDENT_ID not in log
    assert "731946" not in log
    assert shop.credential not in log


def test_a_record_whose_arguments_do_not_fit_is_still_redacted() -> None:
    record = logging.LogRecord(
        "haoka.test", logging.ERROR, __file__, 1, "sale %s %s", (RESIDENT_ID,), None
    )
    assert logs.RedactingFilter().filter(record)
    assert record.getMessage() == "sale %s %s ('[id redacted]',)"
