"""Today's figures (outlet's calendar day, cash expected, backlogs) and the terminal settings."""

from pathlib import Path

import pytest

from pos_terminal import outbox
from pos_terminal.config import TerminalConfig, load_config
from pos_terminal.services.figures import today_figures
from pos_terminal.services.sale import Tender
from shared.sync import EventResult, EventStatus, RejectReason
from tests.pos_terminal.conftest import Counter
from tests.pos_terminal.helpers import CLERK, voucher


def _sell(counter: Counter, n: int, face: int = 5000) -> None:
    draft = counter.sales.start(CLERK)
    counter.sales.scan(draft, voucher(n, face))
    counter.sales.complete(draft, [Tender("cash", draft.total_fen)])


def test_todays_figures_follow_the_outlets_day(open_counter: Counter) -> None:
    # 02:00 UTC is 10:00 in Shanghai; 16:30 UTC is already tomorrow there.
    _sell(open_counter, 1)
    _sell(open_counter, 3, 10000)
    figures = today_figures(open_counter.store, "Asia/Shanghai")
    assert (figures.sales_count, figures.sales_total_fen) == (2, 15_000)
    assert [(p.label, p.amount_fen, p.count) for p in figures.products] == [
        ("voucher:10000", 10_000, 1),
        ("voucher:5000", 5_000, 1),
    ]
    assert figures.cash_expected_fen == 35_000
    assert (figures.sync_backlog, figures.rejected_events, figures.receipts_waiting) == (3, 0, 2)
    events = outbox.pending_events(open_counter.store, 10)
    outbox.store_results(
        open_counter.store,
        [
            EventResult(id=events[0].id, seq=events[0].seq, status=EventStatus.accepted),
            EventResult(
                id=events[1].id,
                seq=events[1].seq,
                status=EventStatus.rejected,
                reason=RejectReason.item_already_sold,
            ),
        ],
    )
    open_counter.clock.advance(hours=14, minutes=30)
    _sell(open_counter, 2)
    tomorrow = today_figures(open_counter.store, "Asia/Shanghai")
    assert (tomorrow.sales_count, tomorrow.sales_total_fen) == (1, 5_000)
    assert (tomorrow.sync_backlog, tomorrow.rejected_events) == (2, 1)
    # In UTC all three sales fall on one day.
    assert today_figures(open_counter.store, "UTC").sales_count == 3


def test_figures_without_an_open_shift(counter: Counter) -> None:
    figures = today_figures(counter.store, "Asia/Shanghai")
    assert figures.cash_expected_fen is None and figures.sales_count == 0


def test_settings_from_file_then_environment(tmp_path: Path) -> None:
    (tmp_path / "terminal.toml").write_text(
        'backoffice_url = "http://office:8000"\nreturn_window_days = 3\n', encoding="utf-8"
    )
    config = load_config(
        environ={"HAOKA_POS_DATA_DIR": str(tmp_path), "HAOKA_POS_PUSH_BATCH": "50"}
    )
    assert config.backoffice_url == "http://office:8000"
    assert config.return_window.days == 3
    assert config.push_batch == 50
    assert config.store_path == tmp_path / "terminal.db"
    assert config.read_credential() is None
    config.write_credential("secret-1")
    assert config.read_credential() == "secret-1"
    assert config.credential_file.stat().st_mode & 0o077 == 0


def test_unknown_settings_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "terminal.toml"
    path.write_text("backoffice = 'x'\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown setting"):
        load_config(path, environ={})
    assert load_config(tmp_path / "missing.toml", environ={}) == TerminalConfig()


@pytest.mark.parametrize(
    ("text", "environ", "named"),
    [
        ("return_window_days = true\n", {}, "return_window_days must be a whole number"),
        ("data_dir = 5\n", {}, "data_dir must be a path"),
        ("backoffice_url = [1]\n", {}, "backoffice_url must be text"),
        ("backoffice_url = \n", {}, "not valid TOML"),
        ("", {"HAOKA_POS_PUSH_BATCH": "lots"}, "HAOKA_POS_PUSH_BATCH: push_batch must be"),
    ],
)
def test_a_bad_setting_is_refused_naming_it_and_where(
    tmp_path: Path, text: str, environ: dict[str, str], named: str
) -> None:
    path = tmp_path / "terminal.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=named):
        load_config(path, environ=environ)
