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
