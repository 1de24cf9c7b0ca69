"""Number batches: generating segments, importing files, grading, searching."""

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO

from sqlalchemy import Row, func, literal_column, text
from sqlmodel import Session, col, select

from backoffice.contracts.billing import (
    ImportReport,
    NumberBatchPublic,
    NumberPage,
    NumberPublic,
    SegmentRequest,
)
from backoffice.core.i18n import N_
from backoffice.domain.channel import Price, number_product
from backoffice.models import (
    Dealer,
    DealerPrice,
    MobileNumber,
    NumberBatch,
    NumberGrade,
    NumberReservation,
    Outlet,
    SimCard,
    StockDocument,
)
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
    Steps,
    counting,
    finish_import,
    read_table,
)
from backoffice.services.bulk import db_timestamp, insert_rows, refresh_statistics
from backoffice.services.channel import prices
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
    steps: Steps | None = None,
) -> Counter[str]:
    grader = load_grader(session)
    if steps is not None:
        steps(0, len(msisdns), N_("Grading numbers"))
    grades = grader.grade_many(msisdns)
    stamp = db_timestamp()
    batch_id = batch.id
    imported = NumberStatus.imported.value
    rows = (
        (m, m[::-1], batch_id, g, imported, 1, stamp) for m, g in zip(msisdns, grades, strict=True)
    )
    session.add(batch)
    session.flush()
    progress = counting(steps, len(msisdns), N_("Writing numbers"), progress)
    added = insert_rows(session, "mobile_number", _INSERT_COLUMNS, rows, progress)
    refresh_statistics(session, "mobile_number", added)
    return Counter(grades)


def generate_segment(
    session: Session,
    request: SegmentRequest,
    actor: str,
    progress: Progress | None = None,
    *,
    steps: Steps | None = None,
) -> NumberBatchPublic:
    """Creates the numbers prefix + start..end (zero-padded to 11 digits), graded; `steps`
    hears how far the grading and writing are."""
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
    grades = _store_numbers(session, batch, msisdns, progress, steps)
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


def existing_keys(  # type: ignore[no-untyped-def]
    session: Session, column, keys: list[str], steps: Steps | None = None
) -> set[str]:
    """Which of `keys` are already stored in `column` (chunked IN lists)."""
    found: set[str] = set()
    for i in range(0, len(keys), _EXISTING_CHUNK):
        if steps is not None:
            steps(i, len(keys), N_("Looking for what is already in the system"))
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
    steps: Steps | None = None,
) -> ImportReport:
    """Numbers from a file, graded, as one batch; `steps` hears how far each step is."""
    table = read_table(data, file, NUMBER_COLUMNS, encoding, limits, steps)
    checker = RowChecker(table, steps)
    parsed = {
        line: msisdn
        for line, (msisdn,) in checker.parse_rows({"msisdn": parse_msisdn}, ["msisdn"]).items()
    }
    stored = existing_keys(session, MobileNumber.msisdn, sorted(parsed.values()), steps)
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
        _store_numbers(session, batch, msisdns, progress, steps)
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


def _search_rows(
    session: Session,
    pattern: str | None,
    grade: str | None,
    status: str | None,
    batch: str | None,
    after: str | None,
    limit: int,
    outlet_ids: Sequence[str] | None = None,
) -> list[Row[tuple[MobileNumber, NumberGrade]]]:
    """Up to limit + 1 numbers with their grades, in msisdn order after `after`."""
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
        if postgresql and not status:
            # Every status, spelled out: a rare grade's numbers are then a few probes of
            # ix_number_status_grade (one per status) and a sort, where the planner would
            # otherwise walk the whole table in number order looking for them. A common
            # grade still walks the numbers in order: the planner's estimate decides.
            query = query.where(col(MobileNumber.status).in_([s.value for s in NumberStatus]))
    if status:
        if status not in NumberStatus.__members__:
            raise InvalidInput(f"unknown number status {status!r}", code="invalid_status")
        query = query.where(MobileNumber.status == status)
    if batch:
        query = query.where(MobileNumber.batch_id == find_batch(session, batch).id)
    order = col(MobileNumber.msisdn)
    if outlet_ids is not None:
        query = query.where(col(MobileNumber.outlet_id).in_(list(outlet_ids) or [""]))
        # An outlet's (a dealer's) stock is read by ix_number_outlet and sorted: ordered by
        # the key itself, the planner walks the numbers in order instead, through all those
        # before the outlet's (it takes them for evenly spread), hundreds of milliseconds.
        order = order.op("||")("")
    if after:
        query = query.where(col(MobileNumber.msisdn) > after)
    if postgresql:
        session.execute(_PAGE_PLANNING)
    return list(session.exec(query.order_by(order).limit(limit + 1)).all())


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
    rows = _search_rows(session, pattern, grade, status, batch, after, limit)
    items = [_number_public(n, g) for n, g in rows[:limit]]
    next_after = items[-1].msisdn if len(rows) > limit else None
    return NumberPage(items=items, next_after=next_after)


# --- The billing centre's pages: the number list with owners, a number's sheet ----------------


@dataclass(frozen=True)
class NumberRow:
    """A number as the search page lists it."""

    msisdn: str
    grade_code: str
    grade_name: str
    status: str
    held_from: str | None
    iccid: str | None
    batch_id: str
    outlet_id: str | None


