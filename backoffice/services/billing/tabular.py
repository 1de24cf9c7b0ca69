"""Reading import files (CSV or XLSX) into rows with line numbers, and reporting bad rows:
every value in a report is a bounded excerpt, and secret columns (top-up card PINs) are
masked in everything kept or shown."""

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, replace
from pathlib import PurePath
from typing import IO, Protocol

from sqlmodel import Session

from backoffice.contracts.billing import ImportReport, RowErrorPublic
from backoffice.core.config import Settings
from backoffice.core.i18n import N_
from backoffice.models import ImportJob
from backoffice.services.billing import sheets
from backoffice.services.billing.sheets import ImportLimits as ImportLimits
from backoffice.services.billing.sheets import check_size
from backoffice.services.errors import ImportFileError, ImportRejected
from shared.checks import excerpt, printable
from shared.codes import CodeError
from shared.ids import new_id

REPORTED_ERRORS = 100
# How much of a bad value a report repeats.
VALUE_EXCERPT = 100
# Columns never kept or shown in clear, by kind of import: only their last two characters.
MASKED_COLUMNS: dict[str, tuple[str, ...]] = {"vouchers": ("pin",)}
MASKED_NOTE = (
    "{columns} masked: only the last 2 characters are shown; re-enter them from the original "
    "file (the line numbers are the original file's)"
)


# Long work reports how far it is every this many rows (a job's progress; see Steps).
STEP_ROWS = 5_000


class Steps(Protocol):
    """How far a long import, generation or release is: a job's `ctx.progress` (rows done,
    out of how many if known, the step it is in as a catalog message). Cheap to call."""

    def __call__(self, done: int, total: int | None = None, phase: str | None = None) -> None: ...


def counting(
    steps: Steps | None,
    total: int | None,
    phase: str,
    then: Callable[[int], None] | None = None,
) -> Callable[[int], None] | None:
    """A callback of rows added (bulk.insert_rows's `progress`, the CLI's bar) that also
    reports the running count to `steps`; None when there is nothing to tell."""
    if steps is None:
        return then
    done = 0

    def add(rows: int) -> None:
        nonlocal done
        done += rows
        steps(done, total, phase)
        if then is not None:
            then(rows)

    return add


def mask(value: str) -> str:
    """A secret as reports show it: its last two characters. Masking twice changes nothing."""
    return "****" + value[-2:] if value else ""


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    column: str
    value: str
    reason: str


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    values: dict[str, str]
    raw: list[str]


@dataclass
class Table:
    file: str
    header: list[str]
    rows: list[Row]


