"""Background jobs: work that takes more than a second runs apart from the request that asked
for it, with its progress and result in the `job` table (see models/jobs.py).

A job is submitted with a kind; the area that does the work registers the kind's handler
(`@jobs.handler("import_numbers")`). Runners claim queued jobs one at a time, atomically, so
that any number of office processes and `haoka-office worker` can run them side by side. The
handler's work and the job's end state commit together: a job either did all of its work and
says so, or did none of it and says why.

Progress is written by a short transaction of its own on PostgreSQL, so every process sees it
while the job's own transaction is still open. SQLite allows one writer at a time, and the job
is that writer: there the progress stays in the running process (the embedded SQLite office is
one process), and the table has it when the job ends.
"""

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Engine, or_, tuple_, update
from sqlmodel import Session, col, select

from backoffice.core.config import Settings, get_settings
from backoffice.core.i18n import N_
from backoffice.models import Job
from backoffice.models.types import utcnow
from backoffice.services.errors import NotFound, ServiceError
from shared.ids import new_id

log = logging.getLogger("haoka.jobs")

QUEUED: Final = "queued"
RUNNING: Final = "running"
SUCCEEDED: Final = "succeeded"
FAILED: Final = "failed"
INTERRUPTED: Final = "interrupted"
ENDED: Final = frozenset({SUCCEEDED, FAILED, INTERRUPTED})
# The states as the pages name them.
STATE_NAMES: Final = (N_("queued"), N_("running"), N_("succeeded"), N_("failed"), N_("interrupted"))
# Progress is written at most this often: a million-row import reports a few times a second.
PROGRESS_EVERY_S: Final = 0.25
UNEXPECTED: Final = N_(
    "The job stopped on an unexpected error and nothing of it was kept. Tell the administrator "
    "the reference %(reference)s."
)
INTERRUPTED_MESSAGE: Final = N_(
    "The job was interrupted (the server stopped while it ran) and nothing of it was kept. "
    "Start it again."
)


@dataclass
class JobResult:
    """What a job shows when it has ended: (catalog message, value) lines, and where to look
    further (an import's report, a release's document)."""

    summary: list[tuple[str, object]] = field(default_factory=list)
    link: str | None = None


class JobContext:
    """What a handler gets: the job's parameters and file, who asked, and progress()."""

    def __init__(self, engine: Engine, job: Job, payload: bytes | None, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings  # the office's: its keys open what its pages sealed
        self.job_id = job.id
        self.actor = job.created_by
        self.params: dict[str, Any] = json.loads(job.params_json)
        self.payload = payload
        self.payload_name = job.payload_name
        self._last = 0.0

    def progress(self, done: int, total: int | None = None, phase: str | None = None) -> None:
        """How far the job is (and, optionally, out of how many, and the step it is in — a
        catalog message). Cheap to call for every row: written a few times a second."""
        now = time.monotonic()
        if now - self._last < PROGRESS_EVERY_S and (total is None or done < total):
            return
        self._last = now
        _LIVE[self.job_id] = (done, total, phase)
        if self.engine.dialect.name != "sqlite":
            with self.engine.begin() as connection:
                connection.execute(
                    update(Job)
                    .where(col(Job.id) == self.job_id)
                    .values(done=done, total=total, phase=phase, updated_at=utcnow())
                )


Handler = Callable[[Session, JobContext], JobResult]
HANDLERS: dict[str, Handler] = {}
# Progress of the jobs running in this process: (done, total, phase).
_LIVE: dict[str, tuple[int, int | None, str | None]] = {}
# Set when a job is submitted in this process, so that its runner starts it at once.
_SUBMITTED = threading.Event()


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Registers the function that does a kind of job."""

    def register(function: Handler) -> Handler:
        HANDLERS[kind] = function
        return function

    return register


def submit(
    session: Session,
    kind: str,
    actor: str,
    title: str,
    title_params: dict[str, object] | None = None,
    params: dict[str, Any] | None = None,
    payload: bytes | None = None,
    payload_name: str | None = None,
) -> Job:
    """Queues a job and commits it; a runner picks it up within moments."""
    if kind not in HANDLERS:
        raise NotFound(N_("There is no job of kind %(kind)s."), params={"kind": kind})
    job = Job(
        id=new_id(),
        kind=kind,
        title=title,
        title_params_json=json.dumps(title_params or {}, ensure_ascii=False),
        params_json=json.dumps(params or {}, ensure_ascii=False),
        payload=payload,
        payload_name=payload_name,
        state=QUEUED,
        created_by=actor,
    )
    session.add(job)
    session.commit()
    _SUBMITTED.set()
    return job


def get(session: Session, job_id: str, actor: str | None = None) -> Job:
    """A job by id; with `actor`, only if that user submitted it (others' jobs are not
    found, rather than forbidden: their ids say nothing)."""
    job = session.get(Job, job_id)
    if job is None or (actor is not None and job.created_by != actor):
        raise NotFound(N_("Job %(job)s not found."), code="job_not_found", params={"job": job_id})
    return job


def list_jobs(
    session: Session, actor: str | None = None, after: str | None = None, limit: int = 50
) -> tuple[list[Job], str | None]:
    """Newest first, a page at a time (keyset: `after` is the last id of the page before);
    with `actor`, that user's jobs only. Returns the page and the key of the next one."""
    query = select(Job).order_by(col(Job.created_at).desc(), col(Job.id).desc())
    if actor is not None:
        query = query.where(col(Job.created_by) == actor)
    if after:
        last = session.get(Job, after)
        if last is not None:
            query = query.where(
                tuple_(col(Job.created_at), col(Job.id)) < tuple_(last.created_at, last.id)
            )
    rows = list(session.exec(query.limit(limit + 1)))
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


def progress_of(job: Job) -> tuple[int, int | None, str | None]:
    """done, total and phase: live when the job runs in this process."""
    if job.state == RUNNING and job.id in _LIVE:
        return _LIVE[job.id]
    return job.done, job.total, job.phase


def result_of(job: Job) -> list[tuple[str, object]]:
    return [(message, value) for message, value in json.loads(job.result_json)]


def title_params(job: Job) -> dict[str, object]:
    return json.loads(job.title_params_json)


def error_params(job: Job) -> dict[str, object]:
    return json.loads(job.error_params_json)


def runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claim(engine: Engine, runner: str) -> str | None:
    """The oldest queued job, now running here; None when there is none (or another runner
    took each one first)."""
    with engine.begin() as connection:
        for (job_id,) in connection.execute(
            select(Job.id)
            .where(col(Job.state) == QUEUED)
            .order_by(col(Job.created_at), col(Job.id))
            .limit(5)
        ):
            now = utcnow()
            claimed = connection.execute(
                update(Job)
                .where(col(Job.id) == job_id, col(Job.state) == QUEUED)
                .values(state=RUNNING, runner=runner, started_at=now, updated_at=now)
            )
            if claimed.rowcount == 1:
                return job_id
    return None


def _end(engine: Engine, job_id: str, state: str, error: str, params: dict[str, object]) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(Job)
            .where(col(Job.id) == job_id)
            .values(
                state=state,
                error=error,
                error_params_json=json.dumps(params, ensure_ascii=False, default=str),
                finished_at=utcnow(),
                updated_at=utcnow(),
            )
        )


