"""The ``eig`` command: a thin layer over the Python API (each command group lives in its own module).

Every expected failure is an :class:`eigkit.errors.EigError`; :class:`EigGroup` turns it, in this one place,
into ``Error: <message>`` on stderr and the error's exit code (no traceback). Anything else is a bug.
"""

from __future__ import annotations

from typing import Any

import click

import eigkit.runner.lean_imports  # noqa: F401  (before nbformat: faster starts)
from eigkit import __version__
from eigkit.cli import data_commands, params_commands, rerun_commands, run_commands, workspace_commands
from eigkit.errors import EigError
from eigkit.paths import temporary_folder

INTERRUPTED = 130


class EigGroup(click.Group):
    """A click group that reports the kit's expected failures as a message and an exit code; a missing file
    that is in fact a missing temporary folder (tempfile's FileNotFoundError) is reported as that."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EigError as error:
            click.echo(f"Error: {error}", err=True)
            ctx.exit(error.exit_code)
        except FileNotFoundError as error:  # tempfile's, when no temporary folder can be written to
            try:
                temporary_folder()
            except EigError as no_folder:
                click.echo(f"Error: {no_folder}", err=True)
                ctx.exit(no_folder.exit_code)
            raise error
        except KeyboardInterrupt:  # Ctrl-C: the shell's convention (128 + SIGINT), as `eig run` does
            click.echo("Interrupted (Ctrl-C).", err=True)
            ctx.exit(INTERRUPTED)


@click.group(cls=EigGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="eig")
def main() -> None:
    """EIG analysis kit: create a défi workspace, load its open data, run and check its notebooks."""


for module in (workspace_commands, data_commands, run_commands, params_commands, rerun_commands):
    module.register(main)
