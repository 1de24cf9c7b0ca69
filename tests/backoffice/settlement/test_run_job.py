"""The settlement run as a background job: it drafts the statements and ends with the
period's figures and a link to them; a run the rules refuse fails with the reason as a
catalog message and keeps nothing; the runs are listed newest first, a page at a time."""

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from backoffice.core import i18n
from backoffice.domain.settlement.accounts import Cadence, StatementAction
from backoffice.models import DealerAccountEntry, Job
from backoffice.services import job_kinds, jobs
from backoffice.services.settlement import jobs as settlement_jobs
from backoffice.services.settlement import runs
from tests.backoffice.channel.helpers import channel, pool, stocked_numbers
from tests.backoffice.settlement.helpers import (
    NUMBER_PRICE,
    Counter,
    dealer_fen_of,
    month_start,
    months_ago,
    plan,
)

DAY = months_ago(1)


def _ran(session: Session, engine: Engine, job: Job) -> Job:
    assert job_kinds.run_pending(engine) >= 1
    session.expire_all()
    done = session.get(Job, job.id)
    assert done is not None
    return done


def test_the_job_drafts_the_statement_and_sums_up_the_period(
    session: Session, engine: Engine
) -> None:
    pool(session, end=9)
    shop = channel(session)
    numbers = stocked_numbers(session, shop.outlet_code, 2)
    plan(session, "D1", one_off=1_500)
    counter = Counter(session, shop)
    for offset, number in enumerate(numbers):
        counter.sell(DAY + timedelta(days=offset), [("number", number, NUMBER_PRICE)])
    request = settlement_jobs.run_request(DAY, Cadence.month, "D1")
    job = settlement_jobs.submit_run(session, request, "sales1")
    start = month_start(DAY)
    assert job.title == settlement_jobs.DEALER_TITLE
    assert jobs.title_params(job)["dealer"] == "D1"

    done = _ran(session, engine, job)

    assert done.state == jobs.SUCCEEDED, done.error
    result = dict(jobs.result_of(done))
    owed = dealer_fen_of(session, numbers)
    assert result[settlement_jobs.DRAFTED] == 1
    assert result[settlement_jobs.BOOKED] == 4  # two sales, two commissions
    assert result[settlement_jobs.SALES] == f"¥{owed // 100}.{owed % 100:02d}"
    assert result[settlement_jobs.COMMISSION] == "-¥30.00"
    assert done.result_link == f"/settlement/statements?period={start}&dealer=D1"
    statement = runs.find_statement(session, f"ST-D1-{start:%Y%m%d}")
    assert statement.status == "draft" and statement.closing_fen == owed - 3_000
    # Every message of the summary is in the catalog.
    for label in result:
        assert i18n.gettext("zh", label) != label, label


def test_a_refused_run_fails_with_its_reason_and_keeps_nothing(
    session: Session, engine: Engine
) -> None:
    pool(session, end=9)
    shop = channel(session)
    (number,) = stocked_numbers(session, shop.outlet_code, 1)
    Counter(session, shop).sell(DAY, [("number", number, NUMBER_PRICE)])
    request = settlement_jobs.run_request(DAY, Cadence.month, "D1")
    assert _ran(session, engine, settlement_jobs.submit_run(session, request, "s1")).state == (
        jobs.SUCCEEDED
    )
    start = month_start(DAY)
    runs.move_statement(session, f"ST-D1-{start:%Y%m%d}", StatementAction.confirm, "s1")
    entries = len(session.exec(select(DealerAccountEntry)).all())

    again = _ran(session, engine, settlement_jobs.submit_run(session, request, "s1"))

    assert again.state == jobs.FAILED
    assert again.error == settlement_jobs.REFUSALS["statement_closed"]
    assert jobs.error_params(again) == {
        "dealer": "D1",
        "start": start.isoformat(),
        "end": (month_start(DAY + timedelta(days=31)) - timedelta(days=1)).isoformat(),
    }
    assert "已关闭" in i18n.gettext("zh", again.error)
    assert len(session.exec(select(DealerAccountEntry)).all()) == entries
    # A dealer that is not there: refused too.
    missing = settlement_jobs.run_request(DAY, Cadence.month, "NOPE")
    failed = _ran(session, engine, settlement_jobs.submit_run(session, missing, "s1"))
    assert failed.error == settlement_jobs.REFUSALS["dealer_not_found"]


def test_runs_are_listed_newest_first_a_page_at_a_time(session: Session, engine: Engine) -> None:
    channel(session)
    submitted = [
        settlement_jobs.submit_run(
            session, settlement_jobs.run_request(DAY, Cadence.week, None), f"s{i}"
        )
        for i in range(3)
    ]
    jobs.submit(session, "generate_segment", "billing1", "other", params={})  # not a run
    first, after = settlement_jobs.recent_runs(session, limit=2)
    assert [j.id for j in first] == [submitted[2].id, submitted[1].id] and after
    rest, more = settlement_jobs.recent_runs(session, after, limit=2)
    assert [j.id for j in rest] == [submitted[0].id] and more is None
    assert first[0].title == settlement_jobs.CADENCE_TITLES[Cadence.week]
