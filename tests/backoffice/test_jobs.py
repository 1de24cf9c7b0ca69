"""Background jobs: a job's work and its end state commit together, a failed job keeps none of
its work and says why (in the reader's language on the page), each queued job runs exactly
once however many runners claim, progress shows while it runs (API, page, CLI), a job left
running by a process that is gone says it was interrupted, and users see only their own."""

import threading
from collections import Counter
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session
from typer.testing import CliRunner

from backoffice.api.main import create_app
from backoffice.cli import app as cli
from backoffice.core.config import Settings, get_settings
from backoffice.core.i18n import N_
from backoffice.domain.users import Role
from backoffice.models import Job
from backoffice.services import audit, jobs
from backoffice.services.errors import Conflict
from tests.backoffice.users.helpers import bearer, make_user, token_of, web_log_in

RAN: Counter[str] = Counter()
GATE = threading.Event()
STARTED = threading.Event()


@jobs.handler("test_record")
def _record(session: Session, ctx: jobs.JobContext) -> jobs.JobResult:
    """Writes an audit row, then ends as the parameters say."""
    RAN[ctx.job_id] += 1
    audit.record(
        session, actor=ctx.actor, entity_type="test", entity_id=ctx.job_id, action="test_job"
    )
    ctx.progress(1, 2)
    if ctx.params.get("fail") == "service":
        raise Conflict(N_("Job %(job)s not found."), params={"job": "X-1"})
    if ctx.params.get("fail") == "crash":
        raise RuntimeError("a bug")
    return jobs.JobResult(summary=[(N_("Numbers"), 2)], link="/jobs")


@jobs.handler("test_wait")
def _wait(session: Session, ctx: jobs.JobContext) -> jobs.JobResult:
    for done in range(5):
        ctx.progress(done + 1, 10, phase=N_("Checking rows"))
    ctx._last = 0.0  # the next report is written at once
    ctx.progress(5, 10, phase=N_("Checking rows"))
    STARTED.set()
    assert GATE.wait(30)
    return jobs.JobResult(summary=[(N_("Numbers"), len(ctx.payload or b""))])


def _audit_rows(session: Session, job_id: str) -> int:
    return session.execute(
        text("SELECT COUNT(*) FROM audit_entry WHERE entity_id = :id"), {"id": job_id}
    ).scalar_one()


