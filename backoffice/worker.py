"""The back office's background work: delivering due number activations to the provisioning
webhook, releasing expired reservations, returning numbers to the pool when their cooling
ends, expiring sold top-up cards of expired batches, sealing the audit log's new rows into its
hash chain, and running queued background jobs. Run beside the API: `python -m
backoffice.worker`."""

import logging
import signal
import threading

from sqlmodel import Session

from backoffice.core import logging as logs
from backoffice.core.config import Settings, get_settings
from backoffice.db import make_engine
from backoffice.services import audit
from backoffice.services.billing import lifecycle
from backoffice.services.channel import reservations
from backoffice.services.counter import activations
from backoffice.services.job_kinds import Runner

log = logging.getLogger("haoka.worker")


def run_once(session: Session, settings: Settings) -> None:
    expired = reservations.expire_reservations(session, "worker")
    if expired:
        log.info("released %d expired reservations", expired)
    swept = lifecycle.run_due(session, "worker")
    if swept.numbers_recycled or swept.vouchers_expired:
        log.info(
            "lifecycle: %d numbers back to the pool after cooling, %d top-up cards expired",
            swept.numbers_recycled,
            swept.vouchers_expired,
        )
    if settings.activation_webhook_url and settings.activation_webhook_secret:
        run = activations.deliver_due(session, settings)
        if run.attempted:
            log.info("activations: %s", run.model_dump())
    # Last, so that the rows this round wrote are sealed in it too.
    sealing = audit.seal(session)
    if sealing.sealed:
        # The anchor in the log (kept apart from the database) lets `audit verify --anchor`
        # prove later that the chain up to it is unchanged and was not cut short.
        log.info("audit: sealed %d rows, anchor %s", sealing.sealed, sealing.anchor)


def run_forever(settings: Settings, interval_s: float = 5.0) -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    engine = make_engine(settings.database_url)
    # Background jobs (imports, releases, regrades) in a thread beside the rounds; the office
    # processes run them too unless HAOKA_RUN_JOBS=false: each job is claimed by one runner.
    jobs = Runner(engine, settings)
    jobs.start()
    try:
        while not stop.is_set():
            with Session(engine, expire_on_commit=False) as session:
                try:
                    run_once(session, settings)
                except Exception:
                    # One bad round (database restarting, say) must not end the worker.
                    log.exception("worker round failed; trying again in %.0f s", interval_s)
            stop.wait(interval_s)
    finally:
        jobs.stop()
        engine.dispose()


if __name__ == "__main__":
    logs.configure()
    run_forever(get_settings())