def find_numbers(
    session: Session,
    *,
    pattern: str | None = None,
    grade: str | None = None,
    status: str | None = None,
    batch: str | None = None,
    outlet_ids: Sequence[str] | None = None,
    after: str | None = None,
    limit: int = 50,
) -> tuple[list[NumberRow], str | None]:
    """search_numbers with the owner too: filtered to numbers held by one of `outlet_ids`
    (a dealer's outlets, or one) when given. Returns the page and the `after` of the next."""
    rows = _search_rows(session, pattern, grade, status, batch, after, limit, outlet_ids)
    items = [
        NumberRow(
            msisdn=n.msisdn,
            grade_code=g.code,
            grade_name=g.name,
            status=n.status,
            held_from=n.held_from,
            iccid=n.iccid,
            batch_id=n.batch_id,
            outlet_id=n.outlet_id,
        )
        for n, g in rows[:limit]
    ]
    return items, (items[-1].msisdn if len(rows) > limit else None)


@dataclass(frozen=True)
class Owner:
    outlet: Outlet
    dealer: Dealer | None


def owners(session: Session, outlet_ids: Iterable[str | None]) -> dict[str, Owner]:
    """The outlets (and their dealers) of a page's items, in one query."""
    wanted = sorted({i for i in outlet_ids if i})
    if not wanted:
        return {}
    rows = session.exec(
        select(Outlet, Dealer)
        .join(Dealer, col(Dealer.id) == col(Outlet.dealer_id), isouter=True)
        .where(col(Outlet.id).in_(wanted))
    ).all()
    return {outlet.id: Owner(outlet, dealer) for outlet, dealer in rows}


def batch_codes(session: Session, batch_ids: Iterable[str]) -> dict[str, str]:
    """Number batch id → code, for a page's numbers."""
    wanted = sorted(set(batch_ids))
    if not wanted:
        return {}
    rows = session.exec(
        select(NumberBatch.id, NumberBatch.code).where(col(NumberBatch.id).in_(wanted))
    ).all()
    return dict(rows)


@dataclass(frozen=True)
class NumberSheet:
    """Everything the number's page shows but its timeline: no personal data (a sold
    number's buyer is the counter's business, not the billing centre's page)."""

    number: MobileNumber
    grade: NumberGrade
    batch: NumberBatch
    sim: SimCard | None
    owner: Owner | None
    previous_owner: Owner | None
    document: StockDocument | None
    reservation: NumberReservation | None


def number_sheet(session: Session, msisdn: str) -> NumberSheet:
    """The number with its grade, batch, paired SIM card, owner, last stock document and
    active reservation: a handful of primary-key and indexed reads."""
    row = session.exec(
        select(MobileNumber, NumberGrade, NumberBatch)
        .join(NumberGrade, col(NumberGrade.code) == col(MobileNumber.grade_code))
        .join(NumberBatch, col(NumberBatch.id) == col(MobileNumber.batch_id))
        .where(MobileNumber.msisdn == msisdn)
    ).first()
    if row is None:
        raise NotFound(
            N_("Number %(msisdn)s is not in the system."),
            code="number_not_found",
            params={"msisdn": msisdn},
        )
    number, grade, batch = row
    sim = session.exec(select(SimCard).where(SimCard.msisdn == msisdn)).first()
    if sim is None and number.iccid:
        sim = session.get(SimCard, number.iccid)
    found = owners(session, [number.outlet_id, number.prev_outlet_id])
    reservation = session.exec(
        select(NumberReservation)
        .where(NumberReservation.msisdn == msisdn)
        .where(NumberReservation.status == "active")
        .order_by(col(NumberReservation.reserved_at).desc())
        .limit(1)
    ).first()
    return NumberSheet(
        number=number,
        grade=grade,
        batch=batch,
        sim=sim,
        owner=found.get(number.outlet_id or ""),
        previous_owner=found.get(number.prev_outlet_id or ""),
        document=session.get(StockDocument, number.document_id) if number.document_id else None,
        reservation=reservation,
    )


@dataclass(frozen=True)
class DealerOverride:
    dealer_code: str
    dealer_name: str
    retail_fen: int
    dealer_fen: int


@dataclass(frozen=True)
class GradePrices:
    """A grade's prices at the counter: the price list in force (None: none yet) and the
    dealers that have their own price for it (at most `limit` of them)."""

    product: str
    price_list_version: int | None
    central: Price | None
    overrides: list[DealerOverride]
    more_overrides: bool


def grade_prices(session: Session, grade_code: str, limit: int = 20) -> GradePrices:
    product = number_product(grade_code)
    try:
        in_force = prices.list_in_force(session)
    except NotFound:
        in_force = None
    central = None if in_force is None else prices.central_prices(session, in_force).get(product)
    rows = session.exec(
        select(Dealer.code, Dealer.name, DealerPrice.retail_fen, DealerPrice.dealer_fen)
        .join(Dealer, col(Dealer.id) == col(DealerPrice.dealer_id))
        .where(DealerPrice.product == product)
        .order_by(col(Dealer.code))
        .limit(limit + 1)
    ).all()
    return GradePrices(
        product=product,
        price_list_version=None if in_force is None else in_force.version,
        central=central,
        overrides=[DealerOverride(*r) for r in rows[:limit]],
        more_overrides=len(rows) > limit,
    )
