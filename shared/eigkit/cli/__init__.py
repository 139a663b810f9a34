"""The ``eig`` command: a thin layer over the Python API (each command group lives in its own module)."""

from __future__ import annotations

import click

import eigkit.runner.lean_imports  # noqa: F401  (before nbformat: faster starts)
from eigkit import __version__
from eigkit.cli import data_commands, rerun_commands, run_commands, workspace_commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="eig")
def main() -> None:
    """EIG analysis kit: create a défi workspace, load its open data, run and check its notebooks."""


for module in (workspace_commands, data_commands, run_commands, rerun_commands):  # reruns: after data
    module.register(main)
