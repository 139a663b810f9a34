"""The record of a run: ``runs/<run-id>/manifest.json``.

It says which notebooks ran with which parameters, how each ended (ok / failed / interrupted / skipped,
with the failing cell and error), how long it took, with which versions of the kit, Python and key
packages, from which git commit of the workspace (and whether it had uncommitted changes), and which data
each notebook read (the records ``eigkit.data`` appends to ``EIG_DATA_USAGE``). It is rewritten atomically
after every notebook, so it is complete and readable even when a run is cut short. It names the process
that drives the run (host, pid, start time): a run still "running" whose driver is gone was killed
(SIGKILL, power cut) and is marked "abandoned" by the next ``eig run``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from eigkit.atomic import write_json
from eigkit.runner.lifeline import pid_alive, process_start_time

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


def driver() -> dict[str, Any]:
    """Who drives the run: host name, pid and the pid's start time (to tell a reused pid apart)."""
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "start_time": process_start_time(pid)}


def driver_gone(record: dict[str, Any]) -> bool:
    """True when ``record`` says "running" but its driver process, on this host, no longer exists."""
    info = record.get("driver")
    if record.get("status") != "running" or not isinstance(info, dict):
        return False
    if info.get("host") != socket.gethostname():
        return False  # another machine sharing the folder: cannot tell
    pid = info.get("pid")
    if not isinstance(pid, int) or not pid_alive(pid):
        return True
    started = info.get("start_time")
    return started is not None and process_start_time(pid) not in {None, started}


def abandon_stale(runs_dir: Path) -> list[Path]:
    """Mark as "abandoned" every run of ``runs_dir`` still "running" whose driver is gone; return them.

    Its unfinished notebooks are marked "abandoned" too; what it recorded before is kept as it was.
    """
    abandoned = []
    for path in sorted(runs_dir.glob(f"*/{MANIFEST}")) if runs_dir.is_dir() else []:
        with contextlib.suppress(OSError, ValueError):
            with open(path, encoding="utf-8") as stream:  # the status comes second: skip finished runs fast
                if '"status": "running"' not in stream.read(200):
                    continue
            if not driver_gone(json.loads(path.read_text(encoding="utf-8"))):
                continue
            record = json.loads(path.read_text(encoding="utf-8"))  # again: it may have ended, then exited
            if record.get("status") != "running":
                continue
            record["status"] = "abandoned"
            record["abandoned_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
            for entry in record.get("runs", []):
                if entry.get("status") in {"pending", "running"}:
                    entry["status"] = "abandoned"
            write(path.parent, record)
            abandoned.append(path.parent)
    return abandoned


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