def _job(engine: Engine, job_id: str) -> Job:
    with Session(engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def test_the_work_and_the_end_state_commit_together(engine: Engine, session: Session) -> None:
    job = jobs.submit(
        session, "test_record", "clerk1", N_("Import numbers from %(file)s"), {"file": "a.csv"}
    )
    assert jobs.run_next(engine) and not jobs.run_next(engine)
    done = _job(engine, job.id)
    assert (done.state, done.done, done.total) == ("succeeded", 2, 2)  # ended: all done
    assert jobs.result_of(done) == [("Numbers", 2)] and done.result_link == "/jobs"
    assert _audit_rows(session, job.id) == 1
    assert jobs.describe(done)["title"] == "Import numbers from a.csv"


@pytest.mark.parametrize("fail", ["service", "crash"])
def test_a_failed_job_keeps_none_of_its_work_and_says_why(
    engine: Engine, session: Session, fail: str, caplog: pytest.LogCaptureFixture
) -> None:
    job = jobs.submit(session, "test_record", "clerk1", "t", params={"fail": fail})
    assert jobs.run_next(engine)
    failed = _job(engine, job.id)
    assert failed.state == "failed" and failed.finished_at is not None
    assert _audit_rows(session, job.id) == 0
    error = str(jobs.describe(failed)["error"])
    if fail == "service":
        assert error == "Job X-1 not found."
    else:
        reference = jobs.error_params(failed)["reference"]
        assert f"reference {reference}" in error
        assert f"reference {reference}" in caplog.text and "a bug" in caplog.text


def test_each_job_runs_once_however_many_runners_claim(engine: Engine, session: Session) -> None:
    submitted = [jobs.submit(session, "test_record", "clerk1", "t").id for _ in range(12)]
    barrier = threading.Barrier(3)

    def runner() -> None:
        barrier.wait()
        jobs.run_pending(engine)

    threads = [threading.Thread(target=runner) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [RAN[job_id] for job_id in submitted] == [1] * 12
    assert {_job(engine, job_id).state for job_id in submitted} == {"succeeded"}


@pytest.fixture
def office(settings: Settings) -> Iterator[TestClient]:
    """The office with its own job runner, as it runs in production."""
    with TestClient(create_app(settings)) as client:
        yield client


def test_progress_shows_while_the_job_runs_and_only_to_its_owner(
    office: TestClient, session: Session
) -> None:
    make_user(session, "billing7")
    make_user(session, "billing8")
    make_user(session, "root1", Role.admin)
    GATE.clear()
    STARTED.clear()
    job = jobs.submit(
        session,
        "test_wait",
        "billing7",
        N_("Import numbers from %(file)s"),
        {"file": "b.csv"},
        payload=b"x" * 7,
        payload_name="b.csv",
    )
    try:
        assert STARTED.wait(30)
        owner = bearer(token_of(office, "billing7"))
        seen = office.get(f"/api/v1/jobs/{job.id}", headers=owner).json()
        assert (seen["state"], seen["done"], seen["total"]) == ("running", 5, 10)
        assert seen["phase"] == "Checking rows"
        # The page and its progress part: the same, in Chinese by default.
        assert web_log_in(office, "billing7").status_code == 303
        part = office.get(f"/jobs/{job.id}/progress")
        assert part.status_code == 200, part.text
        assert 'hx-trigger="every 1s"' in part.text and "5 / 10（50%）" in part.text
        assert "运行中" in part.text
        other = bearer(token_of(office, "billing8"))
        assert office.get(f"/api/v1/jobs/{job.id}", headers=other).status_code == 404
        listed = office.get("/api/v1/jobs", headers=other).json()["jobs"]
        assert listed == []
        admin = bearer(token_of(office, "root1"))
        assert office.get(f"/api/v1/jobs/{job.id}", headers=admin).status_code == 200
    finally:
        GATE.set()
    for _ in range(300):
        if _job(office.app.state.engine, job.id).state != "running":  # type: ignore[attr-defined]
            break
        threading.Event().wait(0.1)
    ended = office.get(f"/api/v1/jobs/{job.id}", headers=owner).json()
    assert ended["state"] == "succeeded" and ended["result"] == [{"label": "Numbers", "value": 7}]
    assert _job(office.app.state.engine, job.id).payload is None  # type: ignore[attr-defined]
    page = office.get(f"/jobs/{job.id}")
    assert "<dt>号码</dt><dd>7</dd>" in page.text
    assert "hx-trigger" not in page.text  # ended: the page stops asking


def test_a_job_left_running_by_a_process_that_is_gone_is_interrupted(
    engine: Engine, session: Session
) -> None:
    job = jobs.submit(session, "test_record", "clerk1", "t")
    host = jobs.runner_name().rsplit(":", 1)[0]
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE job SET state = 'running', runner = :runner WHERE id = :id"),
            {"runner": f"{host}:999999999", "id": job.id},
        )
    alive = jobs.submit(session, "test_record", "clerk1", "t")
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE job SET state = 'running', runner = :runner WHERE id = :id"),
            {"runner": jobs.runner_name(), "id": alive.id},
        )
    assert jobs.mark_interrupted(engine) == 1
    assert _job(engine, job.id).state == "interrupted"
    assert _job(engine, alive.id).state == "running"


def test_the_cli_lists_shows_and_runs_jobs(
    settings: Settings, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HAOKA_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    try:
        job = jobs.submit(
            session, "test_record", "clerk1", N_("Import numbers from %(file)s"), {"file": "c.csv"}
        )
        runner = CliRunner()
        listed = runner.invoke(cli, ["jobs", "list"])
        assert listed.exit_code == 0 and job.id in listed.output and "queued" in listed.output
        ran = runner.invoke(cli, ["jobs", "run"])
        assert ran.exit_code == 0 and "1 jobs run" in ran.output
        shown = runner.invoke(cli, ["jobs", "show", job.id])
        assert shown.exit_code == 0, shown.output
        assert "Import numbers from c.csv" in shown.output and "succeeded" in shown.output
        assert "Numbers: 2" in shown.output
        failing = jobs.submit(session, "test_record", "clerk1", "t", params={"fail": "service"})
        runner.invoke(cli, ["jobs", "run"])
        shown = runner.invoke(cli, ["jobs", "show", failing.id])
        assert shown.exit_code == 1 and "Job X-1 not found." in shown.output
        assert runner.invoke(cli, ["jobs", "show", "nope"]).exit_code == 1
    finally:
        get_settings.cache_clear()
