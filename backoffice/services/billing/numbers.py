"""Number batches: generating segments, importing files, grading, searching."""

from collections import Counter
from collections.abc import Callable
from typing import IO

from sqlalchemy import func, literal_column, text
from sqlmodel import Session, col, select

from backoffice.contracts.billing import (
    ImportReport,
    NumberBatchPublic,
    NumberPage,
    NumberPublic,
    SegmentRequest,
)
from backoffice.models import MobileNumber, NumberBatch, NumberGrade
from backoffice.models.billing import NUMBER_TAIL, NUMBER_TAIL_DIGITS
from backoffice.services import audit
from backoffice.services.billing.batches import (
    ensure_code_free,
    find_by_code_or_id,
    next_batch_code,
)
from backoffice.services.billing.grading import load_grader
from backoffice.services.billing.tabular import (
    Columns,
    ImportLimits,
    RowChecker,
    finish_import,
    read_table,
)
from backoffice.services.bulk import db_timestamp, insert_rows, refresh_statistics
from backoffice.services.errors import Conflict, InvalidInput, NotFound
from shared.codes import CodeError, parse_msisdn
from shared.ids import new_id
from shared.lifecycle import NumberStatus
from shared.number_search import SearchPatternError, SearchPlan, plan_search, upper_bound

NUMBER_COLUMNS = Columns(required=("msisdn",), aliases=(("号码", "msisdn"), ("number", "msisdn")))
_INSERT_COLUMNS = (
    "msisdn",
    "msisdn_rev",
    "batch_id",
    "grade_code",
    "status",
    "version",
    "updated_at",
)
_EXISTING_CHUNK = 500
# For the rest of the transaction (PostgreSQL), a search page is planned
# - for its own values every time: once psycopg has prepared the statement (its fifth run),
#   PostgreSQL may otherwise keep a generic plan, made without the values, for later runs;
# - without parallel workers: starting them costs more than the few thousand rows a page
#   reads, yet a LIKE's low estimate makes the planner choose them.
_PAGE_PLANNING = text(
    "SELECT set_config('plan_cache_mode', 'force_custom_plan', true), "
    "set_config('max_parallel_workers_per_gather', '0', true)"
)

Progress = Callable[[int], None]


def _store_numbers(
    session: Session,
    batch: NumberBatch,
    msisdns: list[str],
    progress: Progress | None,
) -> Counter[str]:
    grader = load_grader(session)
    grades = grader.grade_many(msisdns)
    stamp = db_timestamp()
    batch_id = batch.id
    imported = NumberStatus.imported.value
    rows = (
        (m, m[::-1], batch_id, g, imported, 1, stamp) for m, g in zip(msisdns, grades, strict=True)
    )
    session.add(batch)
    session.flush()
    added = insert_rows(session, "mobile_number", _INSERT_COLUMNS, rows, progress)
    refresh_statistics(session, "mobile_number", added)
    return Counter(grades)


def generate_segment(
    session: Session, request: SegmentRequest, actor: str, progress: Progress | None = None
) -> NumberBatchPublic:
    """Creates the numbers prefix + start..end (zero-padded to 11 digits), graded."""
    width = 11 - len(request.prefix)
    if request.end < request.start:
        raise InvalidInput(f"segment end {request.end} is below its start {request.start}")
    if request.end >= 10**width:
        raise InvalidInput(
            f"segment end {request.end} does not fit the {width} digits after prefix "
            f"{request.prefix}"
        )
    first = f"{request.prefix}{request.start:0{width}d}"
    last = f"{request.prefix}{request.end:0{width}d}"
    try:
        parse_msisdn(first)
    except CodeError as exc:
        raise InvalidInput(f"prefix {request.prefix}: {exc.reason}", code="invalid_msisdn") from exc
    overlap = session.exec(
        select(func.count(), func.min(MobileNumber.msisdn)).where(
            col(MobileNumber.msisdn).between(first, last)
        )
    ).one()
    if overlap[0]:
        raise Conflict(
            f"segment {first}–{last} overlaps {overlap[0]} numbers already in the system "
            f"(first {overlap[1]})",
            code="numbers_exist",
        )
    code = request.code or next_batch_code(session, NumberBatch, request.prefix)
    ensure_code_free(session, NumberBatch, code)
    count = request.end - request.start + 1
    prefix = request.prefix
    msisdns = [f"{prefix}{i:0{width}d}" for i in range(request.start, request.end + 1)]
    batch = NumberBatch(
        id=new_id(),
        code=code,
        source="segment",
        source_name=f"{first}-{last}",
        first_msisdn=first,
        last_msisdn=last,
        item_count=count,
        created_by=actor,
    )
    grades = _store_numbers(session, batch, msisdns, progress)
    audit.record(
        session,
        actor=actor,
        entity_type="number_batch",
        entity_id=batch.id,
        action="generate",
        to_status=NumberStatus.imported.value,
        item_count=count,
        reason=f"segment {first}-{last}",
    )
    session.commit()
    return _batch_public(batch, grades)


