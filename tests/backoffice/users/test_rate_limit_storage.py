"""The `limits` storage kept in the database: counts, windows, clearing, and two processes
(two engines) hitting one key at once without losing a hit."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from limits import parse
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from backoffice.db import make_engine
from backoffice.models import RateLimitCounter
from backoffice.services.rate_limits import DatabaseStorage

PAST = datetime(2000, 1, 1, tzinfo=UTC)


def _expire(engine: Engine, key: str) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(RateLimitCounter).where(RateLimitCounter.key == key).values(expires_at=PAST)
        )


def test_counts_within_a_window_and_starts_again_after_it(engine: Engine) -> None:
    storage = DatabaseStorage(engine)
    assert storage.check()
    assert storage.get("k") == 0
    before = time.time()
    assert [storage.incr("k", 60) for _ in range(3)] == [1, 2, 3]
    assert storage.get("k") == 3
    assert before + 59 <= storage.get_expiry("k") <= time.time() + 61
    assert storage.decr("k") == 2
    assert storage.decr("k", 5) == 0  # never below zero

    _expire(engine, "k")
    assert storage.get("k") == 0
    assert storage.incr("k", 60, amount=2) == 2  # a new window, not the old count

    storage.clear("k")
    assert storage.get("k") == 0
    storage.incr("a", 60)
    storage.incr("b", 60)
    assert storage.reset() == 2


def test_ended_windows_are_pruned(engine: Engine, session: Session) -> None:
    storage = DatabaseStorage(engine)
    storage.incr("old", 60)
    _expire(engine, "old")
    storage.incr("new", 60)
    assert session.exec(select(RateLimitCounter.key)).all() == ["new"]


def test_the_limiter_from_the_limits_library_runs_on_it(engine: Engine) -> None:
    limiter = FixedWindowRateLimiter(DatabaseStorage(engine))
    limit = parse("3/minute")
    assert [limiter.hit(limit, "login", "wang") for _ in range(4)] == [True] * 3 + [False]
    assert not limiter.test(limit, "login", "wang")
    assert limiter.test(limit, "login", "li")
    stats = limiter.get_window_stats(limit, "login", "wang")
    assert stats.remaining == 0 and 0 < stats.reset_time - time.time() <= 60


def test_two_processes_hitting_one_key_lose_no_hit(database_url: str) -> None:
    engines = [make_engine(database_url), make_engine(database_url)]
    try:
        storages = [DatabaseStorage(e) for e in engines]
        with ThreadPoolExecutor(max_workers=4) as pool:
            counts = list(pool.map(lambda n: storages[n % 2].incr("shared", 60), range(40)))
        assert sorted(counts) == list(range(1, 41))
        assert storages[0].get("shared") == storages[1].get("shared") == 40
    finally:
        for e in engines:
            e.dispose()
