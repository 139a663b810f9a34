"""``eig params``: what a notebook's parameters are, like ``papermill --help-notebook``."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from eigkit.runner.params import Parameter

HELP_INDENT = 6


@click.command("params")
@click.argument("notebooks", nargs=-1)
def params_command(notebooks: tuple[str, ...]) -> None:
    """List the parameters each NOTEBOOK declares (default: every notebook of the workspace): name, type,
    default and help. Give values with `eig run -p NAME=VALUE`, `-y NAME=YAML` or `--params FILE`."""
    from eigkit.runner.params import declared_parameters

    width = max(40, min(shutil.get_terminal_size().columns, 110))
    for position, path in enumerate(_notebooks(notebooks)):
        if position:
            click.echo()
        declared = declared_parameters(path)
        click.echo(f"Parameters of {path.name}:")
        if not declared:
            click.echo("  (no cell tagged 'parameters': this notebook takes no parameter)")
        for parameter in declared.values():
            click.echo(f"  {parameter.name}: {_type_and_default(parameter)}")
            if parameter.help:
                indent = " " * HELP_INDENT
                click.echo(
                    textwrap.fill(parameter.help, width, initial_indent=indent, subsequent_indent=indent)
                )


def _type_and_default(parameter: Parameter) -> str:
    """``list[int] (default [2018, 2019])``, or where a secret parameter's value comes from."""
    from eigkit import secrets

    if parameter.secret:
        return f"secret (from ${secrets.env_name(parameter.name)} or the workspace's .env)"
    expected = parameter.annotation or (
        f"{parameter.expected} (from the default)"
        if parameter.default is not None
        else "untyped (read as papermill -p reads it)"
    )
    return f"{expected} (default {parameter.default_source or repr(parameter.default)})"


def _notebooks(names: tuple[str, ...]) -> list[Path]:
    """Notebook files given by path, else found in the current workspace (by name, or all of them)."""
    from eigkit.runner.execute import find_notebooks, find_workspace

    if names and all(Path(name).is_file() for name in names):
        return [Path(name) for name in names]
    return find_notebooks(find_workspace(None), list(names) or None)


def register(group: click.Group) -> None:
    """Add ``params`` to the ``eig`` group."""
    group.add_command(params_command)
