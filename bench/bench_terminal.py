"""Benchmark: scan-to-line in the terminal's sale service with 100,000 items in local stock.

Limit: p99 <= 5 ms per scan (classify, stock look-up with grade and price, line added).
Also shown: applying the full pull of that stock, and the first page of number searches.
Set HAOKA_BENCH_TERMINAL_ITEMS to change the stock size.
"""

import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pos_terminal.services.login import LoginService
from pos_terminal.services.sale import SaleService
from pos_terminal.services.shift import ShiftService
from pos_terminal.services.terminal import save_registration
from pos_terminal.store import Store
from pos_terminal.sync import apply_pull
from shared.codes import luhn_check_digit
from shared.sync import (
    DealerState,
    GradeState,
    OutletState,
    PriceListState,
    ProductPrice,
    PullResponse,
    StockItem,
)

ITEMS = int(os.environ.get("HAOKA_BENCH_TERMINAL_ITEMS", "100000"))
SCANS = 3_000
SCAN_LIMIT_MS = 5.0
SEARCHES = ["*88", "*8888", "1390571*", "13905?12345", "520"]
GRADES = ("STD", "G4", "G3")


def _iccid(n: int) -> str:
    body = f"898600571026{n:07d}"
    return f"{body}{luhn_check_digit(body)}"


def _stock(count: int) -> list[StockItem]:
    numbers = count * 7 // 10
    items = [
        StockItem(
            item_kind="number",
            item=f"139{n:08d}",
            status="in_stock",
            product=f"number:{GRADES[n % len(GRADES)]}",
            in_outlet=True,
            iccid=_iccid(n) if n % 2 else None,
        )
        for n in range(numbers)
    ]
    items += [
        StockItem(
            item_kind="voucher",
            item=f"05000{n:012d}",
            status="in_stock",
            product="voucher:5000",
            in_outlet=True,
        )
        for n in range(count - numbers)
    ]
    return items


def _pull(stock: list[StockItem]) -> PullResponse:
    return PullResponse(
        cursor="bench",
        full=True,
        dealer=DealerState(code="D", name="bench dealer", status="active"),
        outlet=OutletState(id="o", code="O", name="bench outlet", timezone="Asia/Shanghai"),
        stock=stock,
        price_list=PriceListState(
            version=1,
            effective_from="2026-01-01T00:00:00Z",  # type: ignore[arg-type]
            prices=[
                ProductPrice(product=p, retail_fen=f, dealer_fen=f)
                for p, f in (
                    ("number:STD", 5_000),
                    ("number:G4", 10_000),
                    ("number:G3", 60_000),
                    ("voucher:5000", 5_000),
                )
            ],
        ),
        grades=[
            GradeState(
                code=c,
                name=c,
                rank=i,
                selection_fee_fen=0,
                prestore_fen=0,
                min_monthly_fen=0,
                lockin_months=0,
            )
            for i, c in enumerate(GRADES)
        ],
        clerks=[],
    )


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "terminal.db")
        save_registration(store, "bench", 1)
        stock = _stock(ITEMS)
        started = time.perf_counter()
        apply_pull(store, _pull(stock))
        pull_s = time.perf_counter() - started
        ShiftService(store).open_shift("bench", 0)
        sales = SaleService(store, LoginService(store))
        rng = random.Random(7)
        codes = []
        for item in rng.sample(stock, SCANS):
            paired = item.iccid is not None and rng.random() < 0.3
            codes.append(item.iccid if paired else item.item)
        timings = []
        draft = sales.start("bench")
        for code in codes:
            assert code is not None
            started = time.perf_counter()
            sales.scan(draft, code)
            timings.append((time.perf_counter() - started) * 1000)
            sales.remove_line(draft, 0)
        searches = {}
        for pattern in SEARCHES:
            runs = []
            for _ in range(10):
                started = time.perf_counter()
                sales.search_numbers(pattern, limit=50)
                runs.append((time.perf_counter() - started) * 1000)
            searches[pattern] = statistics.median(runs)
        store.close()
    p50, p99 = statistics.median(timings), _p(timings, 99)
    print(f"local stock: {ITEMS:,} items; full pull applied in {pull_s:.2f} s")
    print(
        f"scan-to-line over {SCANS:,} scans: p50 {p50:.3f} ms, p99 {p99:.3f} ms, "
        f"max {max(timings):.3f} ms (ratio of p99 to the {SCAN_LIMIT_MS} ms limit: "
        f"{p99 / SCAN_LIMIT_MS:.3f})"
    )
    for pattern, ms in searches.items():
        print(f"number search {pattern!r}: first page in {ms:.2f} ms (median)")
    print("PASS" if p99 <= SCAN_LIMIT_MS else "FAIL")
    return 0


if __name__ == "__main__":
    sys.exit(main())
