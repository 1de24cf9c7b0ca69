"""SIM card batches and pairing numbers with SIM cards."""

from dataclasses import dataclass
from typing import IO

from sqlalchemy import bindparam, or_, update
from sqlmodel import Session, col, select

from backoffice.contracts.billing import ImportReport, PairingResult
from backoffice.core.i18n import N_
from backoffice.models import MobileNumber, SimBatch, SimCard
from backoffice.services import audit
from backoffice.services.billing.batches import (
    ensure_code_free,
    find_by_code_or_id,
    next_batch_code,
)
from backoffice.services.billing.numbers import (
    Owner,
    Progress,
    existing_keys,
    find_batch,
    owners,
)
from backoffice.services.billing.tabular import (
    Columns,
    ImportLimits,
    Row,
    RowChecker,
    Steps,
    counting,
    finish_import,
    read_table,
)
from backoffice.services.bulk import db_timestamp, insert_rows
from backoffice.services.errors import Conflict, NotFound
from shared.codes import parse_iccid, parse_imsi, parse_msisdn
from shared.ids import new_id
from shared.lifecycle import NumberStatus, SimStatus

SIM_COLUMNS = Columns(required=("iccid", "imsi"))
PAIR_COLUMNS = Columns(required=("msisdn", "iccid"), aliases=(("号码", "msisdn"),))
# Pairing is warehouse work: once a number has left for a dealer its pack is fixed.
PAIRABLE_NUMBER = (NumberStatus.imported.value, NumberStatus.available.value)
# Pairs are written this many at a time, so that a long pairing can say how far it is.
_PAIR_CHUNK = 5_000


def find_sim_batch(session: Session, key: str) -> SimBatch:
    return find_by_code_or_id(session, SimBatch, key, "SIM batch")