@dataclass(frozen=True)
class Columns:
    """The columns a kind of import accepts: canonical names with accepted aliases."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()

    def canonical(self, name: str) -> str | None:
        key = name.strip().lower()
        for alias, canonical in self.aliases:
            if key == alias.lower():
                return canonical
        return key if key in self.required + self.optional else None

    def describe(self) -> str:
        names = list(self.required) + [f"{o} (optional)" for o in self.optional]
        return ", ".join(names)


def upload_name(name: str | None) -> str:
    """An uploaded file's name as it may be stored and shown: its last part, at most 100
    characters, NUL shown as ␀ (what the uploader's browser sends is not to be trusted)."""
    base = PurePath((name or "upload.csv").replace("\\", "/")).name or "upload.csv"
    return printable(base if len(base) <= 100 else base[:60] + "…" + base[-39:])


def read_table(
    source: bytes | IO[bytes],
    file: str,
    columns: Columns,
    encoding: str = "utf-8",
    limits: ImportLimits | None = None,
    steps: Steps | None = None,
) -> Table:
    """The file's rows under its header, read as a stream within the import limits; `steps`
    hears how many rows were read every STEP_ROWS."""
    limits = limits or ImportLimits.from_settings(Settings())
    stream: IO[bytes] = io.BytesIO(source) if isinstance(source, bytes) else source
    check_size(stream, file, limits)
    head = stream.read(4)
    stream.seek(0)
    suffix = PurePath(file).suffix.lower()
    if suffix == ".xlsx" or head == b"PK\x03\x04":
        rows = sheets.xlsx_rows(stream, file, limits)
    elif suffix in {".csv", ".txt", ""}:
        rows = sheets.csv_rows(stream, file, encoding, limits)
    else:
        raise ImportFileError(
            f"{file}: unsupported file type {excerpt(suffix, 20)!r}; use .csv or .xlsx", file=file
        )
    table_rows = []
    with closing(rows):  # a workbook is closed however the reading ends
        first = next(rows, None)
        if first is None:
            raise ImportFileError(f"{file}: the file is empty", file=file)
        names = _header(first[1], file, columns)
        for line, cells in rows:
            if not any(cell.strip() for cell in cells):
                continue
            values = dict(zip(names, (c.strip() for c in cells), strict=False))
            if len(cells) != len(names):
                values["__shape__"] = f"{len(cells)} fields, the header has {len(names)}"
            table_rows.append(Row(line, values, cells))
            if steps is not None and len(table_rows) % STEP_ROWS == 0:
                steps(len(table_rows), None, N_("Reading the file"))
    if not table_rows:
        raise ImportFileError(f"{file}: no data rows below the header", file=file)
    return Table(file, names, table_rows)


def _header(header: list[str], file: str, columns: Columns) -> list[str]:
    names: list[str] = []
    for index, name in enumerate(header, start=1):
        canonical = columns.canonical(name or "")
        if canonical is None:
            raise ImportFileError(
                f"{file} line 1, column {index}: unknown column {excerpt(name, 40)!r}; "
                f"expected {columns.describe()}",
                file=file,
                line=1,
                column=excerpt(name, 40),
            )
        if canonical in names:
            raise ImportFileError(
                f"{file} line 1: column {canonical!r} appears twice", file=file, line=1
            )
        names.append(canonical)
    missing = [c for c in columns.required if c not in names]
    if missing:
        raise ImportFileError(
            f"{file} line 1: missing column {', '.join(missing)}; expected {columns.describe()}",
            file=file,
            line=1,
            column=missing[0],
        )
    return names


class RowChecker:
    """Collects bad rows while a kind-specific check walks the table."""

    def __init__(self, table: Table, steps: Steps | None = None) -> None:
        self.table = table
        self.steps = steps
        self.errors: list[RowError] = []
        self._bad_lines: set[int] = set()

    def reject(self, row: Row, column: str, reason: str) -> None:
        value = excerpt(row.values.get(column, ""), VALUE_EXCERPT)
        self.errors.append(RowError(row.line, column, value, excerpt(reason, 200)))
        self._bad_lines.add(row.line)

    def parse(self, row: Row, column: str, parser: Callable[[str], str]) -> str | None:
        value = row.values.get(column, "")
        if not value:
            self.reject(row, column, "empty")
            return None
        try:
            return parser(value)
        except CodeError as exc:
            self.reject(row, column, exc.reason)
            return None

    def shape_ok(self, row: Row) -> bool:
        if "__shape__" in row.values:
            self.reject(row, "*", row.values["__shape__"])
            return False
        return True

    def parse_rows(
        self, parsers: Mapping[str, Callable[[str], str]], unique: Sequence[str] = ()
    ) -> dict[int, tuple[str, ...]]:
        """Each well-formed row's values parsed column by column, in `parsers` order, by line.
        A row whose value in a `unique` column repeats an earlier line's is rejected."""
        parsed: dict[int, tuple[str, ...]] = {}
        first_seen: dict[str, dict[str, int]] = {column: {} for column in unique}
        total = len(self.table.rows)
        for index, row in enumerate(self.table.rows, start=1):
            if self.steps is not None and index % STEP_ROWS == 0:
                self.steps(index, total, N_("Checking rows"))
            if not self.shape_ok(row):
                continue
            values = [self.parse(row, column, parser) for column, parser in parsers.items()]
            if any(value is None for value in values):
                continue
            record = dict(zip(parsers, values, strict=True))
            repeated = next((c for c in unique if record[c] in first_seen[c]), None)
            if repeated is not None:
                earlier = first_seen[repeated][record[repeated]]  # type: ignore[index]
                self.reject(row, repeated, f"duplicate of line {earlier}")
                continue
            for column in unique:
                first_seen[column][record[column]] = row.line  # type: ignore[index]
            parsed[row.line] = tuple(values)  # type: ignore[arg-type]
        return parsed

    def is_bad(self, row: Row) -> bool:
        return row.line in self._bad_lines

    def good_rows(self) -> list[Row]:
        return [r for r in self.table.rows if r.line not in self._bad_lines]

    def rejected_csv(self, masked: Sequence[str] = ()) -> str:
        """The bad rows as they came, with their line and errors; cells of `masked` columns
        (and every cell of a row whose fields do not line up with the header) masked."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        note = [MASKED_NOTE.format(columns=", ".join(masked))] if masked else []
        writer.writerow([*self.table.header, "line", "error", *(["note"] if masked else [])])
        reasons: dict[int, list[str]] = {}
        for e in self.errors:
            reasons.setdefault(e.line, []).append(f"{e.column}: {e.reason}")
        secret = {i for i, name in enumerate(self.table.header) if name in masked}
        for row in self.table.rows:
            if row.line in reasons:
                shifted = bool(masked) and len(row.raw) != len(self.table.header)
                cells = [
                    mask(cell) if shifted or i in secret else excerpt(cell, VALUE_EXCERPT)
                    for i, cell in enumerate(row.raw)
                ]
                writer.writerow([*cells, row.line, "; ".join(reasons[row.line]), *note])
        return out.getvalue()


def masked_rows(rows: Iterable[list[str]], kind: str) -> Iterator[list[str]]:
    """A stored rejected-rows CSV as it may be handed out: cells of the kind's masked columns
    masked again (rows kept before masking hold them in clear); a row that does not line up
    with the header keeps only its line and errors in clear."""
    masked = MASKED_COLUMNS.get(kind, ())
    header: list[str] | None = None
    for row in rows:
        if header is None or not masked:
            header = header or row
            yield row
            continue
        # The report's own columns (line, error, note) follow the file's.
        own = len(header) - header.index("line") if "line" in header else 0
        data = len(header) - own
        if len(row) == len(header):
            yield [
                mask(cell) if i < data and header[i] in masked else cell
                for i, cell in enumerate(row)
            ]
        else:
            yield [mask(cell) for cell in row[: len(row) - own]] + row[len(row) - own :]


def _reported(errors: list[RowError], masked: Sequence[str]) -> list[RowError]:
    return [replace(e, value=mask(e.value)) if e.column in masked else e for e in errors]


def finish_import(
    session: Session,
    *,
    kind: str,
    checker: RowChecker,
    actor: str,
    skip_bad_rows: bool,
    write: Callable[[list[Row]], tuple[str, str | None]],
) -> ImportReport:
    """Writes the good rows through `write` (returning batch id and code) unless bad rows
    forbid it; records the job either way. A rejected import writes nothing but its report."""
    table = checker.table
    masked = MASKED_COLUMNS.get(kind, ())
    good = checker.good_rows()
    rejected = len(table.rows) - len(good)
    job = ImportJob(
        id=new_id(),
        kind=kind,
        file_name=table.file,
        outcome="imported",
        total_rows=len(table.rows),
        accepted_rows=0,
        rejected_rows=rejected,
        errors_json=json.dumps(
            [asdict(e) for e in _reported(checker.errors[:REPORTED_ERRORS], masked)]
        ),
        rejected_csv=checker.rejected_csv(masked) if rejected else "",
        created_by=actor,
    )
    batch_code = None
    if rejected and (not skip_bad_rows or not good):
        session.rollback()
        job.outcome = "rejected"
        session.add(job)
        session.commit()
        report = job_report(job)
        reason = "no good rows" if skip_bad_rows else "nothing was imported"
        raise ImportRejected(
            f"{table.file}: {rejected} of {len(table.rows)} rows are bad; {reason}. "
            f"First: line {checker.errors[0].line}, {checker.errors[0].column}: "
            f"{checker.errors[0].reason}",
            report=report,
        )
    job.batch_id, batch_code = write(good)
    job.accepted_rows = len(good)
    job.outcome = "partial" if rejected else "imported"
    session.add(job)
    session.commit()
    return job_report(job, batch_code)


def job_report(job: ImportJob, batch_code: str | None = None) -> ImportReport:
    masked = MASKED_COLUMNS.get(job.kind, ())
    errors = [RowErrorPublic(**e) for e in json.loads(job.errors_json)]
    # Masked again on the way out: reports written before masking hold the values in clear.
    errors = [
        e.model_copy(update={"value": mask(e.value)}) if e.column in masked else e for e in errors
    ]
    return ImportReport(
        job_id=job.id,
        kind=job.kind,
        file=job.file_name,
        outcome=job.outcome,  # type: ignore[arg-type]
        total_rows=job.total_rows,
        accepted_rows=job.accepted_rows,
        rejected_rows=job.rejected_rows,
        batch_code=batch_code,
        errors=errors,
        rejected_rows_url=f"/api/v1/imports/{job.id}/rejected.csv" if job.rejected_rows else None,
        note=MASKED_NOTE.format(columns=", ".join(masked)) if masked and errors else None,
    )
