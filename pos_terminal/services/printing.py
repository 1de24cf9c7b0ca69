"""The print queue: receipts wait in the store until the printer takes them; reprints on demand."""

import dataclasses
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from devices.ports import ActionResult, PrinterStatus
from devices.printer.receipt import Receipt
from pos_terminal.services.errors import PosError
from pos_terminal.services.receipts import (
    name_products,
    number_x_report,
    receipt_from_json,
    receipt_to_json,
)
from pos_terminal.store import Store, from_text, next_counter, to_text
from shared.ids import new_id

COPY_MARK = "** 重印 COPY **"
REPORT_KINDS = ("x_report", "z_report")
X_NUMBER = "x_number"  # the terminal's X report sequence (counters), as Z_NUMBER is for Z


class ReceiptSink(Protocol):
    """What the queue needs of a printer (EscposPrinter fits): status and print-once by id."""

    def status(self) -> PrinterStatus: ...

    def print_receipt(self, job_id: str, receipt: Receipt) -> ActionResult: ...


@dataclass(frozen=True)
class PrintJob:
    id: str
    created_at: datetime
    kind: str
    ref: str
    receipt: Receipt
    status: str
    attempts: int
    last_error: str | None


def enqueue(conn: sqlite3.Connection, at: datetime, kind: str, ref: str, receipt: Receipt) -> str:
    """Queues a receipt inside the caller's transaction: the act and its receipt commit together.

    An X or Z report gets its products' names from the store; an X report also the next number
    of the terminal's X sequence, which becomes its ref."""
    if kind in REPORT_KINDS:
        receipt = name_products(receipt, grade_names(conn))
    if kind == "x_report":
        receipt = number_x_report(receipt, next_counter(conn, X_NUMBER))
        ref = receipt.number
    return _insert(conn, at, kind, ref, receipt)


def grade_names(conn: sqlite3.Connection) -> dict[str, str]:
    """Number grades by code, as the last pull brought them."""
    return {row[0]: row[1] for row in conn.execute("SELECT code, name FROM grades")}


def _insert(conn: sqlite3.Connection, at: datetime, kind: str, ref: str, receipt: Receipt) -> str:
    job_id = new_id()
    conn.execute(
        "INSERT INTO print_jobs (id, created_at, kind, ref, receipt_json) VALUES (?, ?, ?, ?, ?)",
        (job_id, to_text(at), kind, ref, receipt_to_json(receipt)),
    )
    return job_id


def _job(row: sqlite3.Row) -> PrintJob:
    return PrintJob(
        id=row["id"],
        created_at=from_text(row["created_at"]),
        kind=row["kind"],
        ref=row["ref"],
        receipt=receipt_from_json(row["receipt_json"]),
        status=row["status"],
        attempts=row["attempts"],
        last_error=row["last_error"],
    )


class PrintQueue:
    """Prints queued receipts in order. A job leaves the queue only when the printer says it
    printed it; the printer remembers job ids, so a retry after a lost answer prints once."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def pending(self) -> list[PrintJob]:
        rows = self.store.conn.execute(
            "SELECT * FROM print_jobs WHERE status = 'pending' ORDER BY created_at, id"
        )
        return [_job(r) for r in rows]

    def waiting(self) -> int:
        """How many receipts wait, without reading them (the status bar polls this)."""
        row = self.store.conn.execute(
            "SELECT count(*) FROM print_jobs WHERE status = 'pending'"
        ).fetchone()
        return int(row[0])

    def get(self, job_id: str) -> PrintJob:
        row = self.store.conn.execute("SELECT * FROM print_jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise PosError("unknown_print_job", f"no print job {job_id}")
        return _job(row)

    def drain(self, printer: ReceiptSink) -> list[ActionResult]:
        """Prints waiting jobs oldest first, stopping at the first failure to keep the order."""
        results = []
        for job in self.pending():
            status = printer.status()
            if not status.can_print:
                result = ActionResult(
                    job.id,
                    ok=False,
                    message=f"printer {status.state.value}: {status.detail}".rstrip(": "),
                )
            else:
                try:
                    result = printer.print_receipt(job.id, job.receipt)
                except OSError as error:
                    result = ActionResult(job.id, ok=False, message=str(error))
            self._note(job.id, result)
            results.append(result)
            if not result.ok:
                break
        return results

    def _note(self, job_id: str, result: ActionResult) -> None:
        with self.store.write() as conn:
            if result.ok:
                conn.execute(
                    "UPDATE print_jobs SET status = 'printed', printed_at = ?, "
                    "attempts = attempts + 1, last_error = NULL WHERE id = ?",
                    (to_text(self.store.now()), job_id),
                )
            else:
                conn.execute(
                    "UPDATE print_jobs SET attempts = attempts + 1, last_error = ? WHERE id = ?",
                    (result.message, job_id),
                )

    def reprint(self, ref: str) -> str:
        """Queues the latest receipt for a receipt number (or Z number) again, marked as a copy."""
        row = self.store.conn.execute(
            "SELECT * FROM print_jobs WHERE ref = ? ORDER BY created_at DESC LIMIT 1", (ref,)
        ).fetchone()
        if row is None:
            raise PosError("nothing_to_reprint", f"no receipt {ref} on this terminal")
        original = _job(row)
        copy = original.receipt
        if COPY_MARK not in copy.header:
            # In the header, not the title: the enlarged title has only half the columns.
            copy = dataclasses.replace(copy, header=(COPY_MARK, *copy.header))
        with self.store.write() as conn:
            return _insert(conn, self.store.now(), original.kind, ref, copy)
