"""Builders for the terminal tests: a pulled outlet (stock, prices, grades, clerks) and codes."""

from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from pos_terminal.services.login import hash_pin
from pos_terminal.services.terminal import save_registration
from pos_terminal.store import Store
from pos_terminal.sync import apply_pull
from shared import pins
from shared.codes import luhn_check_digit, resident_id_check_char
from shared.overrides import OverrideCaps
from shared.sync import (
    ClerkState,
    DealerState,
    GradeState,
    OutletState,
    PriceListState,
    ProductPrice,
    PullResponse,
    StockItem,
)

TERMINAL_NO = 12
CLERK, CLERK_PIN = "clerk1", "1111"
MANAGER, MANAGER_PIN = "boss1", "9999"
# The terminal's device credential, as `register` stores it; its PIN verifier key with it.
CREDENTIAL = "terminal-1." + "s" * 43
PIN_KEY = pins.pin_key_for_credential(CREDENTIAL)
# The dealer's caps: 20 % below the list online, ¥200 either way offline, nothing above.
CAPS = OverrideCaps(max_discount_percent=20, max_markup_fen=0, offline_max_fen=20_000)
T0 = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)

PRICES = {
    "number:STD": 5_000,
    "number:G3": 60_000,
    "number:G4": 10_000,
    "voucher:5000": 5_000,
    "voucher:10000": 10_000,
}


def msisdn(n: int) -> str:
    return f"1390571{n:04d}"


def voucher(n: int, face: int = 5000) -> str:
    return f"{face:05d}2026{n:08d}"


def iccid(n: int) -> str:
    body = f"898600571026{n:07d}"
    return f"{body}{luhn_check_digit(body)}"


def resident_id(first17: str = "33060219900307123") -> str:
    return first17 + resident_id_check_char(first17)


class Clock:
    """A settable clock for the store, so windows and days can be crossed in a test."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@cache
def pin_verifiers() -> dict[str, str | None]:
    """What the back office sends this terminal for its clerks' PINs (argon2 is slow on
    purpose: hashed once per test run)."""
    return {
        CLERK: pins.make_verifier(PIN_KEY, hash_pin(CLERK_PIN)),
        MANAGER: pins.make_verifier(PIN_KEY, hash_pin(MANAGER_PIN)),
    }


def number_item(
    n: int,
    grade: str = "STD",
    status: str = "in_stock",
    *,
    paired: bool = False,
    document: str | None = None,
) -> StockItem:
    return StockItem(
        item_kind="number",
        item=msisdn(n),
        status=status,
        product=f"number:{grade}",
        in_outlet=True,
        iccid=iccid(n) if paired else None,
        document_number=document,
    )


def voucher_item(n: int, face: int = 5000, status: str = "in_stock") -> StockItem:
    return StockItem(
        item_kind="voucher",
        item=voucher(n, face),
        status=status,
        product=f"voucher:{face}",
        in_outlet=True,
    )


def pull_response(
    stock: list[StockItem],
    *,
    full: bool = True,
    dealer_status: str = "active",
    cursor: str = "c1",
    version: int = 1,
    prices: dict[str, int] | None = None,
    caps: OverrideCaps | None = CAPS,
) -> PullResponse:
    verifiers = pin_verifiers()
    return PullResponse(
        cursor=cursor,
        full=full,
        dealer=DealerState(code="D001", name="越城合作厅", status=dealer_status),
        outlet=OutletState(id="o1", code="O001", name="越城一号店", timezone="Asia/Shanghai"),
        stock=stock,
        price_list=PriceListState(
            version=version,
            effective_from=T0,
            prices=[
                ProductPrice(product=p, retail_fen=f, dealer_fen=f)
                for p, f in (prices or PRICES).items()
            ],
        ),
        grades=[
            GradeState(
                code="G3",
                name="三级靓号",
                rank=3,
                selection_fee_fen=10_000,
                prestore_fen=50_000,
                min_monthly_fen=8_800,
                lockin_months=12,
            ),
            GradeState(
                code="G4",
                name="四级靓号",
                rank=4,
                selection_fee_fen=0,
                prestore_fen=10_000,
                min_monthly_fen=3_800,
                lockin_months=12,
            ),
            GradeState(
                code="STD",
                name="普通号",
                rank=5,
                selection_fee_fen=0,
                prestore_fen=5_000,
                min_monthly_fen=0,
                lockin_months=0,
            ),
        ],
        clerks=[
            ClerkState(
                username=CLERK, full_name="张三", role="clerk", pin_verifier=verifiers[CLERK]
            ),
            ClerkState(
                username=MANAGER,
                full_name="李经理",
                role="dealer_manager",
                pin_verifier=verifiers[MANAGER],
            ),
        ],
        override_caps=caps,
    )


def default_stock() -> list[StockItem]:
    return [
        number_item(1, paired=True),
        number_item(2),
        number_item(1688, "G3"),
        number_item(88, "G4"),
        number_item(5088, "G4"),
        voucher_item(1),
        voucher_item(2),
        voucher_item(3, 10000),
    ]


def seeded_store(
    path: Path, clock: Clock | None = None, stock: list[StockItem] | None = None
) -> Store:
    store = Store(path, clock=clock or Clock())
    save_registration(store, "terminal-1", TERMINAL_NO)
    apply_pull(store, pull_response(default_stock() if stock is None else stock))
    return store
