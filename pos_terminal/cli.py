"""`haoka-pos`: the counter terminal's command line."""

import typer

app = typer.Typer(help="HaoKa counter terminal.", no_args_is_help=True)
