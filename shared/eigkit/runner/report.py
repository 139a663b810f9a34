"""HTML reports: one self-contained page per executed notebook, an index per run, published into ``reports/``.

Pages embed their images (SVG inline, PNG as data URIs) and fetch nothing from the network. Code is hidden
unless asked for. Only successful runs are published, each file replaced atomically, so a failed run never
replaces the last good report; ``reports/reports.json`` remembers which run produced each page, and
``reports/index.html`` lists every published page from it, newest first. Publishing holds a file lock on
``reports/``, so two runs publishing at the same moment lose nothing.
"""

from __future__ import annotations

import html
import json
import urllib.parse
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from filelock import FileLock

from eigkit.atomic import copy_file, write_json, write_text

TEMPLATES = Path(__file__).resolve().parent / "templates"
REGISTRY = "reports.json"
LOCK = ".reports.lock"
LOCK_TIMEOUT = 120.0  # seconds to wait for another run's publishing to end
_exporters: dict[tuple[bool, str], Any] = {}


THEMES = {"neutral": "eig-report", "dsfr": "eig-report-dsfr"}


def render_html(
    notebook: Path, *, with_code: bool = False, theme: str = "neutral", partner: str | None = None
) -> str:
    """Render an executed notebook as a self-contained HTML page (code cells hidden unless ``with_code``).

    ``theme`` is ``"neutral"`` (default) or ``"dsfr"`` (the Système de design de l'État, with ``partner``, the
    administration's name, in the page header).
    """
    import nbformat

    if theme not in THEMES:
        raise ValueError(f"unknown report theme {theme!r}: choose one of {', '.join(THEMES)}")
    exporter = _exporters.get((with_code, theme))
    if exporter is None:  # one exporter per process and theme: loading its templates is the slow part
        from nbconvert import HTMLExporter

        exporter = HTMLExporter(
            template_name=THEMES[theme],
            extra_template_basedirs=[str(TEMPLATES)],
            extra_template_paths=[str(TEMPLATES)],  # lets a theme extend "eig-report/index.html.j2"
            exclude_input=not with_code,
            exclude_input_prompt=not with_code,
            exclude_output_prompt=not with_code,
            embed_images=True,
            language_code="fr",  # <html lang="fr">: screen readers read the report in French (RGAA 8.3)
        )
        _exporters[with_code, theme] = exporter
    node = nbformat.read(notebook, as_version=4)
    resources: dict[str, Any] = {
        "metadata": {"path": str(notebook.parent), "name": notebook.stem},  # page title: notebook name
        "eig_partner": partner,
    }
    if theme == "dsfr":
        resources["eig_dsfr_css"] = (TEMPLATES / THEMES[theme] / "dsfr-core.css").read_text(encoding="utf-8")
    body, _ = exporter.from_notebook_node(node, resources=resources)
    return body


def write_report(
    notebook: Path,
    target: Path,
    *,
    with_code: bool = False,
    theme: str = "neutral",
    partner: str | None = None,
) -> None:
    """Render the executed ``notebook`` (see :func:`render_html`), write the page to ``target`` atomically."""
    write_text(target, render_html(notebook, with_code=with_code, theme=theme, partner=partner))


def link(name: str) -> str:
    """The relative link to the page of run ``name``, URL-encoded and HTML-escaped (``essai#1 ?50%``)."""
    return html.escape(urllib.parse.quote(f"{name}.html"))


def publish(reports_dir: Path, run_id: str, runs: Iterable[Mapping[str, Any]], run_dir: Path) -> Path:
    """Copy the successful runs' pages into ``reports_dir`` and write its ``index.html``; return the index.

    ``runs`` are manifest entries (``name``, ``notebook``, ``parameters``, ``status``, ``report``: the page
    inside the run folder). Failed runs publish nothing: the page of their last good run stays in place.
    """
    reports_dir.mkdir(parents=True, exist_ok=True)
    runs = list(runs)
    with FileLock(reports_dir / LOCK, timeout=LOCK_TIMEOUT):
        registry_path = reports_dir / REGISTRY
        registry = _read_registry(registry_path)
        for entry in runs:
            if entry.get("status") == "ok" and entry.get("report"):
                copy_file(run_dir / entry["report"], reports_dir / f"{entry['name']}.html")
                registry[entry["name"]] = {
                    "run_id": entry.get("reused_from") or run_id,  # a reused page keeps its run
                    "notebook": entry["notebook"],
                    "parameters": entry.get("parameters", {}),
                    "published_at": datetime.now().astimezone().isoformat(timespec="seconds"),
                }
        write_json(registry_path, registry)
        write_text(reports_dir / "index.html", catalogue_html(registry, run_id, runs))
    return reports_dir / "index.html"


