"""Benchmark: scan-to-line in the terminal's sale service with 100,000 items in local stock.

Limit: p99 <= 5 ms per scan (classify, stock look-up with grade and price, line added).
Also shown: applying the full pull of that stock, and the first page of number searches
(median of 10 runs each). --items sets the stock size (default HAOKA_BENCH_TERMINAL_ITEMS,
else 100,000), --scans the timed scans. Figures and ratios are printed, not asserted (the
exit status is 0).
"""

import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _cli

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

SCAN_LIMIT_MS = 5.0
GRADES = ("STD", "G4", "G3")


def _iccid(n: int) -> str:
    body = f"898600571026{n:07d}"
    return f"{body}{luhn_check_digit(body)}"


def _searches(count: int) -> list[str]:
    """Patterns each matching some of the stock's numbers (139 and eight digits, 0 up to 7/10
    of the items) at any size: two, four and rarer final digits (nines matching about ten
    numbers), a `?` pattern, "contains" and the first nine digits of the middle number."""
    numbers = max(count * 7 // 10, 1)
    last = f"139{numbers - 1:08d}"
    middle = f"139{numbers // 2:08d}"
    rare = "9" * max(1, len(str(numbers // 10)) - 1)
    return ["*88", "*8888", f"*{rare}", f"{last[:6]}?{last[7:]}", "520", f"{middle[:9]}*"]


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
    parser = _cli.parser(__doc__, postgres=False)
    parser.add_argument(
        "--items",
        type=_cli.positive,
        default=int(os.environ.get("HAOKA_BENCH_TERMINAL_ITEMS", "100000")),
        help="items in local stock, 7 in 10 of them numbers (default %(default)s)",
    )
    parser.add_argument(
        "--scans", type=_cli.positive, default=3_000, help="timed scans (default %(default)s)"
    )
    args = parser.parse_args()
    items, scans = args.items, min(args.scans, args.items)
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "terminal.db")
        save_registration(store, "bench", 1)
        stock = _stock(items)
        started = time.perf_counter()
        apply_pull(store, _pull(stock))
        pull_s = time.perf_counter() - started
        ShiftService(store).open_shift("bench", 0)
        sales = SaleService(store, LoginService(store))
        rng = random.Random(7)
        codes = []
        for item in rng.sample(stock, scans):
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
        for pattern in _searches(items):
            runs = []
            for _ in range(10):
                started = time.perf_counter()
                sales.search_numbers(pattern, limit=50)
                runs.append((time.perf_counter() - started) * 1000)
            searches[pattern] = statistics.median(runs)
        store.close()
    p50, p99 = statistics.median(timings), _p(timings, 99)
    print(f"local stock: {items:,} items; full pull applied in {pull_s:.2f} s")
    print(
        f"scan-to-line over {scans:,} scans: p50 {p50:.3f} ms, p99 {p99:.3f} ms, "
        f"max {max(timings):.3f} ms (ratio of p99 to the {SCAN_LIMIT_MS} ms limit: "
        f"{p99 / SCAN_LIMIT_MS:.3f})"
    )
    for pattern, ms in searches.items():
        print(f"number search {pattern!r}: first page in {ms:.2f} ms (median)")
    print("PASS" if p99 <= SCAN_LIMIT_MS else "FAIL")
    _cli.emit(
        "terminal",
        args,
        {
            "pull_s": round(pull_s, 3),
            "scan_p50_ms": round(p50, 4),
            "scan_p99_ms": round(p99, 4),
            "scan_max_ms": round(max(timings), 4),
            "limit_scan_p99_ms": SCAN_LIMIT_MS,
            "scan_ratio": round(p99 / SCAN_LIMIT_MS, 4),
            "search_median_ms": {p: round(ms, 3) for p, ms in searches.items()},
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
