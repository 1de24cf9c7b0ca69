"""The schema comes from the migrations only, and they agree with the table models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

import backoffice.models  # noqa: F401  (registers the tables)


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_migration_seeds_the_default_grading(engine: Engine) -> None:
    with engine.connect() as connection:
        grades = connection.exec_driver_sql("SELECT code FROM number_grade").scalars().all()
        rules = connection.exec_driver_sql("SELECT count(*) FROM grading_rule").scalar_one()
    assert set(grades) == {"G1", "G2", "G3", "G4", "STD", "D4"}
    assert rules >= 10
    assert "alembic_version" in inspect(engine).get_table_names()
