"""What every benchmark shares on its command line: `--help` from its docstring, its sizes
and concurrency as options, the PostgreSQL server to use, and its figures printed as one
JSON line at the end (after the readable lines) so that runs can be compared with `jq` or
a spreadsheet. Not a benchmark itself (`make bench` runs bench_*.py)."""

import argparse
import json
import os
import platform
import sys
from datetime import UTC, datetime
from typing import Any

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def parser(doc: str | None, *, postgres: bool = True) -> argparse.ArgumentParser:
    """An argument parser whose --help is the benchmark's docstring; with `postgres`, it
    takes --postgres-url (default HAOKA_BENCH_POSTGRES_URL, else the local server)."""
    p = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    if postgres:
        p.add_argument(
            "--postgres-url",
            default=os.environ.get("HAOKA_BENCH_POSTGRES_URL", DEFAULT_SERVER),
            help="a PostgreSQL server on which a throwaway database is made (default: "
            "HAOKA_BENCH_POSTGRES_URL, else %(default)s)",
        )
    return p


def positive(text: str) -> int:
    """An argparse type: a whole number >= 1 (underscores allowed: 1_000_000)."""
    value = int(text.replace("_", ""))
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number >= 1")
    return value


def counts(text: str) -> list[int]:
    """An argparse type: a comma-separated list of whole numbers >= 1 (32,256,1000)."""
    return [positive(part) for part in text.split(",") if part.strip()]


def emit(bench: str, args: argparse.Namespace, figures: dict[str, Any]) -> None:
    """One JSON line: the benchmark, when and where it ran, its arguments and its figures."""
    arguments = {k: v for k, v in vars(args).items() if k != "postgres_url"}
    record = {
        "bench": bench,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "host": platform.node(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "args": arguments,
        **figures,
    }
    print(json.dumps(record, ensure_ascii=False, default=str), flush=True)
    sys.stdout.flush()
