"""``eig data list|info|fetch|read|log``: a thin layer over :mod:`eigkit.data` (imported lazily)."""

from __future__ import annotations

from pathlib import Path

import click

from eigkit.errors import WorkspaceError


def _text(value: object) -> str:
    """A catalogue cell as text (empty for a missing value)."""
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


@click.group("data")
def data_group() -> None:
    """Les données ouvertes des défis : catalogue, téléchargement vérifié, lecture normalisée."""


@data_group.command("list")
def list_command() -> None:
    """Liste les jeux de données du catalogue."""
    from eigkit import data

    table = data.datasets()
    for row in table.itertuples():
        sample = f"échantillon {row.sample_kind}" if row.has_sample else "pas d'échantillon"
        click.echo(f"{row.name:<26} {_text(row.years):<10} {sample:<36} {row.title}")


@data_group.command("info")
@click.argument("name")
def info_command(name: str) -> None:
    """Décrit le jeu de données NAME (source, licence, années, format, échantillons)."""
    from eigkit import data

    table = data.datasets()
    if name not in set(table["name"]):
        raise data.DataError(f"Unknown dataset {name!r}. Known datasets: {', '.join(table['name'])}.")
    row = table.set_index("name").loc[name]
    for field, value in row.items():
        click.echo(f"{field:<17} {_text(value)}")
    notes = _reader_info(name)
    if notes:
        click.echo(notes)


def _reader_info(name: str) -> str:
    """What the dataset's reader module says about its columns (``info(table)``: missing values, units)."""
    from importlib import import_module

    from eigkit.data.registry import entry

    item = entry(name)
    describe = getattr(import_module(f"eigkit.data.{item.family}"), "info", None)
    return describe(item.table) if describe else ""


@data_group.command("fetch")
@click.argument("name")
@click.option("--year", type=int, default=None, help="Année (par défaut la dernière publiée).")
@click.option(
    "--refresh", is_flag=True, help="Re-télécharger et accepter de nouveaux octets (met à jour data.lock)."
)
def fetch_command(name: str, year: int | None, refresh: bool) -> None:
    """Télécharge NAME (vérifié, mis en cache, inscrit dans data.lock) et affiche son chemin."""
    from eigkit import data

    click.echo(str(data.fetch(name, year=year, refresh=refresh)))


@data_group.command("read")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Écrire un .parquet.")
def read_command(name: str, file: Path, output: Path | None) -> None:
    """Lit et normalise FILE comme un fichier du jeu NAME ; affiche un résumé ou écrit OUTPUT (.parquet)."""
    from eigkit import data

    frame = data.read(name, file)
    if output is None:
        click.echo(f"{len(frame)} lignes, {frame.shape[1]} colonnes")
        click.echo(frame.head().to_string())
        return
    if output.suffix != ".parquet":
        raise click.BadParameter(f"{output}: the output must end with .parquet", param_hint="--output")
    if "rings" in frame.columns:
        frame = frame.drop(columns=["rings"])
    frame.to_parquet(output, index=False)
    click.echo(f"{output} ({len(frame)} lignes)")


@data_group.command("log")
def log_command() -> None:
    """Réécrit docs/journal-des-donnees.md depuis data.lock et les exécutions de runs/ (à commiter)."""
    from eigkit import data
    from eigkit.paths import workspace_root
    from eigkit.workspace.journal import write_data_log

    workspace = workspace_root()
    if workspace is None:
        raise WorkspaceError("not inside a défi workspace (no pyproject.toml with [tool.eig] here or up)")
    catalogue = data.datasets().set_index("name")[["licence", "publisher"]].to_dict("index")
    click.echo(str(write_data_log(workspace, catalogue)))


def register(group: click.Group) -> None:
    """Add this module's commands to the `eig` group."""
    group.add_command(data_group)
