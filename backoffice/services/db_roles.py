"""The least-privileged PostgreSQL role the application connects as, and its grants.

Migrations run as the role that owns the tables; the application as another role that may
read and write rows and nothing else: no DDL, no TRUNCATE, no superuser (so it cannot set
session_replication_role, which turns triggers off), and on the append-only tables (the audit
log and the dealer ledgers: every table with a `<table>_append_only` trigger function) only
SELECT and INSERT, plus the audit sealer's UPDATE of the two chain columns."""

import re
from dataclasses import dataclass

from sqlalchemy import Connection, text

from backoffice.services.errors import InvalidInput

_ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Attributes the application's role must not have; each is turned off if present.
_NO_ATTRIBUTES = {
    "rolcreaterole": "NOCREATEROLE",
    "rolcreatedb": "NOCREATEDB",
    "rolreplication": "NOREPLICATION",
    "rolbypassrls": "NOBYPASSRLS",
}
# Tables the application only reads.
_READ_ONLY = {"alembic_version"}
# Beyond SELECT and INSERT on the audit log: the sealer sets these, once per row (trigger).
_AUDIT_SEAL_COLUMNS = "seq, hash"


@dataclass(frozen=True)
class Grants:
    """What `grant_app_role` left the role with."""

    role: str
    created: bool
    password_set: bool
    read_write: list[str]
    append_only: list[str]
    read_only: list[str]


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(message, code="app_role_refused")


def _password_verifier(connection: Connection, role: str, password: str) -> str:
    """The SCRAM-SHA-256 verifier of the password, computed here by libpq: the server (and
    its statement log) never sees the password itself."""
    pgconn = connection.connection.driver_connection.pgconn  # type: ignore[union-attr]
    return pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()


