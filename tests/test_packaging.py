"""What can be checked of the Docker set-up without a Docker engine: the image's install step
as a plain command, and the compose file's ordering (database healthy, migrations, server)."""

import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_image_install_step_builds_a_wheel_with_migrations(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("haoka-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "backoffice/alembic.ini" in names
    assert "backoffice/alembic/env.py" in names
    assert any(n.startswith("backoffice/alembic/versions/0001_") for n in names)
    assert {"shared/__init__.py", "devices/__init__.py", "pos_terminal/__init__.py"} <= names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "haoka-office = backoffice.cli:app" in scripts
    assert "haoka-pos = pos_terminal.cli:app" in scripts


def test_dockerfile_copies_every_package_and_runs_the_server() -> None:
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text()
    for package in ("shared", "devices", "pos_terminal", "backoffice"):
        assert f"COPY {package} ./{package}" in dockerfile
    assert "RUN pip install ." in dockerfile
    assert '"haoka-office", "serve"' in dockerfile
    assert "USER haoka" in dockerfile


def test_compose_runs_migrations_after_a_healthy_database() -> None:
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())
    services = compose["services"]
    assert "healthcheck" in services["db"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["migrate"]["command"] == ["haoka-office", "migrate"]
    assert services["office"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )
    assert services["office"]["environment"]["DATABASE_URL"].startswith("postgresql://")


def test_compose_gives_every_office_process_the_same_configured_keys() -> None:
    # A key generated inside a container dies with it, and the worker must decrypt what the
    # server encrypted (the buyer's name for provisioning).
    services = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())["services"]
    for name in ("migrate", "office", "worker"):
        environment = services[name]["environment"]
        for key in ("SECRET", "PIN", "ID", "NAME", "ID_HMAC"):
            assert environment[f"HAOKA_{key}_KEY"] == f"${{HAOKA_{key}_KEY:?set HAOKA_{key}_KEY}}"


def test_compose_runs_the_background_worker_after_migrations() -> None:
    worker = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())["services"]["worker"]
    assert worker["command"] == ["haoka-office", "worker"]
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert worker["environment"]["DATABASE_URL"].startswith("postgresql://")
