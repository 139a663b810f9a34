"""``eig diff`` and ``eig data outdated``: thin commands over :mod:`eigkit.runner.diff` and
:mod:`eigkit.data.outdated`."""

from __future__ import annotations

import sys
from pathlib import Path

import click


def _workspace() -> Path:
    from eigkit.runner.execute import find_workspace

    return find_workspace(None)


@click.command("diff")
@click.argument("run_a", required=False)
@click.argument("run_b", required=False)
@click.option("--markdown", "markdown", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the differences as Markdown to FILE (e.g. $GITHUB_STEP_SUMMARY).")  # fmt: skip
def diff_command(run_a: str | None, run_b: str | None, markdown: Path | None) -> None:
    """Show what changed from RUN_A to RUN_B (default: the run before the last successful one, and that one).

    Parameters, data files (rows before/after), tables written to data/processed (rows added, removed,
    changed per key; largest numeric changes), text outputs and figures. Runs are ids, id prefixes or folders.
    """
    from eigkit.atomic import write_text
    from eigkit.errors import EigError
    from eigkit.runner import diff

    try:
        root = _workspace()
        pair = diff.pick_runs(root, run_a, run_b)
        result = diff.compare(*pair) if pair else None
    except EigError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(error.exit_code)
    click.echo(diff.as_text(result) if result else "Fewer than two successful runs: nothing to compare yet.")
    if markdown is not None:
        write_text(markdown, diff.as_markdown(result))


REFRESH_HELP = (
    "Re-télécharger les fichiers verrouillés qui ont changé et se lisent encore (met à jour data.lock)."
)


@click.command("outdated")
@click.option(
    "--json", "as_json", is_flag=True, help="Afficher du JSON (pour les machines) au lieu d'un tableau."
)
@click.option("--refresh", is_flag=True, help=REFRESH_HELP)
def outdated_command(as_json: bool, refresh: bool) -> None:
    """Demande à data.gouv.fr si les données de data.lock et des notebooks ont bougé (sortie 1 si oui).

    Empreinte, taille ou adresse d'un fichier verrouillé, nouvelle année publiée, et en-tête d'un fichier
    changé relu par le lecteur du kit (seuls les premiers octets sont téléchargés).
    """
    from eigkit.data import outdated
    from eigkit.errors import EigError
    from eigkit.tables import text_table

    try:
        findings = outdated.outdated(_workspace())
        refreshed = outdated.refresh(findings) if refresh else []
    except EigError as error:
        click.echo(f"Error: {error}", err=True)
        sys.exit(error.exit_code)
    click.echo(outdated.as_json(findings) if as_json else text_table(outdated.as_rows(findings)))
    for path in refreshed:
        click.echo(f"refreshed: {path}", err=True)
    moved = [finding for finding in findings if finding.moved]
    still = [finding for finding in moved if not (refresh and finding.status == "changed")]
    sys.exit(1 if still else 0)


def register(group: click.Group) -> None:
    """Add ``diff`` to the ``eig`` group and ``outdated`` to its ``data`` group."""
    group.add_command(diff_command)
    data_group = group.commands.get("data")
    if isinstance(data_group, click.Group):
        data_group.add_command(outdated_command)
