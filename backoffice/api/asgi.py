"""ASGI entry point for uvicorn workers: the app built from the environment's settings."""

from backoffice.api.main import create_app

app = create_app()
