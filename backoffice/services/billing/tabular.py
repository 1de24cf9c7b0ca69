"""Reading import files (CSV or XLSX) into rows with line numbers, and reporting bad rows."""

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import PurePath

from sqlmodel import Session

from backoffice.contracts.billing import ImportReport, RowErrorPublic
from backoffice.models import ImportJob
from backoffice.services.errors import ImportFileError, ImportRejected, InvalidInput
from shared.codes import CodeError
from shared.ids import new_id

REPORTED_ERRORS = 100
# Above 2**53 a spreadsheet number has already lost digits (ICCIDs typed as numbers).
_EXACT_FLOAT_LIMIT = 2**53


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    value: str
    reason: str


@dataclass(frozen=True)
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


def read_table(data: bytes, file: str, columns: Columns, encoding: str = "utf-8") -> Table:
    suffix = PurePath(file).suffix.lower()
    if suffix == ".xlsx" or data[:4] == b"PK\x03\x04":
        header, rows = _xlsx_rows(data, file)
    elif suffix in {".csv", ".txt", ""}:
        header, rows = _csv_rows(data, file, encoding)
    else:
        raise ImportFileError(
            f"{file}: unsupported file type {suffix!r}; use .csv or .xlsx", file=file
        )
    names: list[str] = []
    for index, name in enumerate(header, start=1):
        canonical = columns.canonical(name or "")
        if canonical is None:
            raise ImportFileError(
                f"{file} line 1, column {index}: unknown column {name!r}; "
                f"expected {columns.describe()}",
                file=file,
                line=1,
                column=str(name),
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
    table_rows = []
    for line, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue
        values = dict(zip(names, (c.strip() for c in cells), strict=False))
        if len(cells) != len(names):
            values["__shape__"] = f"{len(cells)} fields, the header has {len(names)}"
        table_rows.append(Row(line, values, cells))
    if not table_rows:
        raise ImportFileError(f"{file}: no data rows below the header", file=file)
    return Table(file, names, table_rows)


def _csv_rows(
    data: bytes, file: str, encoding: str
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in {"utf-8", "utf8"} else encoding
    try:
        text = data.decode(codec)
    except LookupError as exc:
        raise InvalidInput(f"unknown encoding {encoding!r}") from exc
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start : exc.start + 1].hex().upper()
        hint = " (GBK? import with encoding gbk)" if encoding.lower().startswith("utf") else ""
        raise ImportFileError(
            f"{file} line {line}: not valid {encoding}: byte 0x{byte}{hint}",
            file=file,
            line=line,
        ) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        records = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise ImportFileError(
            f"{file} line {reader.line_num}: {exc}", file=file, line=reader.line_num
        ) from exc
    if not records:
        raise ImportFileError(f"{file}: the file is empty", file=file)
    return records[0][1], records[1:]


def _xlsx_rows(data: bytes, file: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many unrelated types for a broken file
        raise ImportFileError(f"{file}: not a readable XLSX workbook ({exc})", file=file) from exc
    sheet = workbook.worksheets[0]
    rows: list[tuple[int, list[str]]] = []
    for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
        rows.append((line, [_cell_text(v) for v in values]))
    workbook.close()
    while rows and rows[0][1] and not rows[0][1][-1]:
        rows[0][1].pop()  # trailing empty header cells of a sheet's used range
    if not rows:
        raise ImportFileError(f"{file}: the first sheet is empty", file=file)
    width = len(rows[0][1])
    # Cells right of the header are dropped only when empty; filled ones make a bad row.
    return rows[0][1], [
        (line, cells[:width] if not any(cells[width:]) else cells) for line, cells in rows[1:]
    ]


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < _EXACT_FLOAT_LIMIT:
            return str(int(value))
        return repr(value)
    return str(value)


def code_error(line: int, column: str, value: str, exc: CodeError) -> RowError:
    return RowError(line, column, value, exc.reason)


class RowChecker:
    """Collects bad rows while a kind-specific check walks the table."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.errors: list[RowError] = []
        self._bad_lines: set[int] = set()

    def reject(self, row: Row, column: str, reason: str) -> None:
        self.errors.append(RowError(row.line, column, row.values.get(column, ""), reason))
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
        for row in self.table.rows:
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

    def rejected_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([*self.table.header, "line", "error"])
        reasons: dict[int, list[str]] = {}
        for e in self.errors:
            reasons.setdefault(e.line, []).append(f"{e.column}: {e.reason}")
        for row in self.table.rows:
            if row.line in reasons:
                writer.writerow([*row.raw, row.line, "; ".join(reasons[row.line])])
        return out.getvalue()


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
        errors_json=json.dumps([asdict(e) for e in checker.errors[:REPORTED_ERRORS]]),
        rejected_csv=checker.rejected_csv() if rejected else "",
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
    return ImportReport(
        job_id=job.id,
        kind=job.kind,
        file=job.file_name,
        outcome=job.outcome,  # type: ignore[arg-type]
        total_rows=job.total_rows,
        accepted_rows=job.accepted_rows,
        rejected_rows=job.rejected_rows,
        batch_code=batch_code,
        errors=[RowErrorPublic(**e) for e in json.loads(job.errors_json)],
        rejected_rows_url=f"/api/v1/imports/{job.id}/rejected.csv" if job.rejected_rows else None,
    )
