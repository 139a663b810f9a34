"""``eig run``, ``eig check`` and ``eig lab``: thin commands over :mod:`eigkit.runner`."""

from __future__ import annotations

import sys

import click

KERNEL_HELP = "Jupyter kernel to run the notebooks with (default: the one each notebook names)."


@click.command("run")
@click.argument("notebooks", nargs=-1)
@click.option("--params", "params", type=click.Path(dir_okay=False), help="YAML file of parameter values.")
@click.option(
    "-p", "assignments", multiple=True, metavar="NAME=VALUE", help="A parameter value (repeatable)."
)
@click.option(
    "-y",
    "yaml_assignments",
    multiple=True,
    metavar="NAME=YAML",
    help="A parameter value written in YAML, e.g. -y \"codes=['01', 2A]\" (repeatable).",
)
@click.option(
    "--grid", type=click.Path(dir_okay=False), help="YAML grid: name -> [values], or a list of sets."
)
@click.option("--workers", type=click.IntRange(min=1), help="Local worker processes (default: one per core).")
@click.option("--cluster", metavar="ADDRESS", help="Dask scheduler to send the runs to (tcp://HOST:PORT).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), help="Seconds allowed to each cell.")
@click.option("--with-code", is_flag=True, help="Keep the code cells in the HTML reports.")
@click.option("-k", "--kernel", metavar="NAME", help=KERNEL_HELP)
@click.option(
    "--theme",
    type=click.Choice(["neutral", "dsfr"]),
    help="Look of the HTML reports (default: [tool.eig] theme, else neutral); dsfr: the State's design.",
)
@click.option("--force", is_flag=True, help="Re-execute every notebook, even those nothing changed for.")
@click.option("--explain", is_flag=True, help="Say for each notebook why it was re-executed or reused.")
def run_command(
    notebooks: tuple[str, ...],
    params: str | None,
    assignments: tuple[str, ...],
    yaml_assignments: tuple[str, ...],
    grid: str | None,
    workers: int | None,
    cluster: str | None,
    timeout: float | None,
    with_code: bool,
    kernel: str | None,
    theme: str | None,
    force: bool,
    explain: bool,
) -> None:
    """Run the workspace's notebooks (all, in name order, or NOTEBOOK ...) and publish their reports.

    Parameters are checked before any kernel starts; values are read by the type each notebook declares,
    so -p departement=01 stays the text "01" (see `eig params`). A parameter with no declared type gets
    what `papermill -p` would give it. Secret parameters come from the environment, never from here.
    A notebook run is reused (not re-executed) when its sources, parameters, data, imported workspace code
    and versions are those of an earlier successful run (--force re-executes all, --explain says why).
    """
    from eigkit.runner.execute import run
    from eigkit.runner.params import parse_assignment, parse_yaml_assignment

    overrides = dict(parse_assignment(text) for text in assignments)
    overrides |= dict(parse_yaml_assignment(text) for text in yaml_assignments)
    result = run(
        list(notebooks) or None,
        params=params,
        overrides=overrides,
        grid=grid,
        workers=workers,
        cluster=cluster,
        timeout=timeout,
        with_code=with_code,
        kernel=kernel,
        theme=theme,
        force=force,
        explain=explain,
    )
    sys.exit(result.exit_code)


@click.command("check", context_settings={"ignore_unknown_options": True})
@click.argument("paths", nargs=-1, type=click.Path())
@click.option("--nbval-current-env", is_flag=True, help="Run the kernels with the current Python.")
@click.option("--lax", is_flag=True, help="Only check that cells run without error (nbval --nbval-lax).")
def check_command(paths: tuple[str, ...], nbval_current_env: bool, lax: bool) -> None:
    """Re-run the executed notebooks of the latest run (or PATHS) with nbval and compare their outputs.

    Also fails when a notebook under notebooks/ carries outputs or execution counts.
    """
    from eigkit.runner.check import check

    result = check(list(paths) or None, current_env=nbval_current_env, lax=lax)
    sys.exit(result.returncode)


@click.command("lab")
@click.option(
    "--ip", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 behind a proxy)."
)
@click.option("--port", type=click.IntRange(min=0, max=65535), default=8888, show_default=True)
@click.option("--base-url", default="/", show_default=True, help="URL path prefix set by a proxy.")
@click.option("--browser/--no-browser", default=False, help="Open a web browser.")
def lab_command(ip: str, port: int, base_url: str, browser: bool) -> None:
    """Start JupyterLab in the workspace, with token authentication (on 127.0.0.1 unless --ip says
    otherwise, e.g. on SSP Cloud: eig lab --ip 0.0.0.0 --port 8888 --base-url /proxy/8888/)."""
    from eigkit.runner.lab import lab

    lab(ip=ip, port=port, base_url=base_url, open_browser=browser)


def register(group: click.Group) -> None:
    """Add ``run``, ``check`` and ``lab`` to the ``eig`` group."""
    for command in (run_command, check_command, lab_command):
        group.add_command(command)
