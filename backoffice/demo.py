"""`make demo`: a fresh SQLite back office with demo users, stock and a running server."""

from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from backoffice import migrate
from backoffice.contracts import SegmentRequest, UserCreate, VoucherGenerateRequest
from backoffice.core.config import Settings
from backoffice.core.crypto import PinCipher
from backoffice.db import make_engine
from backoffice.domain.roles import Role
from backoffice.services import numbers, releases, sims, users, vouchers
from shared.codes import luhn_check_digit

# Demo-only accounts on a throwaway local database, printed at start so anyone can log in.
DEMO_USERS = (
    ("admin", Role.admin, "系统管理员"),
    ("billing", Role.billing, "营账员 王芳"),
    ("sales", Role.sales_centre, "销售中心 李强"),
    ("manager", Role.manager, "经理 陈静"),
    ("clerk", Role.clerk, "营业员 赵敏"),
)
DEMO_PASSWORD = "haoka-demo"


def demo_sim_csv(count: int, first: int = 0) -> bytes:
    """A SIM batch file: China Mobile ICCIDs (Luhn-checked) with matching IMSIs."""
    lines = ["iccid,imsi"]
    for n in range(first, first + count):
        body = f"898600571026{n:07d}"
        lines.append(f"{body}{luhn_check_digit(body)},46000571{n:07d}")
    return ("\n".join(lines) + "\n").encode()


def seed(settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            for username, role, full_name in DEMO_USERS:
                users.create_user(
                    session,
                    UserCreate(
                        username=username, password=DEMO_PASSWORD, role=role, full_name=full_name
                    ),
                    "demo",
                )
            segment = numbers.generate_segment(
                session, SegmentRequest(prefix="1390575", start=0, end=9999), "billing"
            )
            report = sims.import_sims(session, demo_sim_csv(10_000), "demo-sims.csv", "billing")
            sims.pair_in_order(session, segment.code, report.batch_code or "", "billing")
            releases.release_numbers(session, segment.code, "billing", "demo release")
            numbers.generate_segment(
                session, SegmentRequest(prefix="1390576", start=0, end=999), "billing"
            )
            cards = vouchers.generate_vouchers(
                session,
                VoucherGenerateRequest(
                    first_serial="10575000000000001",
                    count=1000,
                    face_value_fen=5000,
                    dealer_price_fen=4850,
                    expires_on=date(date.today().year + 2, 12, 31),
                ),
                PinCipher.from_settings(settings),
                "billing",
            )
            releases.release_vouchers(session, cards.batch.code, "billing", "demo release")
    finally:
        engine.dispose()


def run_demo(data_dir: Path, port: int, host: str = "127.0.0.1") -> None:
    import uvicorn

    from backoffice.api.main import create_app

    data_dir.mkdir(parents=True, exist_ok=True)
    database = data_dir / "haoka.db"
    for stale in data_dir.glob("haoka.db*"):
        stale.unlink()
    settings = Settings(database_url=f"sqlite:///{database}", data_dir=data_dir)
    migrate.upgrade(settings.database_url)
    seed(settings)

    console = Console()
    base = f"http://{host}:{port}"
    console.print(f"\n[bold]HaoKa back office[/bold] on {base}  (data in {data_dir})")
    console.print(f"  API and OpenAPI docs: {base}/docs")
    table = Table("user", "role", "password")
    for username, role, _ in DEMO_USERS:
        table.add_row(username, role.value, DEMO_PASSWORD)
    console.print(table)
    console.print(
        "Demo stock: segment 1390575 (10,000 numbers, paired and released), segment 1390576 "
        "(1,000 numbers, not yet released), 1,000 top-up cards of ¥50 (released).\n"
        "Try: HAOKA_DATA_DIR=var/demo DATABASE_URL=sqlite:///var/demo/haoka.db "
        ".venv/bin/haoka-office search-numbers '*88'\n"
    )
    uvicorn.run(create_app(settings), host=host, port=port)
