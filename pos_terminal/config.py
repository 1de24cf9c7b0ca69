"""Terminal settings: where the back office is, where the credential and local data live."""

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

ENV_PREFIX = "HAOKA_POS_"
CONFIG_FILE = "terminal.toml"
STORE_FILE = "terminal.db"
CREDENTIAL_FILE = "credential"


def default_data_dir() -> Path:
    """$XDG_DATA_HOME/haoka-pos, else ~/.local/share/haoka-pos."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "haoka-pos"


@dataclass(frozen=True)
class TerminalConfig:
    """One counter terminal's settings; file values first, HAOKA_POS_* variables override."""

    data_dir: Path = field(default_factory=default_data_dir)
    backoffice_url: str = "http://127.0.0.1:8000"
    credential_path: Path | None = None  # default: <data_dir>/credential
    return_window_days: int = 7
    push_batch: int = 200
    sync_interval_seconds: float = 5.0
    # An event the back office fails on is sent again after this, then twice as long each time.
    push_retry_seconds: float = 10.0
    http_timeout_seconds: float = 10.0

    @property
    def store_path(self) -> Path:
        return self.data_dir / STORE_FILE

    @property
    def credential_file(self) -> Path:
        return self.credential_path or self.data_dir / CREDENTIAL_FILE

    @property
    def return_window(self) -> timedelta:
        return timedelta(days=self.return_window_days)

    def read_credential(self) -> str | None:
        """The device credential the back office issued at registration, or None."""
        try:
            text = self.credential_file.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        return text or None

    def write_credential(self, credential: str) -> None:
        """Saves the credential readable by this user only; it is shown once by the office."""
        path = self.credential_file
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(credential + "\n")
        tmp.replace(path)


def _coerce(name: str, raw: Any, source: str) -> Any:
    """A setting's value as its field's type; ValueError naming the setting and where it was
    found. TOML values keep their type (no `true` as 1 day); environment text is parsed."""
    kind = {f.name: f.type for f in fields(TerminalConfig)}[name]
    text = isinstance(raw, str)
    try:
        if kind in (Path, Path | None) and text:
            return Path(raw).expanduser()
        if kind is int and (text or (isinstance(raw, int) and not isinstance(raw, bool))):
            return int(raw)
        if kind is float and (text or (isinstance(raw, int | float) and not isinstance(raw, bool))):
            return float(raw)
        if kind is str and text:
            return raw
    except ValueError:
        pass
    wanted = {Path: "a path", Path | None: "a path", int: "a whole number", float: "a number"}
    raise ValueError(f"{source}: {name} must be {wanted.get(kind, 'text')}, not {raw!r}")


def load_config(path: Path | None = None, environ: dict[str, str] | None = None) -> TerminalConfig:
    """Reads the TOML file at path (if it exists), then HAOKA_POS_<FIELD> variables."""
    env = os.environ if environ is None else environ
    names = {f.name for f in fields(TerminalConfig)}
    values: dict[str, Any] = {}
    if path is None:
        data_dir = env.get(ENV_PREFIX + "DATA_DIR")
        path = (Path(data_dir) if data_dir else default_data_dir()) / CONFIG_FILE
    if path is not None and path.exists():
        with path.open("rb") as source:
            try:
                loaded = tomllib.load(source)
            except tomllib.TOMLDecodeError as error:
                raise ValueError(f"{path}: not valid TOML: {error}") from None
        unknown = sorted(set(loaded) - names)
        if unknown:
            raise ValueError(f"{path}: unknown setting(s) {', '.join(unknown)}")
        values.update({key: _coerce(key, value, str(path)) for key, value in loaded.items()})
    for name in names:
        variable = ENV_PREFIX + name.upper()
        raw = env.get(variable)
        if raw:
            values[name] = _coerce(name, raw, variable)
    return replace(TerminalConfig(), **values)


def remember_backoffice_url(config: TerminalConfig) -> Path:
    """Writes the back-office URL into terminal.toml in the data directory, keeping the other
    settings there, so that `haoka-pos run` finds the office it was registered with."""
    path = config.data_dir / CONFIG_FILE
    settings: dict[str, Any] = {}
    if path.exists():
        with path.open("rb") as source:
            settings = tomllib.load(source)
    settings["backoffice_url"] = config.backoffice_url
    lines = [f"{key} = {_toml_value(value)}" for key, value in settings.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
