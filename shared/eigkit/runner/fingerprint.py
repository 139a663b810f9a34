"""The fingerprint of a notebook run: everything that can change its result, and how two of them differ.

A fingerprint holds the sha256 of the notebook's sources (cell types, sources and tags; never outputs, ids
or other metadata), the resolved parameters, the workspace code files it imports
(:mod:`eigkit.runner.imports`), the kit, Python and key package versions, and, once the run has ended, the
data files it read (the records ``eigkit.data`` writes to the run's usage log: name, year, source, path,
sha256, url).
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path
from typing import Any

from eigkit.runner import manifest as manifests
from eigkit.runner.imports import workspace_code

VERSION = 1
DATA_KEYS = ("name", "year", "source", "path", "sha256", "url")
TEXT_SUFFIXES = (".csv", ".txt", ".tsv")


def notebook_digest(notebook: Path) -> str:
    """sha256 of what a notebook executes: each cell's type, source and tags (not outputs nor metadata)."""
    document = json.loads(notebook.read_text(encoding="utf-8"))
    cells = [
        [
            cell.get("cell_type"),
            "".join(cell.get("source", "")),
            sorted(cell.get("metadata", {}).get("tags", [])),
        ]
        for cell in document.get("cells", [])
    ]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode("utf-8")).hexdigest()


def canonical_parameters(parameters: dict[str, Any]) -> str:
    """The parameters as one stable text (sorted keys): equal values give equal texts."""
    return json.dumps(parameters, sort_keys=True, ensure_ascii=False, default=str)


def environment_key() -> dict[str, Any]:
    """The kit, Python and key package versions (the parts of the environment that shape results)."""
    from eigkit import __version__

    return {**_installed(), "kit": __version__}


@functools.cache
def _installed() -> dict[str, Any]:
    """Python and key package versions, read once per process (package metadata is slow to read)."""
    current = manifests.environment()
    return {key: current[key] for key in ("python", "implementation", "packages")}


def before_run(workspace: Path, notebook: Path, parameters: dict[str, Any]) -> dict[str, Any]:
    """The fingerprint of a run about to start (its ``data`` are filled in by :func:`with_data`)."""
    return {
        "version": VERSION,
        "notebook": notebook_digest(notebook),
        "parameters": canonical_parameters(parameters),
        "code": workspace_code(workspace, notebook),
        "environment": environment_key(),
        "data": None,
    }


def with_data(fingerprint: dict[str, Any], usage: list[dict[str, Any]]) -> dict[str, Any]:
    """The fingerprint completed with the data records of the run that ended (and each text file's rows)."""
    records = [{key: record.get(key) for key in DATA_KEYS} for record in usage]
    for record in records:
        record["rows"] = text_rows(Path(record["path"])) if record.get("path") else None
    return {**fingerprint, "data": records}


def text_rows(path: Path) -> int | None:
    """Rows of a CSV or text file (lines after the header); ``None`` for other files or a missing one."""
    if path.suffix.lower() not in TEXT_SUFFIXES or not path.is_file():
        return None
    lines, last = 0, b"\n"
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            lines += block.count(b"\n")
            last = block[-1:]
    lines += last != b"\n"  # a last line without its newline
    return max(lines - 1, 0)


def differences(previous: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """Why ``current`` (computed before a run) cannot reuse ``previous`` (its data are checked elsewhere)."""
    if previous.get("version") != VERSION or previous.get("data") is None:
        return ["the previous run has no complete fingerprint"]
    reasons = []
    if previous["notebook"] != current["notebook"]:
        reasons.append("the notebook's cells changed")
    if previous["parameters"] != current["parameters"]:
        reasons.append("the parameters changed")
    reasons.extend(_dict_changes("workspace code", previous["code"], current["code"]))
    before, now = previous["environment"], current["environment"]
    for key, label in (("kit", "eig-kit"), ("python", "Python"), ("implementation", "Python implementation")):
        if before.get(key) != now.get(key):
            reasons.append(f"{label} {before.get(key)} -> {now.get(key)}")
    for name in sorted(set(before.get("packages", {})) | set(now.get("packages", {}))):
        old, new = before.get("packages", {}).get(name), now.get("packages", {}).get(name)
        if old != new and name != "eig-kit":
            reasons.append(f"{name} {old} -> {new}")
    return reasons


def _dict_changes(label: str, before: dict[str, str], now: dict[str, str]) -> list[str]:
    changed = sorted(path for path in set(before) & set(now) if before[path] != now[path])
    added, removed = sorted(set(now) - set(before)), sorted(set(before) - set(now))
    return (
        [f"{label} changed: {path}" for path in changed]
        + [f"{label} now imported: {path}" for path in added]
        + [f"{label} no longer imported: {path}" for path in removed]
    )
