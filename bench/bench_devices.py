"""Benchmark: rendering a 20-line receipt with barcode and QR to ESC/POS bytes (native Chinese
mode and raster image), and decoding plus classifying a keyboard-wedge scan.

Limits: receipt rendering <= 20 ms; scan decode <= 1 ms per code. Figures and ratios are
printed, not asserted (the exit status is 0).
"""

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import _cli
from evdev import ecodes

from devices.printer import AmountLine, ItemLine, Receipt, encode_receipt
from devices.scanner.decode import KeyDecoder, classify_scan
from shared.codes import format_receipt_number

RENDER_LIMIT_MS, DECODE_LIMIT_MS = 20.0, 1.0
DOWN, UP = 1, 0


def _receipt() -> Receipt:
    number = format_receipt_number(12, 3455)
    items = tuple(
        ItemLine(f"号卡 1390575{i:04d} 普通号" if i % 2 else f"充值卡 ¥50 Top-up {i}", 1, 5_000)
        for i in range(20)
    )
    return Receipt(
        number=number,
        title="号卡营业厅 HaoKa",
        header=("越城区解放路网点", "收银员 王芳"),
        items=items,
        totals=(AmountLine("合计 Total", 100_000),),
        payments=(AmountLine("现金 Cash", 100_000),),
        change_fen=0,
        footer=("谢谢惠顾",),
        qr_payload=f"https://haoka.example/r/{number}",
    )


def _median_ms(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _scan_events(code: str) -> list[tuple[int, int]]:
    events: list[tuple[int, int]] = []
    for char in code:
        key = getattr(ecodes, f"KEY_{char.upper()}")
        press = [(key, DOWN), (key, UP)]
        shift = ecodes.KEY_LEFTSHIFT
        events += [(shift, DOWN), *press, (shift, UP)] if char.isalpha() else press
    return [*events, (ecodes.KEY_ENTER, DOWN), (ecodes.KEY_ENTER, UP)]


def bench_receipts(repeat: int) -> dict[str, Any]:
    receipt = _receipt()
    figures: dict[str, Any] = {}
    for profile in ("58mm", "80mm"):
        for chinese in ("native", "raster"):
            ms = _median_ms(lambda p=profile, c=chinese: encode_receipt(receipt, p, c), repeat)
            print(
                f"receipt {profile} {chinese:>6} (20 lines, barcode, QR): {ms:6.2f} ms  "
                f"(ratio to {RENDER_LIMIT_MS:.0f} ms limit: {ms / RENDER_LIMIT_MS:.2f})"
            )
            figures[f"{profile}_{chinese}"] = {
                "median_ms": round(ms, 3),
                "ratio": round(ms / RENDER_LIMIT_MS, 3),
            }
    return {"receipt": figures, "limit_receipt_ms": RENDER_LIMIT_MS}


def bench_scan_decode(rounds: int) -> dict[str, Any]:
    events = _scan_events(format_receipt_number(12, 3455)) + _scan_events("13905758888")
    decoder = KeyDecoder()

    def decode_all() -> None:
        for _ in range(rounds):
            for key, value in events:
                if (code := decoder.feed(key, value)) is not None:
                    classify_scan(code, "bench")

    per_code = _median_ms(decode_all, 5) / (rounds * 2)
    print(
        f"scan decode + classify: {per_code * 1000:6.1f} µs per code  "
        f"(ratio to {DECODE_LIMIT_MS:.0f} ms limit: {per_code / DECODE_LIMIT_MS:.3f})"
    )
    return {
        "scan_decode_us_per_code": round(per_code * 1000, 2),
        "limit_scan_decode_ms": DECODE_LIMIT_MS,
        "scan_decode_ratio": round(per_code / DECODE_LIMIT_MS, 4),
    }


def main() -> int:
    parser = _cli.parser(__doc__, postgres=False)
    parser.add_argument(
        "--receipts",
        type=_cli.positive,
        default=30,
        help="renderings of each receipt kind timed (median shown; default %(default)s)",
    )
    parser.add_argument(
        "--scan-rounds",
        type=_cli.positive,
        default=5_000,
        help="rounds of two scanned codes per timed run (default %(default)s)",
    )
    args = parser.parse_args()
    figures = bench_receipts(args.receipts) | bench_scan_decode(args.scan_rounds)
    _cli.emit("devices", args, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
