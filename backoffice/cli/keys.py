"""Key commands: a new key for a purpose, and moving what old keys protect to the current ones
(card PINs, buyers' ID numbers and names, the keyed hashes of ID numbers)."""

from enum import StrEnum
from typing import Annotated

import typer

from backoffice.cli.common import console, errors
from backoffice.core.config import get_settings
from backoffice.core.crypto import KEY_SOURCES, CipherError, Keys, add_key, retire_old_keys
from backoffice.db import make_engine
from backoffice.services import key_rotation

commands = typer.Typer()


class Purpose(StrEnum):
    pin = "pin"
    id = "id"
    name = "name"
    id_hmac = "id-hmac"


_SOURCES = {source.purpose: source for source in KEY_SOURCES}


def _stop(exc: CipherError) -> None:
    errors.print(f"[red]error[/red]: {exc}", highlight=False)
    raise typer.Exit(1)


@commands.command("new-key")
def new_key(purpose: Purpose) -> None:
    """Make a new current key for PURPOSE in the data directory; the old ones stay to decrypt
    what they protect until `rotate-keys` has moved it."""
    settings = get_settings()
    source = _SOURCES[purpose.value]
    try:
        kid = add_key(source, settings)
    except CipherError as exc:
        _stop(exc)
    console.print(
        f"{purpose.value} key {kid} is now current in {source.path(settings)}; back it up, "
        "then run `haoka-office rotate-keys`",
        highlight=False,
    )


@commands.command("rotate-keys")
def rotate_keys(
    retire: Annotated[
        bool,
        typer.Option(
            "--retire",
            help="afterwards drop the old keys from the key files, if nothing needs them",
        ),
    ] = False,
) -> None:
    """Re-encrypt every stored PIN, ID number and name under its purpose's current key and
    recompute the ID numbers' keyed hashes under the current hash key (each batch committed:
    safe to stop and run again, and beside running servers)."""
    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        keys = Keys.from_settings(settings)
        with engine.connect() as connection:
            done = key_rotation.rotate(connection, keys)
            left = key_rotation.outstanding(connection, keys)
    except CipherError as exc:
        _stop(exc)
    finally:
        engine.dispose()
    console.print(
        f"rewritten under the current keys: {done.pins} card PINs, {done.sales} sales, "
        f"{done.events} sale events, {done.activations} activations",
        highlight=False,
    )
    if left.total:
        # A server still encrypting with an old key (one configured by variable and not yet
        # restarted) writes faster than this catches up.
        errors.print(
            f"{left.total} rows are still under old keys: restart the servers and the worker "
            "with the new keys, then run rotate-keys again",
            highlight=False,
        )
        raise typer.Exit(1)
    if not retire:
        return
    for source in KEY_SOURCES:
        configured = source.configured(settings)
        if configured:
            if "," in configured:
                console.print(f"remove the old keys from {source.variable}", highlight=False)
            continue
        dropped = retire_old_keys(source, settings)
        if dropped:
            console.print(
                f"{source.purpose}: dropped old keys {', '.join(dropped)} from "
                f"{source.path(settings)}",
                highlight=False,
            )