def existing_keys(session: Session, column, keys: list[str]) -> set[str]:  # type: ignore[no-untyped-def]
    """Which of `keys` are already stored in `column` (chunked IN lists)."""
    found: set[str] = set()
    for i in range(0, len(keys), _EXISTING_CHUNK):
        chunk = keys[i : i + _EXISTING_CHUNK]
        found.update(session.exec(select(column).where(column.in_(chunk))).all())
    return found


def import_numbers(
    session: Session,
    data: bytes | IO[bytes],
    file: str,
    actor: str,
    *,
    skip_bad_rows: bool = False,
    encoding: str = "utf-8",
    code: str | None = None,
    progress: Progress | None = None,
    limits: ImportLimits | None = None,
) -> ImportReport:
    table = read_table(data, file, NUMBER_COLUMNS, encoding, limits)
    checker = RowChecker(table)
    parsed = {
        line: msisdn
        for line, (msisdn,) in checker.parse_rows({"msisdn": parse_msisdn}, ["msisdn"]).items()
    }
    stored = existing_keys(session, MobileNumber.msisdn, sorted(parsed.values()))
    for row in table.rows:
        if parsed.get(row.line) in stored:
            checker.reject(row, "msisdn", "already in the system")
    if code:
        ensure_code_free(session, NumberBatch, code)

    def write(good: list) -> tuple[str, str]:  # type: ignore[type-arg]
        msisdns = sorted(parsed[r.line] for r in good)
        batch = NumberBatch(
            id=new_id(),
            code=code or next_batch_code(session, NumberBatch, "FILE"),
            source="file",
            source_name=file,
            first_msisdn=msisdns[0],
            last_msisdn=msisdns[-1],
            item_count=len(msisdns),
            created_by=actor,
        )
        _store_numbers(session, batch, msisdns, progress)
        audit.record(
            session,
            actor=actor,
            entity_type="number_batch",
            entity_id=batch.id,
            action="import",
            to_status=NumberStatus.imported.value,
            item_count=len(msisdns),
            reason=f"file {file}",
        )
        return batch.id, batch.code

    return finish_import(
        session,
        kind="numbers",
        checker=checker,
        actor=actor,
        skip_bad_rows=skip_bad_rows,
        write=write,
    )


def find_batch(session: Session, key: str) -> NumberBatch:
    return find_by_code_or_id(session, NumberBatch, key, "number batch")


def grade_counts(session: Session, batch_id: str) -> Counter[str]:
    rows = session.exec(
        select(MobileNumber.grade_code, func.count())
        .where(MobileNumber.batch_id == batch_id)
        .group_by(MobileNumber.grade_code)
    ).all()
    return Counter(dict(rows))


def _batch_public(batch: NumberBatch, grades: Counter[str]) -> NumberBatchPublic:
    public = NumberBatchPublic.model_validate(batch)
    public.grade_counts = dict(sorted(grades.items()))
    return public


def batch_detail(session: Session, key: str) -> NumberBatchPublic:
    batch = find_batch(session, key)
    return _batch_public(batch, grade_counts(session, batch.id))


def list_batches(session: Session, limit: int = 100) -> list[NumberBatch]:
    return list(session.exec(select(NumberBatch).order_by(col(NumberBatch.id).desc()).limit(limit)))