def run(engine: Engine, job_id: str, settings: Settings | None = None) -> None:
    """Runs a claimed job to its end: succeeded with its result, or failed with its reason and
    nothing of its work kept."""
    try:
        with Session(engine, expire_on_commit=False) as session:
            job = session.get(Job, job_id)
            assert job is not None and job.state == RUNNING
            payload = job.payload
            context = JobContext(engine, job, payload, settings or get_settings())
            result = HANDLERS[job.kind](session, context)
            done, total, _phase = _LIVE.get(job_id, (job.done, job.total, None))
            job.state = SUCCEEDED
            job.done = total if total is not None else done
            job.total = total
            job.phase = None
            job.result_json = json.dumps(result.summary, ensure_ascii=False, default=str)
            job.result_link = result.link
            job.finished_at = job.updated_at = utcnow()
            job.payload = None  # the file has served its purpose; the result is kept
            session.add(job)
            session.commit()
    except ServiceError as error:
        _end(engine, job_id, FAILED, error.message, error.params)
    except Exception:
        reference = new_id()[-12:]
        log.exception("job %s failed (reference %s)", job_id, reference)
        _end(engine, job_id, FAILED, UNEXPECTED, {"reference": reference})
    finally:
        _LIVE.pop(job_id, None)


def run_next(engine: Engine, settings: Settings | None = None) -> bool:
    """Claims and runs the oldest queued job; False when none was waiting."""
    job_id = _claim(engine, runner_name())
    if job_id is None:
        return False
    run(engine, job_id, settings)
    return True


def run_pending(engine: Engine, settings: Settings | None = None) -> int:
    """Runs queued jobs until none is left; how many ran."""
    count = 0
    while run_next(engine, settings):
        count += 1
    return count


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_interrupted(engine: Engine) -> int:
    """Jobs left running by a process of this host that is gone (the server stopped): their
    work was rolled back with it; they say so, to be started again."""
    host = socket.gethostname()
    with Session(engine) as session:
        running = session.exec(
            select(Job.id, Job.runner).where(
                col(Job.state) == RUNNING,
                or_(col(Job.runner).startswith(f"{host}:"), col(Job.runner).is_(None)),
            )
        ).all()
    gone = [
        job_id
        for job_id, runner in running
        if runner is None or not _alive(int(runner.rsplit(":", 1)[1]))
    ]
    for job_id in gone:
        _end(engine, job_id, INTERRUPTED, INTERRUPTED_MESSAGE, {})
    return len(gone)


class Runner:
    """Runs queued jobs in a thread of this process, one at a time, until stopped."""

    def __init__(self, engine: Engine, settings: Settings, poll_s: float = 2.0) -> None:
        self.engine = engine
        self.settings = settings
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="haoka-jobs", daemon=True)

    def start(self) -> None:
        mark_interrupted(self.engine)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        _SUBMITTED.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                ran = run_next(self.engine, self.settings)
            except Exception:
                # The database restarting, say: try again at the next poll.
                log.exception("job runner: claiming a job failed; trying again")
                ran = False
            if not ran:
                _SUBMITTED.wait(self.poll_s)
                _SUBMITTED.clear()


def describe(job: Job) -> dict[str, object]:
    """The job for the API and the CLI (English; the pages translate)."""
    done, total, phase = progress_of(job)
    params = title_params(job)
    return {
        "id": job.id,
        "kind": job.kind,
        "title": job.title % params if params else job.title,
        "state": job.state,
        "done": done,
        "total": total,
        "phase": phase,
        "result": [{"label": label, "value": value} for label, value in result_of(job)],
        "result_link": job.result_link,
        "error": None if job.error is None else _format(job.error, error_params(job)),
        "created_by": job.created_by,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def _format(message: str, params: dict[str, object]) -> str:
    return message % params if params else message
