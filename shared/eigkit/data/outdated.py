"""``eig data outdated``: has data.gouv.fr moved since the workspace locked its data?

For every entry of the workspace's ``data.lock`` the API is asked whether the resource's checksum, size or
address changed; for every dataset the workspace uses (locked, named in a notebook's ``data.load("...")`` /
``data.fetch("...")``, or read by a recorded run) whether a newer year is published than the one locked (or,
when nothing is locked, than the catalogue knows). The first bytes of a changed file, or of a new year's file,
are read with the dataset's reader: a refusal means the format changed (a renamed column, another
separator) before any notebook breaks on it. Nothing is downloaded into the cache; ``data.lock`` is only
changed by :func:`refresh`.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from eigkit.data import lock
from eigkit.data.cache import target_dir
from eigkit.data.errors import DataError
from eigkit.data.loading import fetch
from eigkit.data.registry import entry
from eigkit.data.upstream import Upstream, change, first_bytes, header_problem

MOVED = ("changed", "new year", "format changed", "error")
_DATASET_CALL = re.compile(r"""data\.(?:load|fetch)\(\s*["']([\w.-]+)["']""")


@dataclass
class Finding:
    """What the API says about one locked file, or about a dataset's years."""

    dataset: str
    year: int | None
    status: str  # unchanged, changed, new year, format changed, error
    detail: str
    last_modified: str | None = None
    header: str | None = None  # None: not read; "ok"; else why the reader refused the first bytes

    @property
    def moved(self) -> bool:
        """True when the workspace's data are no longer what data.gouv.fr publishes."""
        return self.status in MOVED


def datasets_used(workspace: Path) -> dict[str, list[int]]:
    """Datasets named in the workspace's notebooks or read by its recorded runs, with the years those runs
    read from data.gouv.fr (embedded samples do not count: their years are not the analysis's)."""
    used: dict[str, list[int]] = {}
    for notebook in sorted((workspace / "notebooks").glob("*.ipynb")):
        cells = json.loads(notebook.read_text(encoding="utf-8")).get("cells", [])
        sources = ("".join(cell.get("source", "")) for cell in cells if cell.get("cell_type") == "code")
        for name in (name for source in sources for name in _DATASET_CALL.findall(source)):
            used.setdefault(name, [])
    for manifest in sorted((workspace / "runs").glob("*/manifest.json")):
        try:
            runs = json.loads(manifest.read_text(encoding="utf-8")).get("runs", [])
        except (OSError, ValueError):
            continue
        for record in (record for run in runs for record in run.get("data") or [] if "name" in record):
            years = used.setdefault(record["name"], [])
            if record.get("source") != "sample" and record.get("year") is not None:
                years.append(int(record["year"]))
    return used


def _local_copy(name: str, year: int | None, file: str | None) -> Path | None:
    """The cached file of a lock entry (to compare against a sha1 or md5 the API announces)."""
    path = target_dir(entry(name), year) / file if file else None
    return path if path is not None and path.is_file() else None


def _header(upstream: Upstream, name: str, year: int | None) -> str:
    resource = upstream.resource(name, year)
    problem = header_problem(name, resource.filename, first_bytes(resource.url))
    return problem or "ok"


def check_locked(upstream: Upstream, key: str, locked: dict[str, Any]) -> Finding:
    """Compare one ``data.lock`` entry with what the API announces today."""
    name, year = locked["name"], locked.get("year")
    try:
        resource = upstream.resource(name, year)
        last_modified = upstream.last_modified(name, resource.url)
        why = change(resource, sha256=locked["sha256"], size=locked.get("size"), url=locked.get("url"),
                     path=_local_copy(name, year, locked.get("file")))  # fmt: skip
        if why is None:
            return Finding(name, year, "unchanged", "same file as in data.lock", last_modified)
        header = _header(upstream, name, year)
    except DataError as error:
        return Finding(name, year, "error", str(error))
    status = "changed" if header == "ok" or header.startswith("not checked") else "format changed"
    return Finding(name, year, status, why, last_modified, header)


def check_years(upstream: Upstream, name: str, years: list[int]) -> Finding | None:
    """A finding when data.gouv.fr publishes a year of ``name`` after all of ``years`` (else after the last
    year the catalogue lists); ``None`` when the dataset is not published by year."""
    item = entry(name)
    if "{year}" not in (item.resource_pattern or ""):
        return None
    baseline = max(years, default=None)
    try:
        published = upstream.published_years(name)
        newer = [year for year in published if baseline is not None and year > baseline]
        if not newer:
            latest = max(published, default=None)
            return Finding(name, None, "unchanged", f"latest published year {latest}")
        header = _header(upstream, name, newer[-1])
    except DataError as error:
        return Finding(name, None, "error", str(error))
    detail = f"new year(s) {', '.join(map(str, newer))} (latest the workspace uses: {baseline})"
    status = "new year" if header == "ok" or header.startswith("not checked") else "format changed"
    return Finding(name, newer[-1], status, detail, None, header)


def outdated(workspace: Path, *, lock_file: Path | None = None) -> list[Finding]:
    """Ask data.gouv.fr about every locked file and every dataset the workspace uses."""
    locked = lock.read_lock(lock_file)  # default: the workspace's data.lock
    upstream = Upstream()
    findings = [check_locked(upstream, key, value) for key, value in sorted(locked.items())]
    years: dict[str, list[int]] = {}
    for value in locked.values():
        years.setdefault(value["name"], [])
        if value.get("year") is not None:
            years[value["name"]].append(int(value["year"]))
    for name, read in datasets_used(workspace).items():
        years.setdefault(name, []).extend(read)
    asked = years_asked(workspace)
    for name, used in years.items():
        if not used and "{year}" in (entry(name).resource_pattern or ""):
            used.extend(asked)  # nothing fetched yet: the years its full-data parameters ask for
    for name, locked_years in sorted(years.items()):
        try:
            finding = check_years(upstream, name, locked_years)
        except DataError as error:  # a dataset name the catalogue does not know
            finding = Finding(name, None, "error", str(error))
        if finding is not None:
            findings.append(finding)
    return findings


def years_asked(workspace: Path) -> list[int]:
    """The years the workspace's full-data parameters (``params/default.yaml``) name: values of keys that
    speak of years (``annee``, ``annees``, ``year``...), at any depth."""
    path = workspace / "params" / "default.yaml"
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return []
    found: list[int] = []

    def walk(node: Any, about_years: bool) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, about_years or bool(re.search(r"ann[ée]e|year", str(key), re.IGNORECASE)))
        elif isinstance(node, list):
            for value in node:
                walk(value, about_years)
        elif about_years and isinstance(node, int) and not isinstance(node, bool) and 1900 < node < 2200:
            found.append(node)

    walk(document, False)
    return found


def refresh(findings: list[Finding]) -> list[Path]:
    """Re-download the locked files that changed and still read as before, accepting their new bytes
    (``data.lock`` is updated). A file whose format changed is left alone: the notebooks need work first."""
    return [
        fetch(finding.dataset, year=finding.year, refresh=True)
        for finding in findings
        if finding.status == "changed"
    ]


def as_rows(findings: list[Finding]) -> list[list[str]]:
    """Findings as table rows (header first)."""
    rows = [["dataset", "year", "status", "detail", "header"]]
    for finding in findings:
        year = "" if finding.year is None else str(finding.year)
        rows.append([finding.dataset, year, finding.status, finding.detail, finding.header or ""])
    return rows


def as_json(findings: list[Finding]) -> str:
    """Findings as JSON: ``{"moved": bool, "findings": [...]}``."""
    items = [{**asdict(finding), "moved": finding.moved} for finding in findings]
    return json.dumps(
        {"moved": any(f.moved for f in findings), "findings": items}, ensure_ascii=False, indent=2
    )
