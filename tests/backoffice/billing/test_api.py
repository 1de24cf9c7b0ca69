"""The billing centre over HTTP: its flow, import reports and downloads, error bodies."""

from collections.abc import Callable

from fastapi.testclient import TestClient

from backoffice.domain.users import Role
from tests.backoffice.helpers import csv_bytes, iccid

Login = Callable[[Role], dict[str, str]]


def test_billing_flow_over_http(client: TestClient, login: Login) -> None:
    billing = login(Role.billing)
    reply = client.post(
        "/api/v1/number-batches/segment",
        headers=billing,
        json={"prefix": "1390575", "start": 0, "end": 9999, "code": "SEG-1"},
    )
    assert reply.status_code == 201, reply.text
    assert reply.json()["grade_counts"]["G1"] > 0

    number = client.get("/api/v1/numbers/13905758888", headers=billing).json()
    assert number["grade_code"] != "STD" and number["status"] == "imported"

    sims_file = csv_bytes("iccid,imsi", *(f"{iccid(n)},46000571{n:07d}" for n in range(10_000)))
    reply = client.post(
        "/api/v1/sim-batches/import",
        headers=billing,
        files={"file": ("sims.csv", sims_file, "text/csv")},
        data={"code": "SIM-1"},
    )
    assert reply.status_code == 201, reply.text
    reply = client.post(
        "/api/v1/sim-pairings/in-order",
        headers=billing,
        json={"number_batch": "SEG-1", "sim_batch": "SIM-1"},
    )
    assert reply.json()["paired"] == 10_000

    cards = csv_bytes("serial,pin", "10575000000000001,1234567890123456789")
    reply = client.post(
        "/api/v1/voucher-batches/import",
        headers=billing,
        files={"file": ("cards.csv", cards, "text/csv")},
        data={
            "face_value_fen": "5000",
            "dealer_price_fen": "4850",
            "expires_on": "2099-12-31",
            "code": "CARD-1",
        },
    )
    assert reply.status_code == 201, reply.text

    for kind, batch in (("numbers", "SEG-1"), ("vouchers", "CARD-1")):
        reply = client.post(
            "/api/v1/releases", headers=billing, json={"item_kind": kind, "batch": batch}
        )
        assert reply.status_code == 201, reply.text
        document = reply.json()["number"]
        assert client.get(f"/api/v1/releases/{document}", headers=billing).json()["kind"] == "RL"

    sales = login(Role.sales_centre)
    page = client.get(
        "/api/v1/numbers", params={"pattern": "*88", "status": "available"}, headers=sales
    ).json()
    assert len(page["items"]) == 50 and page["next_after"]
    assert all(n["msisdn"].endswith("88") and n["iccid"] for n in page["items"])
    card = client.get("/api/v1/vouchers/10575000000000001", headers=sales).json()
    assert card["status"] == "in_warehouse" and "pin" not in card

    audit = client.get(
        "/api/v1/audit", params={"entity_type": "number_batch"}, headers=login(Role.manager)
    ).json()
    assert {e["action"] for e in audit} == {"generate", "release"}


def test_rejected_rows_of_a_file_named_in_chinese_download_under_its_name(
    client: TestClient, login: Login
) -> None:
    billing = login(Role.billing)
    reply = client.post(
        "/api/v1/number-batches/import",
        headers=billing,
        files={"file": ("新号码.csv", csv_bytes("msisdn", "bad"), "text/csv")},
    )
    download = client.get(reply.json()["report"]["rejected_rows_url"], headers=billing)
    assert download.status_code == 200
    assert download.headers["content-disposition"] == (
        'attachment; filename="___-rejected.csv"; '
        "filename*=UTF-8''%E6%96%B0%E5%8F%B7%E7%A0%81-rejected.csv"
    )


def test_import_rejection_over_http_has_report_and_download(
    client: TestClient, login: Login
) -> None:
    billing = login(Role.billing)
    data = csv_bytes("msisdn", "13812345678", "bad")
    reply = client.post(
        "/api/v1/number-batches/import",
        headers=billing,
        files={"file": ("n.csv", data, "text/csv")},
    )
    assert reply.status_code == 422
    body = reply.json()
    assert body["code"] == "import_rejected"
    assert body["report"]["errors"][0] == {
        "line": 3,
        "column": "msisdn",
        "value": "bad",
        "reason": body["report"]["errors"][0]["reason"],
    }
    download = client.get(body["report"]["rejected_rows_url"], headers=billing)
    assert download.status_code == 200
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"n-rejected.csv\"; filename*=UTF-8''n-rejected.csv"
    )
    assert "bad,3,msisdn:" in download.content.decode("utf-8-sig")

    reply = client.post(
        "/api/v1/number-batches/import",
        headers=billing,
        files={"file": ("n.csv", data, "text/csv")},
        data={"skip_bad_rows": "true"},
    )
    assert reply.status_code == 201 and reply.json()["outcome"] == "partial"


def test_unknown_column_error_body_names_the_place(client: TestClient, login: Login) -> None:
    reply = client.post(
        "/api/v1/number-batches/import",
        headers=login(Role.billing),
        files={"file": ("n.csv", csv_bytes("phone", "13812345678"), "text/csv")},
    )
    assert reply.status_code == 422
    assert reply.json()["code"] == "import_file_invalid"
    assert (reply.json()["line"], reply.json()["column"]) == (1, "phone")


def test_validation_errors_use_the_error_shape(client: TestClient, login: Login) -> None:
    reply = client.post(
        "/api/v1/number-batches/segment",
        headers=login(Role.billing),
        json={"prefix": "13a", "start": 0, "end": 9},
    )
    assert reply.status_code == 422
    assert reply.json()["code"] == "invalid_request"
    assert reply.json()["message"].startswith("body.prefix")


def test_unknown_batch_is_404(client: TestClient, login: Login) -> None:
    reply = client.post(
        "/api/v1/releases",
        headers=login(Role.billing),
        json={"item_kind": "numbers", "batch": "NOPE"},
    )
    assert reply.status_code == 404 and reply.json() == {
        "code": "not_found",
        "message": "number batch 'NOPE' not found",
    }
