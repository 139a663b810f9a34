"""HTML reports: one self-contained page per executed notebook, an index per run, published into ``reports/``.

Pages embed their images (SVG inline, PNG as data URIs) and fetch nothing from the network. Code is hidden
unless asked for. Only successful runs are published, each file replaced atomically, so a failed run never
replaces the last good report; ``reports/reports.json`` remembers which run produced each page.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from eigkit.atomic import copy_file, write_json, write_text

TEMPLATES = Path(__file__).resolve().parent / "templates"
REGISTRY = "reports.json"
_exporters: dict[bool, Any] = {}


def render_html(notebook: Path, *, with_code: bool = False) -> str:
    """Render an executed notebook as a self-contained HTML page (code cells hidden unless ``with_code``)."""
    import nbformat

    exporter = _exporters.get(with_code)
    if exporter is None:  # one exporter per process: loading its templates is the slow part
        from nbconvert import HTMLExporter

        exporter = HTMLExporter(
            template_name="eig-report",
            extra_template_basedirs=[str(TEMPLATES)],
            exclude_input=not with_code,
            exclude_input_prompt=not with_code,
            exclude_output_prompt=not with_code,
            embed_images=True,
            language_code="fr",  # <html lang="fr">: screen readers read the report in French (RGAA 8.3)
        )
        _exporters[with_code] = exporter
    node = nbformat.read(notebook, as_version=4)
    metadata = {"path": str(notebook.parent), "name": notebook.stem}  # the page title is the notebook's name
    body, _ = exporter.from_notebook_node(node, resources={"metadata": metadata})
    return body


def publish(reports_dir: Path, run_id: str, runs: Iterable[Mapping[str, Any]], run_dir: Path) -> Path:
    """Copy the successful runs' pages into ``reports_dir`` and write its ``index.html``; return the index.

    ``runs`` are manifest entries (``name``, ``notebook``, ``parameters``, ``status``, ``report``: the page
    inside the run folder). Failed runs publish nothing: the page of their last good run stays in place.
    """
    reports_dir.mkdir(parents=True, exist_ok=True)
    registry_path = reports_dir / REGISTRY
    registry = _read_registry(registry_path)
    runs = list(runs)
    for entry in runs:
        if entry.get("status") == "ok" and entry.get("report"):
            copy_file(run_dir / entry["report"], reports_dir / f"{entry['name']}.html")
            registry[entry["name"]] = {
                "run_id": entry.get("reused_from") or run_id,  # reruns: a reused page keeps its run
                "notebook": entry["notebook"],
                "parameters": entry.get("parameters", {}),
                "published_at": datetime.now().astimezone().isoformat(timespec="seconds"),
            }
    write_json(registry_path, registry)
    index = index_html(run_id, runs, registry, link_prefix="")
    write_text(reports_dir / "index.html", index)
    return reports_dir / "index.html"


def _read_registry(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


_STATUS_LABELS = {"ok": "réussi", "failed": "échec", "interrupted": "interrompu", "skipped": "non lancé"}


def index_html(
    run_id: str, runs: Iterable[Mapping[str, Any]], registry: Mapping[str, Any], *, link_prefix: str
) -> str:
    """The index page of a run: one row per notebook run, its status, and a link to its report."""
    rows = []
    for entry in runs:
        name = entry["name"]
        status = entry.get("status", "")
        parameters = ", ".join(f"{key}={value!r}" for key, value in entry.get("parameters", {}).items())
        if status == "ok":
            link = f'<a href="{html.escape(link_prefix + name)}.html">rapport</a>'
        elif name in registry:
            previous = registry[name]["run_id"]
            link = (
                f'<a href="{html.escape(link_prefix + name)}.html">dernier rapport valide</a> '
                f"(run {html.escape(previous)})"
            )
        else:
            link = "aucun rapport"
        error = entry.get("error") or {}
        detail = f"{error.get('ename', '')}: {error.get('evalue', '')}" if error else ""
        rows.append(
            f"<tr class='{html.escape(status)}'><td>{html.escape(name)}</td>"
            f"<td>{html.escape(parameters)}</td><td>{_STATUS_LABELS.get(status, html.escape(status))}</td>"
            f"<td>{html.escape(detail)}</td><td>{link}</td></tr>"
        )
    return f"""<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<title>Rapports — run {html.escape(run_id)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: 0.3em 0.8em; text-align: left; }}
tr.failed td, tr.interrupted td {{ background: #fdecea; }}
</style>
</head>
<body>
<h1>Rapports du run {html.escape(run_id)}</h1>
<table>
<thead><tr><th>Notebook</th><th>Paramètres</th><th>Statut</th><th>Erreur</th><th>Rapport</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
</body>
</html>
"""
