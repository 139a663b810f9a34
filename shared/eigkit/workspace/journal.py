"""The workspace's data log (``docs/journal-des-donnees.md``), rewritten from what the kit recorded.

One row per downloaded file of ``data.lock`` (dataset, year, file, address, size, sha256), with the licence
and publisher from the catalogue and the dates of the first and last successful runs that read those
exact bytes (``runs/*/manifest.json``). ``eig data log`` writes it; a person reads it, commits it with
``data.lock`` and hands it over with the workspace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eigkit.atomic import write_text
from eigkit.errors import WorkspaceError

LOG_FILE = Path("docs/journal-des-donnees.md")


@dataclass(frozen=True)
class Usage:
    """When a file (by sha256) was read by successful runs."""

    first: str
    last: str
    runs: int


def lock_entries(workspace: Path) -> list[dict[str, Any]]:
    """The entries of the workspace's ``data.lock``, sorted by key (empty when nothing was downloaded)."""
    path = workspace / "data.lock"
    if not path.is_file():
        return []
    try:
        downloads = json.loads(path.read_text(encoding="utf-8"))["downloads"]
    except (ValueError, KeyError, TypeError) as error:
        raise WorkspaceError(f"{path}: not a valid data.lock ({error}); restore it from git.") from error
    return [downloads[key] for key in sorted(downloads)]


def usage_by_sha256(workspace: Path) -> dict[str, Usage]:
    """For each sha256 read by a successful notebook run: first and last run dates, number of runs."""
    dates: dict[str, list[str]] = {}
    for manifest_path in sorted((workspace / "runs").glob("*/manifest.json")):
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        day = str(manifest.get("started_at", ""))[:10]
        for run in manifest.get("runs", []):
            if run.get("status") != "ok":
                continue
            for record in run.get("data") or []:
                if record.get("source") != "sample" and record.get("sha256"):
                    dates.setdefault(record["sha256"], []).append(day)
    return {sha: Usage(min(days), max(days), len(days)) for sha, days in dates.items()}


def render(workspace: Path, catalogue: dict[str, dict[str, Any]]) -> str:
    """The Markdown of the data log; ``catalogue`` maps dataset names to ``licence`` and ``publisher``."""
    entries = lock_entries(workspace)
    used = usage_by_sha256(workspace)
    lines = [
        "# Journal des données",
        "",
        "Réécrit par `eig data log` à partir de `data.lock` et des exécutions de `runs/` : ne pas modifier",
        "à la main (ajoutez vos remarques dans `docs/hypotheses-et-limites.md`). Les échantillons embarqués",
        "du kit ne sont pas journalisés : ils voyagent avec le kit (version fixée par `pyproject.toml`).",
        "",
    ]
    if not entries:
        lines.append("Aucune donnée téléchargée pour l'instant (`data.lock` est vide ou absent).")
        return "\n".join(lines) + "\n"
    lines += [
        "| jeu de données | année | fichier | producteur | licence | taille (octets) | sha256 | adresse "
        "| première utilisation | dernière utilisation | exécutions réussies |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for entry in entries:
        about = catalogue.get(entry["name"], {})
        usage = used.get(entry["sha256"])
        cells = [
            f"`{entry['name']}`",
            "" if entry.get("year") is None else str(entry["year"]),
            f"`{entry.get('file', '')}`",
            str(about.get("publisher", "?")),
            str(about.get("licence", "?")),
            str(entry.get("size", "")),
            f"`{entry['sha256']}`",
            str(entry.get("url", "")),
            usage.first if usage else "jamais lu par une exécution réussie",
            usage.last if usage else "",
            str(usage.runs) if usage else "0",
        ]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def write_data_log(workspace: Path, catalogue: dict[str, dict[str, Any]]) -> Path:
    """Rewrite ``docs/journal-des-donnees.md`` of ``workspace`` atomically; return its path."""
    target = workspace / LOG_FILE
    write_text(target, render(workspace, catalogue))
    return target
