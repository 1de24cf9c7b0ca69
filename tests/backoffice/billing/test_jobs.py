"""The billing centre's background jobs (imports, pairing, generation, releases) run through
the job runner as the pages submit them: each reports its progress from the service's own
loops, an import whose rows are refused ends with its report (nothing imported), a file that
cannot be read fails the job saying why, a top-up card file waits for its job encrypted, and a
release moves exactly what was selected with one document. Also the stock pages' reads:
keyset pages of batches, imports and releases, and a batch's counts per status and grade."""

import base64
from collections.abc import Iterator
from dataclasses import asdict
from datetime import date

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from backoffice.contracts.billing import SegmentRequest
from backoffice.core.config import Settings, get_settings
from backoffice.core.crypto import pin_cipher
from backoffice.core.i18n import N_
from backoffice.models import AuditEntry, ImportJob, Job, MobileNumber, SimCard, Voucher
from backoffice.services import jobs
from backoffice.services.billing import jobs as billing_jobs
from backoffice.services.billing import numbers, releases, sims, stock, tabular
from backoffice.services.billing.releases import NumberSelection
from backoffice.services.billing.tabular import ImportLimits
from tests.backoffice.helpers import csv_bytes, iccid, xlsx_bytes

LIMITS = ImportLimits.from_settings(Settings())


def _submit(
    session: Session,
    kind: str,
    params: dict[str, object],
    payload: bytes | None = None,
    name: str | None = None,
) -> str:
    job = jobs.submit(
        session,
        kind,
        "billing1",
        N_("Import numbers from %(file)s"),
        {"file": name or "-"},
        params=params,
        payload=payload,
        payload_name=name,
    )
    return job.id


