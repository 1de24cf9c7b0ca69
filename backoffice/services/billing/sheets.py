"""Streaming readers of import files, CSV and XLSX, that enforce the import limits while they
read: the file's size, the size a workbook unzips to, the number of rows, the length of a
cell. A file past a limit is refused at once, naming the limit and where it was passed."""

import codecs
import csv
import zipfile
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import IO

from backoffice.core.config import Settings
from backoffice.domain.encodings import import_codec
from backoffice.services.errors import ImportFileError, InvalidInput
from shared.checks import excerpt

# Cells right of these are not read (our imports have at most three columns): a workbook whose
# rows claim 16,384 columns costs no more than one with a few.
MAX_COLUMNS = 32
# XML compresses about 5–20 times; far more is a zip bomb, refused before it is parsed.
MAX_ZIP_RATIO = 100
_RATIO_CHECKED_FROM = 1_000_000  # bytes unzipped; small parts may compress as they like
MAX_ZIP_MEMBERS = 1_000
# Above 2**53 a spreadsheet number has already lost digits (ICCIDs typed as numbers).
_EXACT_FLOAT_LIMIT = 2**53

Cells = list[str]
# (line, cells) of each record; closing it closes the file it reads.
Rows = Generator[tuple[int, Cells], None, None]


@dataclass(frozen=True)
class ImportLimits:
    """What an import file may hold (settings HAOKA_IMPORT_MAX_*)."""

    upload_bytes: int
    unzipped_bytes: int
    rows: int
    cell_chars: int

    @classmethod
    def from_settings(cls, settings: Settings) -> "ImportLimits":
        return cls(
            upload_bytes=settings.import_max_upload_bytes,
            unzipped_bytes=settings.import_max_unzipped_bytes,
            rows=settings.import_max_rows,
            cell_chars=settings.import_max_cell_chars,
        )

    @property
    def line_bytes(self) -> int:
        """The longest CSV line worth reading: every column at the longest cell, UTF-8."""
        return MAX_COLUMNS * (4 * self.cell_chars + 3)


def check_size(stream: IO[bytes], file: str, limits: ImportLimits) -> None:
    """Refuses a file larger than the upload limit, before anything of it is parsed."""
    size = stream.seek(0, 2)
    stream.seek(0)
    if size > limits.upload_bytes:
        raise ImportFileError(
            f"{file}: {size:,} bytes is more than the {limits.upload_bytes:,} bytes an import "
            "file may have (HAOKA_IMPORT_MAX_UPLOAD_BYTES); split it",
            code="import_too_large",
            file=file,
        )


def _cell_limit(
    file: str, line: int, column: str, length: int, limits: ImportLimits
) -> ImportFileError:
    return ImportFileError(
        f"{file} line {line}, column {column}: a cell of {length:,} characters; a cell may "
        f"have at most {limits.cell_chars:,} (HAOKA_IMPORT_MAX_CELL_CHARS)",
        code="import_too_large",
        file=file,
        line=line,
        column=column,
    )


def _row_limit(file: str, line: int, limits: ImportLimits) -> ImportFileError:
    return ImportFileError(
        f"{file} line {line:,}: more than {limits.rows:,} rows, the most an import may have "
        "(HAOKA_IMPORT_MAX_ROWS); split the file",
        code="import_too_large",
        file=file,
        line=line,
    )


# --- CSV --------------------------------------------------------------------------------------


def csv_rows(stream: IO[bytes], file: str, encoding: str, limits: ImportLimits) -> Rows:
    """(line, cells) for each record, read a line at a time."""
    try:
        codec = import_codec(encoding)
    except ValueError as exc:
        raise InvalidInput(f"encoding: {exc}", code="unsupported_encoding") from exc
    decoder = codecs.getincrementaldecoder(codec)(errors="strict")
    reader = csv.reader(_decoded_lines(stream, file, encoding, decoder, limits))
    try:
        for cells in reader:
            line = reader.line_num
            if line > limits.rows + 1:
                raise _row_limit(file, line, limits)
            for index, cell in enumerate(cells, start=1):
                if len(cell) > limits.cell_chars:
                    raise _cell_limit(file, line, str(index), len(cell), limits)
            yield line, cells
    except csv.Error as exc:
        raise ImportFileError(
            f"{file} line {reader.line_num}: {excerpt(str(exc))}", file=file, line=reader.line_num
        ) from exc


