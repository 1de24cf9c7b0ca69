"""The haoka-office command line, as a billing clerk would use it."""

from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select
from typer.testing import CliRunner

from backoffice.cli import app
from backoffice.core.config import Settings, get_settings
from backoffice.models import MobileNumber, SalesStatOutlet, User
from tests.backoffice.channel.helpers import channel, pool, stocked_numbers
from tests.backoffice.helpers import csv_bytes, iccid
from tests.backoffice.settlement.helpers import NUMBER_PRICE, Counter, months_ago

runner = CliRunner()


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HAOKA_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    result = runner.invoke(app, list(args), input=input)
    return result


def test_billing_clerk_works_through_the_cli(cli_env, session: Session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    made = _run(
        "create-user",
        "wangfang",
        "--role",
        "billing",
        "--full-name",
        "王芳",
        input="pass-word-1\npass-word-1\n",
    )
    assert made.exit_code == 0, made.output
    user = session.exec(select(User).where(User.username == "wangfang")).one()
    assert user.role == "billing" and "pass-word-1" not in user.password_hash

    generated = _run(
        "--as", "wangfang", "generate-numbers", "1390575", "0", "9999", "--code", "SEG-1"
    )
    assert generated.exit_code == 0, generated.output
    assert "batch SEG-1: 10000 numbers 13905750000–13905759999" in generated.output
    assert "G1" in generated.output

    sim_file = tmp_path / "sims.csv"
    sim_file.write_bytes(
        csv_bytes("iccid,imsi", *(f"{iccid(n)},46000571{n:07d}" for n in range(50)))
    )
    imported = _run("--as", "wangfang", "import-sims", str(sim_file), "--code", "SIM-1")
    assert imported.exit_code == 0, imported.output
    assert "50 of 50 rows imported" in imported.output
    paired = _run("--as", "wangfang", "pair-sims", "--numbers", "SEG-1", "--sims", "SIM-1")
    assert paired.exit_code == 0 and "paired 50" in paired.output

    cards = tmp_path / "cards.csv"
    cards.write_bytes(csv_bytes("serial,pin", "10575000000000001,1234567890123456789"))
    imported = _run(
        "--as",
        "wangfang",
        "import-vouchers",
        str(cards),
        "--face-value",
        "50",
        "--dealer-price",
        "48.50",
        "--expires",
        "2099-12-31",
        "--code",
        "CARD-1",
    )
    assert imported.exit_code == 0, imported.output

    for kind, batch in (("numbers", "SEG-1"), ("vouchers", "CARD-1")):
        released = _run("--as", "wangfang", "release", kind, batch)
        assert released.exit_code == 0, released.output
        assert "released by wangfang" in released.output

    found = _run("search-numbers", "*88", "--status", "available", "--limit", "5")
    assert found.exit_code == 0, found.output
    assert "13905750088" in found.output and "more after" in found.output
    assert session.get(MobileNumber, "13905750088").status == "available"  # type: ignore[union-attr]


def test_cli_import_rejects_bad_file_and_writes_rejected_rows(cli_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "numbers.csv"
    bad.write_bytes(csv_bytes("msisdn", "13812345678", "1381234567"))
    out = tmp_path / "rejected.csv"
    result = _run("import-numbers", str(bad), "--rejected-out", str(out))
    assert result.exit_code == 1
    assert "numbers.csv: 1 of 2 rows are bad; nothing was imported" in result.output
    rejected = out.read_text(encoding="utf-8-sig")
    assert '\n1381234567,3,"msisdn: must be 11 digits, got 10"\n' in rejected


def test_cli_refuses_an_actor_without_the_billing_role(cli_env) -> None:  # type: ignore[no-untyped-def]
    _run("create-user", "zhao", "--role", "clerk", input="pass-word-1\npass-word-1\n")
    result = _run("--as", "zhao", "generate-numbers", "1390575", "0", "9")
    assert result.exit_code == 1 and "zhao is not a billing user" in result.output


def test_generate_vouchers_writes_pins_once(cli_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pins = tmp_path / "pins.csv"
    args = (
        "generate-vouchers",
        "--first-serial",
        "10575000000000001",
        "--count",
        "3",
        "--face-value",
        "50",
        "--dealer-price",
        "48.5",
        "--expires",
        "2099-12-31",
        "--pins-out",
        str(pins),
    )
    result = _run(*args)
    assert result.exit_code == 0, result.output
    assert len(pins.read_text().splitlines()) == 4
    assert pins.stat().st_mode & 0o777 == 0o600
    again = _run(*args)
    assert again.exit_code == 1 and "never overwritten" in again.output


def test_rebuild_statistics_restores_the_summaries_from_the_sales(
    cli_env, session: Session
) -> None:  # type: ignore[no-untyped-def]
    pool(session)
    shop = channel(session)
    first, second = stocked_numbers(session, shop.outlet_code, 2)
    counter = Counter(session, shop)
    counter.sell(months_ago(1), [("number", first, NUMBER_PRICE)])
    counter.sell(months_ago(0), [("number", second, NUMBER_PRICE)])
    summary = SalesStatOutlet.__table__  # type: ignore[attr-defined]
    counted = select(func.sum(summary.c.sold_count), func.sum(summary.c.sold_fen))
    assert session.connection().execute(counted).one() == (2, 2 * NUMBER_PRICE)
    # Summaries lost (a partial restore, say) come back from the sales themselves.
    session.connection().execute(summary.delete().where(summary.c.outlet_id == shop.outlet_id))
    session.commit()
    rebuilt = _run("rebuild-statistics")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "sales summaries rebuilt: 2 " in rebuilt.output
    session.rollback()
    assert session.connection().execute(counted).one() == (2, 2 * NUMBER_PRICE)


def test_imports_refuse_an_encoding_no_export_comes_in(cli_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    numbers_file = tmp_path / "numbers.csv"
    numbers_file.write_bytes("号码\n13905750001\n".encode("gbk"))
    voucher_terms = ("--face-value", "50", "--dealer-price", "48.5", "--expires", "2099-12-31")
    for command in (
        ("import-numbers",),
        ("import-sims",),
        ("pair-sims",),
        ("import-vouchers", *voucher_terms),
    ):
        for encoding in ("rot13", "base64_codec", "utf-16"):
            refused = _run(*command, str(numbers_file), "--encoding", encoding)
            assert refused.exit_code == 2, (command, encoding, refused.output)
            assert "--encoding" in refused.output and "unsupported encoding" in refused.output
    imported = _run("import-numbers", str(numbers_file), "--encoding", "CP936")
    assert imported.exit_code == 0, imported.output
    assert "1 of 1 rows imported" in imported.output
