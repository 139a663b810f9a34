"""``eig new``, ``eig demo``, ``eig update``: thin wrappers over :mod:`eigkit.workspace`."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("new")
@click.argument("project_name", required=False)
@click.option(
    "--kind", metavar="KIND", help="Type de défi : generique (défaut), securite-routiere, pompiers, ..."
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Dossier où créer l'espace de travail.",
)
@click.option("--no-input", is_flag=True, help="Ne rien demander : valeurs par défaut et --set.")
@click.option(
    "--set",
    "assignments",
    multiple=True,
    metavar="NAME=VALUE",
    help="Une variable du modèle (mentor, ci_provider, licence, ...); répétable.",
)
@click.option(
    "--template",
    metavar="PATH_OR_GIT_URL",
    help="Une autre copie du kit (chemin ou URL git) ; par défaut celle du kit installé.",
)
@click.option("--no-git", is_flag=True, help="Ne pas initialiser de dépôt git.")
def new_command(
    project_name: str | None,
    kind: str | None,
    output_dir: Path,
    no_input: bool,
    assignments: tuple[str, ...],
    template: str | None,
    no_git: bool,
) -> None:
    """Create the workspace of a défi (e.g. eig new "Sécurité routière 31" --kind securite-routiere)."""
    from eigkit.workspace.bake import new
    from eigkit.workspace.variables import parse_assignments

    workspace = new(
        project_name,
        kind=kind,
        output_dir=output_dir,
        no_input=no_input,
        values=parse_assignments(assignments),
        template=template,
        git_init=not no_git,
    )
    click.echo(f"Espace de travail créé : {workspace}")
    click.echo(f"Ensuite : cd {workspace} && python -m pip install . && eig run --params params/ci.yaml")


@click.command("demo")
@click.argument("directory", required=False, default="eig-demo", type=click.Path(path_type=Path))
@click.option("--kind", metavar="KIND", default="securite-routiere", show_default=True)
@click.option("--template", metavar="PATH_OR_GIT_URL", help="Une autre copie du kit (chemin ou URL git).")
def demo_command(directory: Path, kind: str, template: str | None) -> None:
    """Bake a demo workspace, run its notebooks on the embedded samples, check them, show the reports."""
    from eigkit.workspace.demo import demo

    demo(directory, kind=kind, template=template, say=click.echo)


@click.command("update")
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Seulement dire si l'espace de travail est en retard (code de sortie 1 si oui).",
)
@click.option(
    "--template", metavar="PATH", help="Une copie locale du kit à la place de celle de .cruft.json."
)
def update_command(check_only: bool, template: str | None) -> None:
    """Bring this workspace up to date with its template, keeping your edits (cruft + git 3-way merge)."""
    from eigkit.workspace.update import check, update

    if check_only:
        status = check(template=template)
        if status.kit_source_problem:
            click.echo(f"Attention : {status.kit_source_problem}", err=True)
        if status.behind:
            click.echo(f"En retard sur le modèle ({status.template}, {status.latest_commit[:10]}) :")
            for path in status.changed_inputs:
                click.echo(f"  {path}")
            click.echo("Lancez `eig update`.")
            raise SystemExit(1)
        click.echo(f"À jour avec le modèle ({status.template}, {status.latest_commit[:10]}).")
        if status.kit_source_problem:
            raise SystemExit(1)
        return
    result = update(template=template)  # UpdateConflict: exit code 2, the files to merge by hand
    if result.changed_files:
        click.echo("Modifié par la mise à jour (relisez avec `git diff`, puis commitez) :")
        for name in result.changed_files:
            click.echo(f"  {name}")
    else:
        click.echo("Déjà à jour.")


def register(group: click.Group) -> None:
    """Add ``new``, ``demo`` and ``update`` to the ``eig`` group."""
    for command in (new_command, demo_command, update_command):
        group.add_command(command)
