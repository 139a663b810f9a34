"""The record of a run: ``runs/<run-id>/manifest.json``.

It says which notebooks ran with which parameters, how each ended (ok / failed / interrupted / skipped,
with the failing cell and error), how long it took, with which versions of the kit, Python and key
packages, from which git commit of the workspace (and whether it had uncommitted changes), and which data
each notebook read (the records ``eigkit.data`` appends to ``EIG_DATA_USAGE``). It is rewritten atomically
after every notebook, so it is complete and readable even when a run is cut short.
"""

from __future__ import annotations

import json
import platform
import secrets
import subprocess
import sys
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from eigkit.atomic import write_json

MANIFEST = "manifest.json"
KEY_PACKAGES = (
    "eig-kit",
    "papermill",
    "nbclient",
    "ipykernel",
    "nbval",
    "nbconvert",
    "pandas",
    "numpy",
    "matplotlib",
    "pyarrow",
)


def new_run_id() -> str:
    """A sortable, unique run id: local date and time, then a short random suffix."""
    return f"{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that shape a notebook's outputs (``None`` when absent)."""
    versions: dict[str, str | None] = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(folder: Path) -> dict[str, Any] | None:
    """The workspace's git commit and whether its tree has uncommitted changes (``None`` outside git)."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}


def environment() -> dict[str, Any]:
    """Python, platform and key package versions of the process that drives the run."""
    from eigkit import __version__

    return {
        "kit": __version__,
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "packages": package_versions(),
    }


def write(run_dir: Path, manifest: dict[str, Any]) -> Path:
    """Write ``manifest`` to ``run_dir/manifest.json`` atomically; return its path."""
    path = run_dir / MANIFEST
    write_json(path, manifest)
    return path


def read(run_dir: Path) -> dict[str, Any]:
    """Read a run's manifest."""
    return json.loads((run_dir / MANIFEST).read_text(encoding="utf-8"))


def latest_run(runs_dir: Path) -> Path | None:
    """The most recent run folder that has a manifest (run ids sort by time), or ``None``."""
    if not runs_dir.is_dir():
        return None
    candidates = sorted(path for path in runs_dir.iterdir() if (path / MANIFEST).is_file())
    return candidates[-1] if candidates else None


def overall_status(statuses: list[str]) -> str:
    """The run's status from its notebooks': interrupted beats failed beats ok."""
    if "interrupted" in statuses:
        return "interrupted"
    if "failed" in statuses or "skipped" in statuses:
        return "failed"
    return "ok"