def _read_registry(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


_STATUS_LABELS = {
    "ok": "réussi",
    "failed": "échec",
    "interrupted": "interrompu",
    "skipped": "non lancé",
    "abandoned": "abandonné",
}
_STYLE = """body { font-family: sans-serif; margin: 2em; }
table { border-collapse: collapse; margin-bottom: 2em; }
td, th { border: 1px solid #ccc; padding: 0.3em 0.8em; text-align: left; }
tr.failed td, tr.interrupted td { background: #fdecea; }"""


def _parameters(values: Mapping[str, Any]) -> str:
    return html.escape(", ".join(f"{key}={value!r}" for key, value in values.items()))


def _error(entry: Mapping[str, Any]) -> str:
    error = entry.get("error") or {}
    if not error:
        return ""
    cell = f"cellule {error['cell_index']} — " if error.get("cell_index") is not None else ""
    return html.escape(f"{cell}{error.get('ename', '')} : {error.get('evalue', '')}")


def _run_rows(runs: Iterable[Mapping[str, Any]], registry: Mapping[str, Any], link_prefix: str) -> list[str]:
    """One row per notebook run: name, parameters, status, error, link to its report (or last good one)."""
    rows = []
    for entry in runs:
        name = entry["name"]
        status = entry.get("status", "")
        if status == "ok":
            target = f'<a href="{html.escape(link_prefix)}{link(name)}">rapport</a>'
        elif name in registry:
            target = (
                f'<a href="{html.escape(link_prefix)}{link(name)}">dernier rapport valide</a> '
                f"(run {html.escape(registry[name]['run_id'])})"
            )
        else:
            target = "aucun rapport"
        rows.append(
            f"<tr class='{html.escape(status)}'><td>{html.escape(name)}</td>"
            f"<td>{_parameters(entry.get('parameters', {}))}</td>"
            f"<td>{_STATUS_LABELS.get(status, html.escape(status))}</td>"
            f"<td>{_error(entry)}</td><td>{target}</td></tr>"
        )
    return rows


def _table(headers: Iterable[str], rows: list[str]) -> str:
    head = "".join(f"<th>{header}</th>" for header in headers)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{chr(10).join(rows)}\n</tbody>\n</table>"


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="fr">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>\n{_STYLE}\n</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


_RUN_HEADERS = ("Notebook", "Paramètres", "Statut", "Erreur", "Rapport")


def index_html(
    run_id: str, runs: Iterable[Mapping[str, Any]], registry: Mapping[str, Any], *, link_prefix: str = ""
) -> str:
    """The index page of a run: one row per notebook run, its status, and a link to its report."""
    rows = _run_rows(runs, registry, link_prefix)
    return _page(
        f"Rapports — run {run_id}",
        f"<h1>Rapports du run {html.escape(run_id)}</h1>\n" + _table(_RUN_HEADERS, rows),
    )


def catalogue_html(registry: Mapping[str, Any], run_id: str, runs: Iterable[Mapping[str, Any]]) -> str:
    """``reports/index.html``: every published report (from ``reports.json``), newest first, with its
    notebook, parameters, run and date; above it, how the latest run went."""
    published = sorted(
        registry.items(), key=lambda item: (item[1].get("published_at", ""), item[0]), reverse=True
    )
    rows = [
        f'<tr><td><a href="{link(name)}">{html.escape(name)}</a></td>'
        f"<td>{html.escape(str(info.get('notebook', '')))}</td>"
        f"<td>{_parameters(info.get('parameters', {}))}</td>"
        f"<td>{html.escape(str(info.get('run_id', '')))}</td>"
        f"<td>{html.escape(str(info.get('published_at', '')))}</td></tr>"
        for name, info in published
    ]
    body = (
        f"<h1>Rapports publiés ({len(rows)})</h1>\n"
        f"<h2>Dernier run : {html.escape(run_id)}</h2>\n"
        + _table(_RUN_HEADERS, _run_rows(runs, registry, ""))
        + "\n<h2>Tous les rapports, du plus récent au plus ancien</h2>\n"
        + _table(("Rapport", "Notebook", "Paramètres", "Run", "Publié le"), rows)
    )
    return _page("Rapports publiés", body)
