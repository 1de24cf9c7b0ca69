"""The back office: FastAPI app, services, tables, migrations and CLI."""
