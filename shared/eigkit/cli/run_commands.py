"""``eig run``, ``eig check`` and ``eig lab``: thin commands over :mod:`eigkit.runner`."""

from __future__ import annotations

import sys

import click


@click.command("run")
@click.argument("notebooks", nargs=-1)
@click.option("--params", "params", type=click.Path(dir_okay=False), help="YAML file of parameter values.")
@click.option(
    "-p", "assignments", multiple=True, metavar="NAME=VALUE", help="A parameter value (repeatable)."
)
@click.option(
    "--grid", type=click.Path(dir_okay=False), help="YAML grid: name -> [values], or a list of sets."
)
@click.option("--workers", type=click.IntRange(min=1), help="Local worker processes (default: one per core).")
@click.option("--cluster", metavar="ADDRESS", help="Dask scheduler to send the runs to (tcp://HOST:PORT).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds allowed to each cell.")
@click.option("--with-code", is_flag=True, help="Keep the code cells in the HTML reports.")
@click.option("--force", is_flag=True, help="Re-execute every notebook, even those nothing changed for.")
@click.option("--explain", is_flag=True, help="Say for each notebook why it was re-executed or reused.")
def run_command(
    notebooks: tuple[str, ...],
    params: str | None,
    assignments: tuple[str, ...],
    grid: str | None,
    workers: int | None,
    cluster: str | None,
    timeout: float | None,
    with_code: bool,
    force: bool,
    explain: bool,
) -> None:
    """Run the workspace's notebooks (all, in name order, or NOTEBOOK ...) and publish their reports.

    Parameters are checked before any kernel starts; values are read by the type each notebook declares,
    so -p departement=01 stays the text "01". A notebook run is reused (not re-executed) when its sources,
    parameters, data, imported workspace code and versions are those of an earlier successful run.
    """
    from eigkit.runner.execute import RunnerError, run
    from eigkit.runner.params import ParameterError, parse_assignment

    try:
        overrides = dict(parse_assignment(text) for text in assignments)
        result = run(
            list(notebooks) or None,
            params=params,
            overrides=overrides,
            grid=grid,
            workers=workers,
            cluster=cluster,
            timeout=timeout,
            with_code=with_code,
            force=force,
            explain=explain,
        )
    except ParameterError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(2)
    except RunnerError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)
    sys.exit(result.exit_code)


@click.command("check", context_settings={"ignore_unknown_options": True})
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--nbval-current-env", is_flag=True, help="Run the kernels with the current Python.")
@click.option("--lax", is_flag=True, help="Only check that cells run without error (nbval --nbval-lax).")
def check_command(paths: tuple[str, ...], nbval_current_env: bool, lax: bool) -> None:
    """Re-run the executed notebooks of the latest run (or PATHS) with nbval and compare their outputs.

    Also fails when a notebook under notebooks/ carries outputs or execution counts.
    """
    from eigkit.runner.check import CheckError, check

    try:
        result = check(list(paths) or None, current_env=nbval_current_env, lax=lax)
    except CheckError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)
    sys.exit(result.returncode)


@click.command("lab")
@click.option("--port", type=click.IntRange(min=0, max=65535), default=8888, show_default=True)
@click.option("--browser/--no-browser", default=False, help="Open a web browser.")
def lab_command(port: int, browser: bool) -> None:
    """Start JupyterLab in the workspace, on 127.0.0.1, with token authentication."""
    from eigkit.runner.execute import RunnerError
    from eigkit.runner.lab import lab

    try:
        lab(port=port, open_browser=browser)
    except RunnerError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(1)


def register(group: click.Group) -> None:
    """Add ``run``, ``check`` and ``lab`` to the ``eig`` group."""
    for command in (run_command, check_command, lab_command):
        group.add_command(command)