def _quote(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote_identifier(name)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _no_replication_role(connection: Connection, role: str) -> None:
    """Only superusers may set session_replication_role, unless granted (PostgreSQL 15+):
    such a grant goes, since `replica` turns the append-only triggers off."""
    if int(connection.execute(text("SHOW server_version_num")).scalar_one()) < 150000:
        return
    check = text("SELECT has_parameter_privilege(:role, 'session_replication_role', 'SET')")
    if not connection.execute(check, {"role": role}).scalar_one():
        return
    q = _quote(connection, role)
    connection.exec_driver_sql(f"REVOKE SET ON PARAMETER session_replication_role FROM {q}")
    if connection.execute(check, {"role": role}).scalar_one():
        raise _refuse(
            f"role {role} may set session_replication_role through PUBLIC or another role; "
            "revoke that grant first"
        )


def _ensure_role(connection: Connection, role: str, password: str | None) -> bool:
    """Creates the role with LOGIN and nothing else, or trims an existing one; sets its
    password when given. True if it was created."""
    q = _quote(connection, role)
    found = (
        connection.execute(
            text(
                "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls"
                " FROM pg_roles WHERE rolname = :role"
            ),
            {"role": role},
        )
        .mappings()
        .first()
    )
    secret = ""
    if password:
        secret = f" PASSWORD {_literal(_password_verifier(connection, role, password))}"
    if found is None:
        connection.exec_driver_sql(
            f"CREATE ROLE {q} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
            f"NOBYPASSRLS{secret}"
        )
        return True
    if found["rolsuper"]:
        raise _refuse(f"role {role} is a superuser; the application needs an ordinary role")
    trims = [word for column, word in _NO_ATTRIBUTES.items() if found[column]]
    if trims or secret:
        connection.exec_driver_sql(f"ALTER ROLE {q} LOGIN {' '.join(trims)}{secret}")
    return False


def _no_inherited_power(connection: Connection, role: str, schema: str) -> None:
    """A member of the owner's role, of a superuser role or of pg_write_all_data has their
    privileges whatever is granted here."""
    powerful = (
        connection.execute(
            text(
                "SELECT r.rolname FROM pg_roles r WHERE r.rolname <> :role"
                " AND pg_has_role(:role, r.oid, 'MEMBER') AND (r.rolsuper"
                " OR r.rolname IN ('pg_write_all_data', 'pg_database_owner') OR r.oid IN"
                " (SELECT relowner FROM pg_class WHERE relnamespace = CAST(:s AS regnamespace)))"
                " ORDER BY r.rolname"
            ),
            {"role": role, "s": schema},
        )
        .scalars()
        .all()
    )
    if powerful:
        raise _refuse(
            f"role {role} is a member of {', '.join(powerful)} (or owns the database), and so "
            "has their privileges: revoke that first"
        )


def _tables(connection: Connection, schema: str, role: str) -> tuple[list[str], set[str]]:
    """The schema's tables, and which of them are append-only."""
    tables = connection.execute(
        text(
            "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c"
            " WHERE c.relnamespace = CAST(:s AS regnamespace) AND c.relkind IN ('r', 'p')"
            " ORDER BY c.relname"
        ),
        {"s": schema},
    ).all()
    owned = [name for name, owner in tables if owner == role]
    if owned:
        raise _refuse(f"role {role} owns tables ({', '.join(owned)}); it cannot be limited")
    append_only = connection.execute(
        text(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid"
            " JOIN pg_proc p ON p.oid = t.tgfoid"
            " WHERE c.relnamespace = CAST(:s AS regnamespace)"
            " AND p.proname = c.relname || '_append_only'"
        ),
        {"s": schema},
    ).scalars()
    return [name for name, _ in tables], set(append_only)


def grant_app_role(connection: Connection, role: str, password: str | None = None) -> Grants:
    """Creates the role (LOGIN, nothing else) or checks and trims an existing one, then sets
    its privileges on every table of the current schema from scratch. Run it as the tables'
    owner after each migration (`haoka-office migrate` does when the two URLs name two roles):
    tables added since need their grants. The caller commits."""
    if connection.dialect.name != "postgresql":
        raise _refuse("a database role is a PostgreSQL matter; SQLite is protected by its file")
    if not _ROLE_NAME.fullmatch(role) or role.startswith("pg_"):
        raise _refuse(
            f"role {role!r}: use lower-case letters, digits and _ (not starting pg_), "
            "at most 63 characters"
        )
    schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    if role == connection.execute(text("SELECT current_user")).scalar_one():
        raise _refuse(
            f"role {role} runs the migrations and owns the tables; the application needs a "
            "role of its own"
        )
    created = _ensure_role(connection, role, password)
    _no_inherited_power(connection, role, schema)
    _no_replication_role(connection, role)
    tables, append_only = _tables(connection, schema, role)
    q, s = _quote(connection, role), _quote(connection, schema)
    database = _quote(
        connection, connection.execute(text("SELECT current_database()")).scalar_one()
    )
    for statement in (
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {q}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {q}",
        f"REVOKE CREATE ON SCHEMA {s} FROM {q}",
        f"GRANT USAGE ON SCHEMA {s} TO {q}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {q}",
        # The audit sealer stages its hashes in a temporary table.
        f"GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {q}",
    ):
        connection.exec_driver_sql(statement)
    read_write, appended, read_only = [], [], []
    for name in tables:
        table = f"{s}.{_quote(connection, name)}"
        if name in _READ_ONLY:
            connection.exec_driver_sql(f"GRANT SELECT ON {table} TO {q}")
            read_only.append(name)
        elif name in append_only:
            connection.exec_driver_sql(f"GRANT SELECT, INSERT ON {table} TO {q}")
            appended.append(name)
        else:
            connection.exec_driver_sql(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {q}")
            read_write.append(name)
    if "audit_entry" in append_only:
        connection.exec_driver_sql(
            f"GRANT UPDATE ({_AUDIT_SEAL_COLUMNS}) ON {s}.audit_entry TO {q}"
        )
    # PostgreSQL 14 and older let PUBLIC create in the public schema: the role would still
    # hold what was just revoked from it by name.
    if connection.execute(
        text("SELECT has_schema_privilege(:role, :schema, 'CREATE')"),
        {"role": role, "schema": schema},
    ).scalar_one():
        raise _refuse(
            f"role {role} can still create objects in schema {schema} (through PUBLIC); as the "
            f"schema's owner run: REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC"
        )
    return Grants(role, created, bool(password), read_write, appended, read_only)