def _decoded_lines(
    stream: IO[bytes],
    file: str,
    encoding: str,
    decoder: codecs.IncrementalDecoder,
    limits: ImportLimits,
) -> Iterator[str]:
    line = 0
    while raw := stream.readline(limits.line_bytes + 1):
        line += 1
        if len(raw) > limits.line_bytes:
            raise ImportFileError(
                f"{file} line {line}: longer than {limits.line_bytes:,} bytes; a cell may have "
                f"at most {limits.cell_chars:,} characters (HAOKA_IMPORT_MAX_CELL_CHARS)",
                code="import_too_large",
                file=file,
                line=line,
            )
        try:
            yield decoder.decode(raw)
        except UnicodeDecodeError as exc:
            byte = raw[exc.start : exc.start + 1].hex().upper()
            hint = " (GBK? import with encoding gbk)" if encoding.lower().startswith("utf") else ""
            raise ImportFileError(
                f"{file} line {line}: not valid {encoding}: byte 0x{byte}{hint}",
                file=file,
                line=line,
            ) from exc
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise ImportFileError(
            f"{file} line {line}: not valid {encoding}: the file ends inside a character",
            file=file,
            line=line,
        ) from exc


# --- XLSX -------------------------------------------------------------------------------------


def check_workbook(stream: IO[bytes], file: str, limits: ImportLimits) -> None:
    """Looks at the zip's members before any is parsed: their number, the size they unzip to
    (the zip module never unzips more than a member declares) and how far they expand."""
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ImportFileError(
            f"{file}: not a readable XLSX workbook ({excerpt(str(exc))})", file=file
        ) from exc
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise ImportFileError(
                f"{file}: {len(members):,} parts; a workbook may have at most {MAX_ZIP_MEMBERS:,}",
                code="import_too_large",
                file=file,
            )
        total = 0
        for member in members:
            total += member.file_size
            name = excerpt(member.filename, 80)
            if total > limits.unzipped_bytes:
                raise ImportFileError(
                    f"{file}: the workbook unzips to more than {limits.unzipped_bytes:,} bytes "
                    f"(at part {name}, {member.file_size:,} bytes); the limit is "
                    "HAOKA_IMPORT_MAX_UNZIPPED_BYTES",
                    code="import_too_large",
                    file=file,
                )
            compressed = max(member.compress_size, 1)
            if (
                member.file_size >= _RATIO_CHECKED_FROM
                and member.file_size > MAX_ZIP_RATIO * compressed
            ):
                raise ImportFileError(
                    f"{file}: part {name} unzips from {member.compress_size:,} to "
                    f"{member.file_size:,} bytes, more than {MAX_ZIP_RATIO} times: refused as a "
                    "zip bomb",
                    code="import_too_large",
                    file=file,
                )
    stream.seek(0)


def xlsx_rows(stream: IO[bytes], file: str, limits: ImportLimits) -> Rows:
    """(line, cells) for each row of the first sheet, streamed (openpyxl's read-only mode), at
    most MAX_COLUMNS cells each: as wide as the header row, and wider only where a cell right of
    it is filled."""
    from openpyxl import load_workbook
    from openpyxl.utils import get_column_letter

    check_workbook(stream, file, limits)
    try:
        workbook = load_workbook(stream, read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
    except Exception as exc:  # openpyxl raises many unrelated types for a broken file
        raise ImportFileError(
            f"{file}: not a readable XLSX workbook ({excerpt(str(exc))})", file=file
        ) from exc
    title = excerpt(sheet.title, 40)
    # The stored dimension may claim a million rows and columns: read what is there instead.
    sheet.reset_dimensions()
    line = width = 0
    try:
        for line, values in enumerate(
            sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True), start=1
        ):
            if line > limits.rows + 1:
                raise _row_limit(f"{file} sheet {title}", line, limits)
            cells = [_cell_text(v) for v in values]
            while len(cells) > width and not cells[-1]:
                cells.pop()
            width = width or len(cells)
            cells += [""] * (width - len(cells))
            for index, cell in enumerate(cells, start=1):
                if len(cell) > limits.cell_chars:
                    column = get_column_letter(index)
                    raise _cell_limit(f"{file} sheet {title}", line, column, len(cell), limits)
            yield line, cells
    except ImportFileError:
        raise
    except Exception as exc:
        raise ImportFileError(
            f"{file} sheet {title} line {line + 1}: not readable ({excerpt(str(exc))})",
            file=file,
            line=line + 1,
        ) from exc
    finally:
        workbook.close()


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
