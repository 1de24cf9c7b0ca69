"""Tests of UUIDv7 generation, ordering and decoding."""

import threading
import uuid
from datetime import UTC, datetime
from itertools import pairwise

import pytest

from shared import ids
from shared.ids import id_time, is_uuid7, new_id

# 2022-02-22 19:22:22 UTC, the timestamp of the RFC 9562 appendix A.6 example.
_RFC_EXAMPLE = "017f22e2-79b0-7cc3-98c4-dc0c0c07398f"


def test_new_id_is_a_canonical_uuid7() -> None:
    value = new_id()
    parsed = uuid.UUID(value)
    assert str(parsed) == value
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert is_uuid7(value)


def test_ten_thousand_ids_are_unique_and_strictly_increasing() -> None:
    made = [new_id() for _ in range(10_000)]
    assert all(a < b for a, b in pairwise(made))
    # String order and 128-bit integer order agree, so either can sort.
    assert [uuid.UUID(v).int for v in made] == sorted(uuid.UUID(v).int for v in made)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A controllable clock; the generator's state is restored after the test."""
    now = [1_600_000_000_000 * 1_000_000]
    monkeypatch.setattr(ids, "_last_ms", -1)
    monkeypatch.setattr(ids, "_counter", 0)
    monkeypatch.setattr(ids.time, "time_ns", lambda: now[0])
    return now


def test_ids_within_one_millisecond_stay_ordered(frozen_clock: list[int]) -> None:
    made = [new_id() for _ in range(10_000)]
    assert all(a < b for a, b in pairwise(made))
    start = datetime.fromtimestamp(1_600_000_000, UTC)
    assert id_time(made[0]) == start
    # 10,000 ids cannot fit one 12-bit counter: later ones borrow following milliseconds.
    assert id_time(made[-1]) > start


def test_ids_stay_ordered_when_the_clock_steps_back(frozen_clock: list[int]) -> None:
    first = new_id()
    frozen_clock[0] -= 5_000 * 1_000_000
    second = new_id()
    assert first < second
    assert id_time(second) == id_time(first)


def test_ids_from_many_threads_are_unique_and_ordered_per_thread() -> None:
    results: list[list[str]] = [[] for _ in range(8)]

    def make(out: list[str]) -> None:
        out.extend(new_id() for _ in range(2_000))

    threads = [threading.Thread(target=make, args=(out,)) for out in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({v for out in results for v in out}) == 16_000
    for out in results:
        assert out == sorted(out)


def test_id_time_is_the_creation_time_in_utc() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    stamp = id_time(new_id())
    after = datetime.now(UTC)
    assert stamp.tzinfo is UTC
    assert before <= stamp <= after


def test_id_time_of_the_rfc_example() -> None:
    assert id_time(_RFC_EXAMPLE) == datetime(2022, 2, 22, 19, 22, 22, tzinfo=UTC)
    assert id_time(_RFC_EXAMPLE.upper()) == datetime(2022, 2, 22, 19, 22, 22, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        str(uuid.uuid4()),
        "017f22e2-79b0-6cc3-98c4-dc0c0c07398f",  # version 6
        "017f22e2-79b0-7cc3-c8c4-dc0c0c07398f",  # Microsoft variant
        "017f22e279b07cc398c4dc0c0c07398f",  # no hyphens
        "{017f22e2-79b0-7cc3-98c4-dc0c0c07398f}",
        " 017f22e2-79b0-7cc3-98c4-dc0c0c07398f",
        "017f22e2-79b0-7cc3-98c4-dc0c0c07398",
        "",
        12,
        None,
    ],
)
def test_is_uuid7_rejects(text: object) -> None:
    assert not is_uuid7(text)  # type: ignore[arg-type]


def test_id_time_rejects_other_uuids() -> None:
    with pytest.raises(ValueError, match="is not a UUIDv7"):
        id_time(str(uuid.uuid4()))


def test_random_bits_come_from_the_system_in_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = ids.os.urandom

    def counted(n: int) -> bytes:
        calls.append(n)
        return real(n)

    monkeypatch.setattr(ids.os, "urandom", counted)
    ids._forget_random()
    made = [new_id() for _ in range(10_000)]
    assert len(set(made)) == 10_000
    # 8 bytes per id at most, 16 when its millisecond is new: a system call per 256 ids or
    # more, not one per id.
    assert 1 <= len(calls) <= 10_000 * 16 // ids._POOL_BYTES + 1


def test_a_forked_child_does_not_repeat_its_parents_random_bits() -> None:
    import os

    new_id()  # the parent has a block of random bits in hand
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next id, to the parent
        os.close(read)
        os.write(write, new_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    parent = new_id()
    # Had the child drawn from its parent's block, both would carry the same random bits.
    assert uuid.UUID(child).int & ((1 << 62) - 1) != uuid.UUID(parent).int & ((1 << 62) - 1)
