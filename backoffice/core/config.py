"""Back-office settings, read from the environment (prefix HAOKA_) or a .env file."""

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HAOKA_", env_file=".env", extra="ignore")

    # The embedded default keeps a newcomer at zero set-up; DATABASE_URL switches to PostgreSQL.
    database_url: str = Field(
        default="sqlite:///var/haoka.db",
        validation_alias=AliasChoices("DATABASE_URL", "HAOKA_DATABASE_URL"),
    )
    data_dir: Path = Path("var")
    # Unset keys are generated once into data_dir (never committed); deployments set them.
    secret_key: str | None = None
    pin_key: str | None = None
    token_minutes: int = 30
    search_page_max: int = 500
    # Dealer channel and terminal sync.
    return_window_days: int = 7
    reservation_minutes: int = 30
    # A terminal may sell at an old price list version until a newer one has been in force
    # this long (it may have been offline and not pulled it yet).
    price_list_grace_hours: int = 24
    # Pulls overlap by this much so that a transaction committing late is not missed.
    sync_cursor_overlap_seconds: int = 120
    activation_webhook_url: str | None = None
    activation_webhook_secret: str | None = None
    activation_max_attempts: int = 12

    @field_validator("database_url")
    @classmethod
    def _use_psycopg3(cls, url: str) -> str:
        # Operators paste plain postgresql:// URLs; SQLAlchemy needs the driver named.
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+psycopg://" + url[len(plain) :]
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
