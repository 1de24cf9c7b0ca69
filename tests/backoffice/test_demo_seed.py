"""The demo's seeded back office: what `make demo` shows a newcomer must be really there."""

from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from backoffice.core.config import Settings
from backoffice.demo import DEMO_PASSWORD, HISTORY_DAYS, HISTORY_OUTLET, seed
from backoffice.models import Outlet, Sale, SaleLine


def test_the_demo_seeds_a_terminal_and_weeks_of_sales_to_look_at(
    settings: Settings, client: TestClient, session: Session
) -> None:
    terminal = seed(settings)
    assert terminal.outlet == "D0575-01"
    token = client.post(
        "/api/v1/auth/token", data={"username": "manager", "password": DEMO_PASSWORD}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    today = date.today()
    window = {"start": str(today - timedelta(days=HISTORY_DAYS + 2)), "end": str(today)}
    outlets = client.get("/api/v1/statistics/top-outlets", params=window, headers=headers).json()
    assert [row["code"] for row in outlets] == [HISTORY_OUTLET[0]]
    history = outlets[0]
    # Every seeded sale was accepted (the seed refuses otherwise) and every one is counted.
    lines = session.exec(
        select(SaleLine)
        .join(Sale, col(Sale.id) == SaleLine.sale_id)
        .join(Outlet, col(Outlet.id) == Sale.outlet_id)
        .where(Outlet.code == HISTORY_OUTLET[0])
    ).all()
    assert history["sold_count"] == len(lines) >= HISTORY_DAYS
    assert history["returned_count"] == sum(line.returned_at is not None for line in lines)
    weeks = client.get(
        "/api/v1/statistics/sales",
        params={**window, "grain": "week", "by": "product"},
        headers=headers,
    ).json()
    assert {row["key"] for row in weeks} >= {"number:STD", "voucher:5000"}
    assert sum(row["sold_count"] for row in weeks) == history["sold_count"]
    assert all(date.fromisoformat(row["period"]).weekday() == 0 for row in weeks)
    stock = client.get(
        "/api/v1/statistics/stock", params={"outlet": terminal.outlet}, headers=headers
    ).json()
    assert {(row["item_kind"], row["on_hand"]) for row in stock} == {
        ("number", 325),
        ("voucher", 200),
    }


def test_the_dashboard_shows_the_quarter_the_month_and_the_best_outlets(
    settings: Settings, client: TestClient
) -> None:
    seed(settings)
    token = client.post(
        "/api/v1/auth/token", data={"username": "manager", "password": DEMO_PASSWORD}
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    day = date.today() - timedelta(days=1)
    board = client.get("/api/v1/statistics/dashboard", params={"day": str(day)}, headers=headers)
    assert board.status_code == 200, board.text
    body = board.json()
    quarter = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    assert (body["quarter_start"], body["month_start"]) == (str(quarter), str(day.replace(day=1)))
    window = {"start": body["quarter_start"], "end": str(day)}
    by_day = client.get("/api/v1/statistics/sales", params=window, headers=headers).json()
    assert body["sales_by_day"] == by_day
    month = {"start": body["month_start"], "end": str(day)}
    top = client.get("/api/v1/statistics/top-outlets", params=month, headers=headers).json()
    assert body["top_outlets"] == top
    assert [row["key"] for row in body["sales_by_dealer"]] == ["D0575"]
    assert body["sales_by_dealer"][0]["sold_count"] == sum(r["sold_count"] for r in top)
