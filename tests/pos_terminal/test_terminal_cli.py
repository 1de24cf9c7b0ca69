"""`haoka-pos register` and `haoka-pos run` against a real back office on a free port."""

from pathlib import Path

from sqlmodel import Session
from typer.testing import CliRunner

from pos_terminal.cli import app
from pos_terminal.config import TerminalConfig, load_config
from pos_terminal.services.counter import open_counter
from tests.backoffice.channel.helpers import Channel, stocked_numbers
from tests.pos_terminal.office import OfficeServer


def _invoke(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, list(args), env=env)


def test_register_joins_the_back_office_and_pulls_the_outlet(
    office: OfficeServer, shop: Channel, session: Session, tmp_path: Path
) -> None:
    stocked_numbers(session, shop.outlet_code, 3, cards=2)
    data = tmp_path / "pos"
    env = {"HAOKA_POS_DATA_DIR": str(data)}
    result = _invoke(
        "register",
        office.url,
        "--terminal-no",
        str(shop.terminal_no),
        "--credential",
        shop.credential,
        env=env,
    )
    assert result.exit_code == 0, result.output
    assert f"terminal {shop.terminal_no} registered; 5 items of stock" in result.output
    # `run` later finds the office it was registered with.
    assert load_config(environ=env).backoffice_url == office.url
    counter = open_counter(TerminalConfig(data_dir=data))
    try:
        assert counter.identity().outlet_code == shop.outlet_code
        assert counter.sync is not None  # the credential was kept for the background sync
    finally:
        counter.close()


def test_register_refuses_a_wrong_credential_and_keeps_nothing(
    office: OfficeServer, shop: Channel, tmp_path: Path
) -> None:
    env = {"HAOKA_POS_DATA_DIR": str(tmp_path / "pos")}
    terminal_id = shop.credential.partition(".")[0]
    wrong = _invoke(
        "register",
        office.url,
        "--terminal-no",
        "1",
        "--credential",
        f"{terminal_id}.nope",
        env=env,
    )
    assert wrong.exit_code == 1 and "refused or is unreachable" in wrong.output
    assert not (tmp_path / "pos" / "credential").exists()
    garbled = _invoke("register", office.url, "--terminal-no", "1", "--credential", "x", env=env)
    assert garbled.exit_code == 2 and "not a device credential" in garbled.output


def test_run_needs_a_registered_terminal(tmp_path: Path) -> None:
    result = _invoke("run", env={"HAOKA_POS_DATA_DIR": str(tmp_path / "pos")})
    assert result.exit_code == 2
    assert "not registered" in result.output and "haoka-pos register first" in result.output