def _number_public(number: MobileNumber, grade: NumberGrade) -> NumberPublic:
    return NumberPublic(
        msisdn=number.msisdn,
        batch_id=number.batch_id,
        grade_code=grade.code,
        grade_name=grade.name,
        status=number.status,
        iccid=number.iccid,
        selection_fee_fen=grade.selection_fee_fen,
        prestore_fen=grade.prestore_fen,
        min_monthly_fen=grade.min_monthly_fen,
        lockin_months=grade.lockin_months,
    )


def get_number(session: Session, msisdn: str) -> NumberPublic:
    row = session.exec(
        select(MobileNumber, NumberGrade)
        .join(NumberGrade, col(NumberGrade.code) == col(MobileNumber.grade_code))
        .where(MobileNumber.msisdn == msisdn)
    ).first()
    if row is None:
        raise NotFound(f"number {msisdn} not found")
    return _number_public(*row)


def _starting_with(query, column, prefix: str):  # type: ignore[no-untyped-def]
    # A range instead of LIKE 'p%': an index range scan on both backends, any collation.
    query = query.where(column >= prefix)
    bound = upper_bound(prefix)
    return query if bound is None else query.where(column < bound)


def _matching(query, plan: SearchPlan, postgresql: bool):  # type: ignore[no-untyped-def]
    """The pattern as conditions an index serves, so that the first page is read in number
    order and stops at its end:

    - literal leading digits: a range on msisdn (the primary key);
    - three or more literal final digits: the number's ending (ix_number_tail), which keeps
      the numbers of one ending in number order, a thousandth of the table;
    - on PostgreSQL, any other count of literal final digits: a range on the reversed number
      (ix_number_rev). With four or more it is narrower than the ending, and PostgreSQL may
      take it; with one or two it gives the planner a true count of matches (one in 10 or
      100), so it walks the numbers in order, where the LIKE's estimate from its histogram
      (almost none) has it scan or sort the table. With three it would make the estimate so
      small that the planner sorts the whole ending rather than read it in order. SQLite,
      without such estimates, walks the numbers in order for one or two digits and reads the
      ending for more;
    - the LIKE, unless the conditions above already decide a match.
    """
    msisdn = col(MobileNumber.msisdn)
    if plan.prefix:
        query = _starting_with(query, msisdn, plan.prefix)
    suffix = len(plan.suffix)
    if suffix >= NUMBER_TAIL_DIGITS:
        query = query.where(literal_column(NUMBER_TAIL) == plan.suffix[-NUMBER_TAIL_DIGITS:])
    reversed_range = postgresql and suffix not in (0, NUMBER_TAIL_DIGITS)
    if reversed_range:
        query = _starting_with(query, col(MobileNumber.msisdn_rev), plan.suffix[::-1])
    decided = suffix in (0, NUMBER_TAIL_DIGITS) or reversed_range
    if not (plan.ends_decide and decided):
        query = query.where(msisdn.like(plan.like))
    return query


def search_numbers(
    session: Session,
    pattern: str | None = None,
    grade: str | None = None,
    status: str | None = None,
    batch: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> NumberPage:
    """One page in msisdn order; `after` is the last msisdn of the previous page."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    query = select(MobileNumber, NumberGrade).join(
        NumberGrade, col(NumberGrade.code) == col(MobileNumber.grade_code)
    )
    if pattern:
        try:
            plan = plan_search(pattern)
        except SearchPatternError as exc:
            raise InvalidInput(str(exc), code="invalid_pattern") from exc
        query = _matching(query, plan, postgresql)
    if grade:
        query = query.where(MobileNumber.grade_code == grade)
    if status:
        if status not in NumberStatus.__members__:
            raise InvalidInput(f"unknown number status {status!r}", code="invalid_status")
        query = query.where(MobileNumber.status == status)
    if batch:
        query = query.where(MobileNumber.batch_id == find_batch(session, batch).id)
    if after:
        query = query.where(col(MobileNumber.msisdn) > after)
    if postgresql:
        session.execute(_PAGE_PLANNING)
    rows = session.exec(query.order_by(col(MobileNumber.msisdn)).limit(limit + 1)).all()
    items = [_number_public(n, g) for n, g in rows[:limit]]
    next_after = items[-1].msisdn if len(rows) > limit else None
    return NumberPage(items=items, next_after=next_after)