def import_sims(
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
    """SIM cards from a file as one batch; `steps` hears how far each step is."""
    table = read_table(data, file, SIM_COLUMNS, encoding, limits, steps)
    checker = RowChecker(table, steps)
    parsed = checker.parse_rows({"iccid": parse_iccid, "imsi": parse_imsi}, ["iccid", "imsi"])
    iccids = sorted(i for i, _ in parsed.values())
    imsis = sorted(m for _, m in parsed.values())
    stored_iccids = existing_keys(session, SimCard.iccid, iccids, steps)
    stored_imsis = existing_keys(session, SimCard.imsi, imsis, steps)
    for row in table.rows:
        if row.line not in parsed:
            continue
        iccid, imsi = parsed[row.line]
        if iccid in stored_iccids:
            checker.reject(row, "iccid", "already in the system")
        elif imsi in stored_imsis:
            checker.reject(row, "imsi", "already in the system")
    if code:
        ensure_code_free(session, SimBatch, code)

    def write(good: list[Row]) -> tuple[str, str]:
        batch = SimBatch(
            id=new_id(),
            code=code or next_batch_code(session, SimBatch, "SIM"),
            source_name=file,
            item_count=len(good),
            created_by=actor,
        )
        session.add(batch)
        session.flush()
        stamp = db_timestamp()
        status = SimStatus.in_warehouse.value
        rows = ((*parsed[r.line], batch.id, status, 1, stamp) for r in good)
        insert_rows(
            session,
            "sim_card",
            ("iccid", "imsi", "batch_id", "status", "version", "updated_at"),
            rows,
            counting(steps, len(good), N_("Writing SIM cards"), progress),
        )
        audit.record(
            session,
            actor=actor,
            entity_type="sim_batch",
            entity_id=batch.id,
            action="import",
            to_status=status,
            item_count=len(good),
            reason=f"file {file}",
        )
        return batch.id, batch.code

    return finish_import(
        session, kind="sims", checker=checker, actor=actor, skip_bad_rows=skip_bad_rows, write=write
    )


def _apply_pairs(
    session: Session, pairs: list[tuple[str, str]], steps: Steps | None = None
) -> None:
    """Writes pairs with conditions so that a number or SIM changed meanwhile fails loudly
    (and nothing is paired), _PAIR_CHUNK at a time so that `steps` hears how far it is."""
    for start in range(0, len(pairs), _PAIR_CHUNK):
        if steps is not None:
            steps(start, len(pairs), N_("Pairing"))
        _apply_pair_chunk(session, pairs[start : start + _PAIR_CHUNK])
    if steps is not None:
        steps(len(pairs), len(pairs), N_("Pairing"))


def _apply_pair_chunk(session: Session, pairs: list[tuple[str, str]]) -> None:
    connection = session.connection()
    numbers = connection.execute(
        update(MobileNumber)
        .where(col(MobileNumber.msisdn) == bindparam("m"))
        .where(col(MobileNumber.iccid).is_(None))
        # An OR of equalities, not IN: expanding IN parameters cannot go through executemany.
        .where(or_(*(MobileNumber.status == status for status in PAIRABLE_NUMBER)))
        .values(iccid=bindparam("i"), version=MobileNumber.version + 1),
        [{"m": m, "i": i} for m, i in pairs],
    )
    sims = connection.execute(
        update(SimCard)
        .where(col(SimCard.iccid) == bindparam("i"))
        .where(col(SimCard.msisdn).is_(None))
        .where(SimCard.status == SimStatus.in_warehouse.value)
        .values(msisdn=bindparam("m"), version=SimCard.version + 1),
        [{"m": m, "i": i} for m, i in pairs],
    )
    if numbers.rowcount != len(pairs) or sims.rowcount != len(pairs):
        session.rollback()
        raise Conflict(
            "numbers or SIM cards changed while pairing; nothing was paired",
            code="pairing_conflict",
        )


def import_pairs(
    session: Session,
    data: bytes | IO[bytes],
    file: str,
    actor: str,
    *,
    skip_bad_rows: bool = False,
    encoding: str = "utf-8",
    limits: ImportLimits | None = None,
    steps: Steps | None = None,
) -> ImportReport:
    """Pairs from a file of msisdn, iccid; `steps` hears how far each step is."""
    table = read_table(data, file, PAIR_COLUMNS, encoding, limits, steps)
    checker = RowChecker(table, steps)
    parsed = checker.parse_rows({"msisdn": parse_msisdn, "iccid": parse_iccid}, ["msisdn", "iccid"])
    msisdns = [m for m, _ in parsed.values()]
    numbers = _lookup(session, MobileNumber, MobileNumber.msisdn, msisdns, steps)
    sims = _lookup(session, SimCard, SimCard.iccid, [i for _, i in parsed.values()], steps)
    for row in table.rows:
        if row.line not in parsed:
            continue
        msisdn, iccid = parsed[row.line]
        number, sim = numbers.get(msisdn), sims.get(iccid)
        if number is None:
            checker.reject(row, "msisdn", "not in the system")
        elif number.iccid is not None:
            checker.reject(row, "msisdn", f"already paired with {number.iccid}")
        elif number.status not in PAIRABLE_NUMBER:
            checker.reject(
                row, "msisdn", f"is {number.status}; only numbers in the warehouse can be paired"
            )
        elif sim is None:
            checker.reject(row, "iccid", "not in the system")
        elif sim.msisdn is not None:
            checker.reject(row, "iccid", f"already paired with {sim.msisdn}")
        elif sim.status != SimStatus.in_warehouse.value:
            checker.reject(
                row, "iccid", f"is {sim.status}; only SIMs in the warehouse can be paired"
            )

    def write(good: list[Row]) -> tuple[str | None, None]:
        pairs = [parsed[r.line] for r in good]
        _apply_pairs(session, pairs, steps)
        audit.record(
            session,
            actor=actor,
            entity_type="pairing",
            entity_id=file,
            action="pair",
            item_count=len(pairs),
            reason=f"file {file}",
        )
        return None, None

    return finish_import(
        session,
        kind="pairs",
        checker=checker,
        actor=actor,
        skip_bad_rows=skip_bad_rows,
        write=write,
    )


def _lookup(  # type: ignore[no-untyped-def]
    session: Session, model: type, key, values: list[str], steps: Steps | None = None
) -> dict:
    """Plain rows by key. Not ORM objects: the pairing writes with bulk UPDATEs, which would
    leave such objects stale in the session."""
    found = {}
    table = model.__table__  # type: ignore[attr-defined]
    for i in range(0, len(values), 500):
        if steps is not None:
            steps(i, len(values), N_("Looking up the numbers and SIM cards"))
        for row in session.connection().execute(select(table).where(key.in_(values[i : i + 500]))):
            found[getattr(row, key.key)] = row
    return found


def pair_in_order(
    session: Session,
    number_batch: str,
    sim_batch: str,
    actor: str,
    *,
    steps: Steps | None = None,
) -> PairingResult:
    """Pairs the batch's unpaired numbers with the SIM batch's free cards, both in order;
    `steps` hears how far the writing is."""
    numbers_of = find_batch(session, number_batch)
    sims_of = find_sim_batch(session, sim_batch)
    msisdns = session.exec(
        select(MobileNumber.msisdn)
        .where(MobileNumber.batch_id == numbers_of.id)
        .where(col(MobileNumber.iccid).is_(None))
        .where(col(MobileNumber.status).in_(PAIRABLE_NUMBER))
        .order_by(col(MobileNumber.msisdn))
    ).all()
    iccids = session.exec(
        select(SimCard.iccid)
        .where(SimCard.batch_id == sims_of.id)
        .where(col(SimCard.msisdn).is_(None))
        .where(SimCard.status == SimStatus.in_warehouse.value)
        .order_by(col(SimCard.iccid))
    ).all()
    pairs = list(zip(msisdns, iccids, strict=False))
    if not pairs:
        raise Conflict(
            f"nothing to pair: {len(msisdns)} unpaired numbers in {numbers_of.code}, "
            f"{len(iccids)} free SIM cards in {sims_of.code}",
            code="nothing_to_pair",
        )
    _apply_pairs(session, pairs, steps)
    audit.record(
        session,
        actor=actor,
        entity_type="pairing",
        entity_id=numbers_of.id,
        action="pair_in_order",
        item_count=len(pairs),
        reason=f"numbers {numbers_of.code} with SIM cards {sims_of.code}",
    )
    session.commit()
    return PairingResult(
        paired=len(pairs),
        unpaired_numbers=len(msisdns) - len(pairs),
        unpaired_sims=len(iccids) - len(pairs),
        first_pair=pairs[0],
        last_pair=pairs[-1],
    )


def get_sim(session: Session, iccid: str) -> SimCard:
    sim = session.get(SimCard, iccid.upper())
    if sim is None:
        raise NotFound(f"SIM card {iccid} not found")
    return sim


def list_sim_batches(session: Session, limit: int = 100) -> list[SimBatch]:
    return list(session.exec(select(SimBatch).order_by(col(SimBatch.id).desc()).limit(limit)))


@dataclass(frozen=True)
class SimSheet:
    """A SIM card's page: the card, its batch, the number it is paired with, its outlet."""

    sim: SimCard
    batch: SimBatch
    number: MobileNumber | None
    owner: Owner | None


def sim_sheet(session: Session, iccid: str) -> SimSheet:
    sim = session.get(SimCard, iccid)
    if sim is None:
        raise NotFound(
            N_("SIM card %(iccid)s is not in the system."),
            code="sim_not_found",
            params={"iccid": iccid},
        )
    batch = session.get(SimBatch, sim.batch_id)
    assert batch is not None  # a foreign key
    number = session.get(MobileNumber, sim.msisdn) if sim.msisdn else None
    return SimSheet(
        sim=sim,
        batch=batch,
        number=number,
        owner=owners(session, [sim.outlet_id]).get(sim.outlet_id or ""),
    )
