"""Back-office settings, read from the environment (prefix HAOKA_) or a .env file."""

from functools import lru_cache
from pathlib import Path

from limits import parse_many
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HAOKA_", env_file=".env", extra="ignore")

    # The embedded default keeps a newcomer at zero set-up; DATABASE_URL switches to PostgreSQL.
    database_url: str = Field(
        default="sqlite:///var/haoka.db",
        validation_alias=AliasChoices("DATABASE_URL", "HAOKA_DATABASE_URL"),
    )
    # On PostgreSQL the migrations run as the tables' owner, the app as a least-privileged
    # role (`haoka-office db grant-app-role`); unset, migrations use DATABASE_URL.
    migration_database_url: str | None = None
    data_dir: Path = Path("var")
    # Unset keys are generated once into data_dir (never committed); deployments set them.
    secret_key: str | None = None
    # Card PINs and each kind of personal data have their own keys (backoffice/core/crypto.py):
    # the buyer's resident ID number, name, and the keyed hash of the ID. Each may list old
    # keys after the current one, comma-separated, while `rotate-keys` moves what they protect.
    # Secret strings: a printed or logged Settings shows them as '**********'.
    pin_key: SecretStr | None = None
    id_key: SecretStr | None = None
    name_key: SecretStr | None = None
    id_hmac_key: SecretStr | None = None
    token_minutes: int = 30
    # Failed log-ins allowed per account and per client address, in the `limits` notation
    # ("5/5 minutes;20/hour"); past one of them log-in answers 429 until its window ends.
    login_limits_per_account: str = "5/5 minutes;20/hour"
    login_limits_per_address: str = "30/5 minutes;100/hour"
    search_page_max: int = 500
    # Import files (CSV, XLSX): refused past these while being read, naming the limit. The
    # request body limit is the upload limit plus room for the form's other fields.
    import_max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    import_max_unzipped_bytes: int = Field(default=256 * 1024 * 1024, gt=0)
    import_max_rows: int = Field(default=2_000_000, gt=0)
    import_max_cell_chars: int = Field(default=1_000, gt=0)
    # Dealer channel and terminal sync.
    return_window_days: int = 7
    reservation_minutes: int = 30
    # Number recycling: a deactivated number cools this many days before it returns to the
    # pool (the usual operator practice is 90, so that calls meant for the last subscriber
    # die out); the worker returns the numbers whose cooling has ended. 0: at its next round.
    number_cooling_days: int = Field(default=90, ge=0, le=3650)
    # A terminal may sell at an old price list version until a newer one has been in force
    # this long (it may have been offline and not pulled it yet).
    price_list_grace_hours: int = 24
    # Pulls overlap by this much so that a transaction committing late is not missed.
    sync_cursor_overlap_seconds: int = 120
    # Capacity of one office process (backoffice/api/admission.py). Requests run their
    # database work on `worker_threads` threads with at most `db_pool_size` +
    # `db_max_overflow` connections; at most `max_requests_in_flight` requests are let in at
    # once (default: what the threads and connections can always serve, so that none waits
    # for a thread while it holds a connection), of which `max_pushes_in_flight` terminal
    # pushes (default 4, at most three quarters). A push past its bound waits
    # `push_queue_seconds` at most in a queue of `push_queue_length` (default: 16 times
    # the pushes in flight), else is answered 503 with Retry-After; other requests wait up
    # to `request_queue_seconds`.
    worker_threads: int = Field(default=40, ge=2)
    # Each office process runs queued background jobs (imports, releases, regrades) in a
    # thread of its own, with its own connections; false where only `haoka-office worker`
    # should run them.
    run_jobs: bool = True
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=20, ge=0)
    db_pool_timeout_seconds: float = Field(default=30.0, gt=0)
    max_requests_in_flight: int | None = Field(default=None, ge=1)
    max_pushes_in_flight: int | None = Field(default=None, ge=1)
    push_queue_seconds: float = Field(default=5.0, ge=0)
    push_queue_length: int | None = Field(default=None, ge=1)
    request_queue_seconds: float = Field(default=10.0, ge=0)
    activation_webhook_url: str | None = None
    activation_webhook_secret: str | None = None
    activation_max_attempts: int = 12

    @field_validator("database_url", "migration_database_url")
    @classmethod
    def _use_psycopg3(cls, url: str | None) -> str | None:
        # Operators paste plain postgresql:// URLs; SQLAlchemy needs the driver named.
        for plain in ("postgresql://", "postgres://"):
            if url and url.startswith(plain):
                return "postgresql+psycopg://" + url[len(plain) :]
        return url

    @field_validator("login_limits_per_account", "login_limits_per_address")
    @classmethod
    def _parse_limits(cls, text: str) -> str:
        try:
            if not parse_many(text):
                raise ValueError
        except ValueError as exc:
            example = "'5/5 minutes;20/hour'"
            raise ValueError(f"{text!r} is not a list of limits like {example}") from exc
        return text

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