def _run(engine: Engine, job_id: str) -> Job:
    assert jobs.run_next(engine)
    with Session(engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def _import_params(**more: object) -> dict[str, object]:
    return billing_jobs.import_params(LIMITS, "utf-8", False, **more)


def _numbers_file(*msisdns: str) -> bytes:
    return csv_bytes("msisdn", *msisdns)


def test_an_import_with_a_bad_row_ends_with_its_report_then_the_fixed_file_imports(
    engine: Engine, session: Session
) -> None:
    bad = _numbers_file("13905750001", "1390575000X", "13905750003")
    job = _run(
        engine, _submit(session, billing_jobs.IMPORT_NUMBERS, _import_params(), bad, "n.csv")
    )
    assert job.state == "succeeded"
    assert jobs.result_of(job) == [
        ("Rows in the file", 3),
        ("Rows rejected, so nothing was imported", 1),
    ]
    assert job.result_link is not None and job.result_link.startswith("/billing/imports/")
    report = session.get(ImportJob, job.result_link.rsplit("/", 1)[1])
    assert report is not None and report.outcome == "rejected"
    assert session.exec(select(func.count()).select_from(MobileNumber)).one() == 0

    fixed = _numbers_file("13905750001", "13905750002", "13905750003")
    params = _import_params(code="FILE-A")
    job = _run(engine, _submit(session, billing_jobs.IMPORT_NUMBERS, params, fixed, "n.csv"))
    assert jobs.result_of(job) == [
        ("Rows in the file", 3),
        ("Rows imported", 3),
        ("Batch", "FILE-A"),
    ]
    assert (job.done, job.total) == (3, 3)  # the writing's count, out of the rows written
    assert numbers.get_number(session, "13905750002").status == "imported"


def test_skipping_bad_rows_imports_the_rest_and_says_how_many_were_left_out(
    engine: Engine, session: Session
) -> None:
    data = xlsx_bytes([["号码"], ["13905750001"], ["12345"], ["13905750003"]])
    params = billing_jobs.import_params(LIMITS, "utf-8", True)
    job = _run(engine, _submit(session, billing_jobs.IMPORT_NUMBERS, params, data, "n.xlsx"))
    summary = dict(jobs.result_of(job))
    assert summary["Rows imported"] == 2 and summary["Rows rejected and left out"] == 1


def test_a_file_that_cannot_be_read_fails_the_job_saying_why(
    engine: Engine, session: Session
) -> None:
    data = csv_bytes("number,colour", "13905750001,red")
    job = _run(
        engine, _submit(session, billing_jobs.IMPORT_NUMBERS, _import_params(), data, "x.csv")
    )
    assert job.state == "failed" and job.error == billing_jobs.UNREADABLE
    assert "unknown column 'colour'" in str(jobs.error_params(job)["reason"])
    gbk = "msisdn,备注\n13905750001,号码\n".encode("gbk")
    job = _run(
        engine, _submit(session, billing_jobs.IMPORT_NUMBERS, _import_params(), gbk, "g.csv")
    )
    assert "GBK? import with encoding gbk" in str(jobs.error_params(job)["reason"])


class Heard:
    """What a service told its `steps`: (done, total, phase) in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None, str | None]] = []

    def __call__(self, done: int, total: int | None = None, phase: str | None = None) -> None:
        self.calls.append((done, total, phase))

    def phases(self) -> list[str | None]:
        seen: list[str | None] = []
        for _done, _total, phase in self.calls:
            if phase not in seen:
                seen.append(phase)
        return seen


@pytest.fixture
def small_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every 2 rows instead of every 5,000, so a small file shows each step."""
    monkeypatch.setattr(tabular, "STEP_ROWS", 2)


def test_an_import_reports_each_step_from_the_service_loops(
    session: Session, small_steps: None
) -> None:
    heard = Heard()
    data = _numbers_file(*(f"1390575{n:04d}" for n in range(7)))
    numbers.import_numbers(session, data, "n.csv", "billing1", steps=heard)
    assert heard.phases() == [
        "Reading the file",
        "Checking rows",
        "Looking for what is already in the system",
        "Grading numbers",
        "Writing numbers",
    ]
    reading = [done for done, _total, phase in heard.calls if phase == "Reading the file"]
    assert reading == [2, 4, 6]
    checking = [(d, t) for d, t, phase in heard.calls if phase == "Checking rows"]
    assert checking == [(2, 7), (4, 7), (6, 7)]
    assert heard.calls[-1] == (7, 7, "Writing numbers")


def test_generating_a_segment_as_a_job(engine: Engine, session: Session) -> None:
    params = {"prefix": "1390575", "start": 0, "end": 999, "code": "SEG-A"}
    job = _run(engine, _submit(session, billing_jobs.GENERATE_SEGMENT, params))
    summary = dict(jobs.result_of(job))
    assert summary["Batch"] == "SEG-A" and summary["Numbers generated"] == 1000
    assert (summary["First number"], summary["Last number"]) == ("13905750000", "13905750999")
    assert "STD: " in str(summary["Numbers per grade"])
    assert job.result_link == "/billing/batches/numbers/SEG-A"
    assert (job.done, job.total) == (1000, 1000)
    counts = stock.batch_counts(session, "numbers", numbers.find_batch(session, "SEG-A").id)
    assert counts.total == 1000 and counts.by_status == {"imported": 1000}
    assert sum(counts.by_grade.values()) == 1000 and counts.paired == 0
    assert list(counts.grade_names)[-1] in {"STD", "D4"}  # in rank order, best first
    assert counts.cells[("STD", "imported")] == counts.by_grade["STD"]


def _sim_file(count: int, first: int = 0) -> bytes:
    return csv_bytes(
        "iccid,imsi", *(f"{iccid(n)},46000571{n:07d}" for n in range(first, first + count))
    )


def _segment(session: Session, end: int, code: str = "SEG-A", prefix: str = "1390575") -> None:
    numbers.generate_segment(
        session, SegmentRequest(prefix=prefix, start=0, end=end, code=code), "billing1"
    )


def test_importing_sims_and_pairing_in_order_and_from_a_file(
    engine: Engine, session: Session
) -> None:
    _segment(session, end=9)
    job = _run(
        engine,
        _submit(
            session, billing_jobs.IMPORT_SIMS, _import_params(code="SIM-A"), _sim_file(12), "s.csv"
        ),
    )
    assert dict(jobs.result_of(job))["Batch"] == "SIM-A"
    params = {"mode": "order", "number_batch": "SEG-A", "sim_batch": "SIM-A"}
    job = _run(engine, _submit(session, billing_jobs.PAIR_SIMS, params))
    assert jobs.result_of(job) == [
        ("Numbers paired with SIM cards", 10),
        ("Numbers left without a SIM card", 0),
        ("SIM cards left free", 2),
        ("First pair", f"13905750000 ↔ {iccid(0)}"),
        ("Last pair", f"13905750009 ↔ {iccid(9)}"),
    ]
    assert (job.done, job.total) == (10, 10)
    sim_batch = stock.batch_by_code(session, "sims", "SIM-A")
    assert sim_batch is not None
    counts = stock.batch_counts(session, "sims", sim_batch.id)
    assert (counts.total, counts.paired) == (12, 10)

    _segment(session, end=9, code="SEG-B", prefix="1390576")
    pairs = csv_bytes("msisdn,iccid", f"13905760000,{iccid(10)}", f"13905760001,{iccid(0)}")
    params = {"mode": "file", **_import_params()}
    job = _run(engine, _submit(session, billing_jobs.PAIR_SIMS, params, pairs, "p.csv"))
    assert dict(jobs.result_of(job))["Rows rejected, so nothing was imported"] == 1
    report = session.get(ImportJob, str(job.result_link).rsplit("/", 1)[1])
    assert report is not None and report.kind == "pairs"
    assert "already paired with 13905750000" in report.errors_json
    params = {"mode": "file", **billing_jobs.import_params(LIMITS, "utf-8", True)}
    job = _run(engine, _submit(session, billing_jobs.PAIR_SIMS, params, pairs, "p.csv"))
    assert dict(jobs.result_of(job))["Rows imported"] == 1
    assert sims.get_sim(session, iccid(10)).msisdn == "13905760000"


def test_pairing_in_chunks_still_pairs_all_or_nothing(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sims, "_PAIR_CHUNK", 3)
    _segment(session, end=9)
    sims.import_sims(session, _sim_file(10), "s.csv", "billing1", code="SIM-A")
    heard = Heard()
    result = sims.pair_in_order(session, "SEG-A", "SIM-A", "billing1", steps=heard)
    assert result.paired == 10
    assert [d for d, _t, _p in heard.calls] == [0, 3, 6, 9, 10]
    paired = session.exec(select(func.count(col(MobileNumber.iccid)))).one()
    assert paired == 10


@pytest.fixture
def pin_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The PIN key in the environment: the page's settings and the job's are the same."""
    monkeypatch.setenv("HAOKA_PIN_KEY", base64.urlsafe_b64encode(b"p" * 32).decode())
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_top_up_card_file_waits_for_its_job_encrypted(
    engine: Engine, session: Session, pin_key: None
) -> None:
    pins = ("1234567890123456789", "9876543210987654321")
    data = csv_bytes("serial,pin", f"10575000000000001,{pins[0]}", f"10575000000000002,{pins[1]}")
    cipher = pin_cipher(get_settings())
    sealed, context = billing_jobs.seal_payload(cipher, data)
    assert pins[0].encode() not in sealed and base64.b64encode(data) not in sealed
    params = _import_params(
        face_value_fen=5000,
        dealer_price_fen=4850,
        expires_on=date(2099, 12, 31).isoformat(),
        code="CARD50-A",
        sealed=context,
    )
    job_id = _submit(session, billing_jobs.IMPORT_VOUCHERS, params, sealed, "cards.csv")
    job = _run(engine, job_id)
    assert dict(jobs.result_of(job))["Rows imported"] == 2 and job.payload is None
    card = session.get(Voucher, "10575000000000002")
    assert card is not None and cipher.decrypt(card.serial, card.pin_cipher) == pins[1]
    assert billing_jobs.open_payload(cipher, sealed, context) == data


def test_releasing_a_batch_and_a_selection(
    engine: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(releases, "RELEASE_CHUNK", 7)
    _segment(session, end=99)
    _segment(session, end=49, code="SEG-B", prefix="1390576")
    batch = numbers.find_batch(session, "SEG-A")
    assert releases.releasable_numbers(session, NumberSelection(batch=batch)) == 100

    # Part of the stock: the numbers 13905750090 to 13905760009 across the two batches.
    selection = {"first": "13905750090", "last": "13905760009", "note": "shop opening"}
    job = _run(
        engine, _submit(session, billing_jobs.RELEASE, {"item_kind": "numbers", **selection})
    )
    assert job.state == "succeeded", job.error
    number = dict(jobs.result_of(job))["Release document"]
    assert dict(jobs.result_of(job))["Numbers released"] == 20
    assert job.result_link == f"/billing/releases/{number}" and (job.done, job.total) == (20, 20)
    found = stock.release(session, str(number))
    assert found is not None and found.item_count == 20
    assert [(ln.batch_code, ln.first_item, ln.last_item, ln.item_count) for ln in found.lines] == [
        ("SEG-A", "13905750090", "13905750099", 10),
        ("SEG-B", "13905760000", "13905760009", 10),
    ]
    assert found.document.note == "shop opening"

    # The rest of SEG-A, as a whole batch: 90 numbers, the document has one line.
    job = _run(
        engine,
        _submit(session, billing_jobs.RELEASE, {"item_kind": "numbers", "batch_id": batch.id}),
    )
    assert dict(jobs.result_of(job))["Numbers released"] == 90
    statuses = session.exec(
        select(MobileNumber.status, func.count())
        .where(MobileNumber.batch_id == batch.id)
        .group_by(MobileNumber.status)
    ).all()
    assert dict(statuses) == {"available": 100}
    audited = session.exec(
        select(AuditEntry.item_count)
        .where(AuditEntry.entity_id == batch.id, AuditEntry.action == "release")
        .order_by(col(AuditEntry.id))
    ).all()
    assert list(audited) == [10, 90]
    session.expire_all()
    assert numbers.find_batch(session, "SEG-A").release_document_id is not None

    # Nothing left: the job fails, saying so in the reader's language.
    job = _run(
        engine,
        _submit(session, billing_jobs.RELEASE, {"item_kind": "numbers", "batch_id": batch.id}),
    )
    assert job.state == "failed"
    assert job.error == "Nothing to release: no imported number is left in %(selection)s."


def test_releasing_by_grade_leaves_the_other_grades(session: Session) -> None:
    _segment(session, end=999)
    batch = numbers.find_batch(session, "SEG-A")
    counts = stock.batch_counts(session, "numbers", batch.id)
    grade = next(g for g in counts.by_grade if g != "STD")
    selection = NumberSelection(batch=batch, grade=grade)
    assert releases.releasable_numbers(session, selection) == counts.by_grade[grade]
    document = releases.release_selected_numbers(session, selection, "billing1")
    assert document.lines[0].item_count == counts.by_grade[grade]
    after = stock.batch_counts(session, "numbers", batch.id)
    assert after.cells[(grade, "available")] == counts.by_grade[grade]
    assert after.by_status["imported"] == 1000 - counts.by_grade[grade]
    with pytest.raises(Exception, match="Choose the numbers to release"):
        NumberSelection().conditions()


def test_the_stock_lists_are_keyset_pages_newest_first(session: Session) -> None:
    for n in range(5):
        _segment(session, end=0, code=f"SEG-{n}", prefix=f"139057{n}")
    page, after = stock.batches_page(session, "numbers", limit=2)
    assert [b.code for b in page] == ["SEG-4", "SEG-3"] and after == page[-1].id
    page, after = stock.batches_page(session, "numbers", after, limit=2)
    assert [b.code for b in page] == ["SEG-2", "SEG-1"]
    page, after = stock.batches_page(session, "numbers", after, limit=2)
    assert [b.code for b in page] == ["SEG-0"] and after is None
    assert stock.recent_codes(session, "numbers", 3) == ["SEG-4", "SEG-3", "SEG-2"]

    for n in range(3):
        numbers.import_numbers(session, _numbers_file(f"1390580000{n}"), f"f{n}.csv", "billing1")
    rows, after = stock.imports_page(session, "numbers", limit=2)
    assert [r.file_name for r in rows] == ["f2.csv", "f1.csv"] and after is not None
    rows, after = stock.imports_page(session, "numbers", after, limit=2)
    assert [r.file_name for r in rows] == ["f0.csv"] and after is None
    assert stock.imports_page(session, "sims")[0] == []

    for n in range(3):
        releases.release_numbers(session, f"SEG-{n}", "billing1")
    docs, after = stock.releases_page(session, limit=2)
    assert [d.lines[0].batch_code for d in docs] == ["SEG-2", "SEG-1"] and after is not None
    docs, after = stock.releases_page(session, after, limit=2)
    assert [d.lines[0].batch_code for d in docs] == ["SEG-0"] and after is None
    assert stock.release(session, docs[0].document.number.lower()) is not None
    assert stock.release(session, "RL000") is None


def test_limits_travel_with_the_job(engine: Engine, session: Session) -> None:
    small = ImportLimits(upload_bytes=10_000, unzipped_bytes=10_000, rows=2, cell_chars=50)
    params = billing_jobs.import_params(small, "utf-8", False)
    assert params["limits"] == asdict(small)
    data = _numbers_file("13905750001", "13905750002", "13905750003")
    job = _run(engine, _submit(session, billing_jobs.IMPORT_NUMBERS, params, data, "n.csv"))
    assert job.state == "failed" and "HAOKA_IMPORT_MAX_ROWS" in str(jobs.error_params(job))
    assert session.exec(select(func.count()).select_from(SimCard)).one() == 0
