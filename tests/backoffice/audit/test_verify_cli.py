"""`haoka-office audit verify` against a log tampered with around the triggers: the first row
changed, removed or inserted is named by sequence number and id, and the command fails."""

import re
from pathlib import Path

import pytest
from sqlmodel import Session
from typer.testing import CliRunner, Result

from backoffice.cli import app
from backoffice.core.config import Settings, get_settings
from backoffice.domain.audit import Anchor, link
from tests.backoffice.audit.helpers import chain_rows, tamper, write

runner = CliRunner()


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HAOKA_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def verify(*args: str) -> Result:
    return runner.invoke(app, ["audit", "verify", *args])


def _anchor(result: Result) -> str:
    match = re.search(r"anchor (\d+:[0-9a-f-]{67})", result.output)
    assert match, result.output
    return match[1]


def _sealed(session: Session, count: int) -> list[str]:
    """`count` rows written and sealed; their ids in chain order."""
    write(session, count)
    result = runner.invoke(app, ["audit", "seal"])
    assert result.exit_code == 0 and f"sealed {count} rows" in result.output, result.output
    return [r.id for r in chain_rows(session)]


def test_an_intact_log_verifies_and_prints_its_anchor(cli_env, session: Session) -> None:  # type: ignore[no-untyped-def]
    write(session, 4)
    result = verify()
    assert result.exit_code == 0, result.output
    assert "sealed 4 rows first" in result.output and "chain intact: 4 rows" in result.output
    rows = chain_rows(session)
    assert _anchor(result) == str(Anchor(4, str(rows[-1].hash)))
    again = verify("--anchor", _anchor(result))
    assert again.exit_code == 0 and "chain intact" in again.output


def test_a_changed_row_is_reported_by_sequence_and_id(cli_env, session: Session) -> None:  # type: ignore[no-untyped-def]
    ids = _sealed(session, 5)
    tamper(session, f"UPDATE audit_entry SET to_status = 'active' WHERE id = '{ids[2]}'")
    result = verify()
    assert result.exit_code == 1
    assert f"chain broken at row 3 (id {ids[2]}), changed" in result.output
    assert "the 2 rows before it are intact" in result.output


def test_a_removed_row_is_reported(cli_env, session: Session) -> None:  # type: ignore[no-untyped-def]
    ids = _sealed(session, 5)
    tamper(session, f"DELETE FROM audit_entry WHERE id = '{ids[1]}'")
    result = verify()
    assert result.exit_code == 1
    assert f"chain broken at row 3 (id {ids[2]}), removed: row 2 is missing" in result.output


def test_a_back_dated_row_slipped_into_the_chain_is_reported(cli_env, session: Session) -> None:  # type: ignore[no-untyped-def]
    ids = _sealed(session, 4)
    rows = chain_rows(session)
    # The intruder renumbers rows 3 and 4, and gives its own row 3 a hash that does link up.
    forged = (
        "0000forged",
        rows[1].at.replace(microsecond=0),  # type: ignore[union-attr]
        "billing1",
        "voucher",
        "10575000000000001",
        "redeem",
        "active",
        "redeemed",
        1,
        None,
        None,
    )
    forged_hash = link(str(rows[1].hash), forged)
    at = forged[1].strftime("%Y-%m-%d %H:%M:%S.%f")  # type: ignore[attr-defined]
    tamper(
        session,
        "UPDATE audit_entry SET seq = seq + 10 WHERE seq >= 3",
        "UPDATE audit_entry SET seq = seq - 9 WHERE seq >= 13",
        "INSERT INTO audit_entry (id, at, actor, entity_type, entity_id, action, from_status,"
        " to_status, item_count, seq, hash) VALUES ('0000forged', "
        f"'{at}', 'billing1', 'voucher', '10575000000000001', 'redeem', 'active', 'redeemed', "
        f"1, 3, '{forged_hash}')",
    )
    result = verify()
    assert result.exit_code == 1
    assert "chain broken at row 3 (id 0000forged), inserted" in result.output
    assert ids[2] not in result.output


def test_a_cut_tail_is_caught_by_the_anchor_recorded_earlier(cli_env, session: Session) -> None:  # type: ignore[no-untyped-def]
    ids = _sealed(session, 5)
    anchor = _anchor(verify())
    tamper(session, f"DELETE FROM audit_entry WHERE id IN ('{ids[3]}', '{ids[4]}')")
    # The shortened chain is consistent in itself: only the anchor tells.
    assert verify().exit_code == 0
    result = verify("--anchor", anchor)
    assert result.exit_code == 1
    assert "the chain ends at row 3, but the anchor recorded row 5" in result.output


def test_a_chain_rewritten_to_the_end_is_caught_by_the_anchor(cli_env, session: Session) -> None:  # type: ignore[no-untyped-def]
    _sealed(session, 3)
    anchor = _anchor(verify())
    rows = chain_rows(session)
    # Every hash recomputed after editing row 2: the links hold, the anchor's hash does not.
    rows[1].actor = "mallory"
    previous = str(rows[0].hash)
    updates = []
    for row in rows[1:]:
        content = (
            row.id,
            row.at,
            row.actor,
            row.entity_type,
            row.entity_id,
            row.action,
            row.from_status,
            row.to_status,
            row.item_count,
            row.document_id,
            row.reason,
        )
        previous = link(previous, content)
        updates.append(
            f"UPDATE audit_entry SET actor = '{row.actor}', hash = '{previous}' "
            f"WHERE id = '{row.id}'"
        )
    session.rollback()
    tamper(session, *updates)
    assert verify().exit_code == 0
    result = verify("--anchor", anchor)
    assert result.exit_code == 1 and "the chain up to it was rewritten" in result.output


def test_an_anchor_file_is_checked_and_extended_run_after_run(  # type: ignore[no-untyped-def]
    cli_env, session: Session, tmp_path: Path
) -> None:
    anchors = tmp_path / "anchors.txt"
    ids = _sealed(session, 3)
    assert verify("--anchor-file", str(anchors)).exit_code == 0
    write(session, 2)
    assert verify("--anchor-file", str(anchors)).exit_code == 0
    lines = anchors.read_text().splitlines()
    assert [Anchor.parse(line.split()[1]).seq for line in lines] == [3, 5]
    tamper(session, f"DELETE FROM audit_entry WHERE id NOT IN ('{ids[0]}', '{ids[1]}')")
    result = verify("--anchor-file", str(anchors))
    assert result.exit_code == 1
    assert "the chain ends at row 2, but the anchor recorded row 5" in result.output
    assert anchors.read_text().splitlines() == lines
    anchors.write_text("2026-12-07T00:00:00Z 5:nothex\n")
    refused = verify("--anchor-file", str(anchors))
    assert refused.exit_code == 2 and "--anchor-file" in refused.output


def test_a_malformed_anchor_is_refused_with_its_option(cli_env, session: Session) -> None:  # type: ignore[no-untyped-def]
    result = verify("--anchor", "12:not-a-hash")
    assert result.exit_code == 2
    assert "--anchor" in result.output and "SEQ:HASH" in result.output


def test_rows_not_sealed_in_time_fail_a_read_only_verify(cli_env, session: Session) -> None:  # type: ignore[no-untyped-def]
    write(session, 2)
    tamper(session, "UPDATE audit_entry SET at = '2020-01-01 00:00:00.000000'")
    result = verify("--no-seal")
    assert result.exit_code == 1
    assert "2 rows older than 600 s are not in the chain" in result.output
    assert "is the worker running?" in result.output
