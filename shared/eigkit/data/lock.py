"""The workspace's ``data.lock``: url, size and sha256 of every download, so an analysis knows its bytes.

Location: :func:`eigkit.paths.data_lock_path` (``$EIG_DATA_LOCK``, else ``<workspace>/data.lock``, else
beside the cache). JSON, sorted, one entry per dataset and year; written through :mod:`eigkit.atomic` under a
file lock. This module only records and compares: it never downloads nor reads the cache.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from filelock import FileLock

from eigkit.atomic import write_json
from eigkit.errors import DataError
from eigkit.paths import data_lock_path


def lock_key(name: str, year: int | None) -> str:
    """Entry key: ``"baac.lieux@2018"`` or ``"radars"``."""
    return f"{name}@{year}" if year is not None else name


def read_lock(path: Path | None = None) -> dict[str, dict[str, Any]]:
    """All entries of the lock file (empty when it does not exist yet)."""
    path = path or data_lock_path()
    if not path.is_file():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return dict(document["downloads"])
    except (ValueError, KeyError, TypeError) as error:
        raise DataError(
            f"{path}: not a valid data.lock ({error}). Restore it from git or delete it."
        ) from error


def expected(name: str, year: int | None) -> dict[str, Any] | None:
    """What ``data.lock`` says about ``name``/``year``, or None."""
    return read_lock().get(lock_key(name, year))


def record(name: str, year: int | None, *, url: str, size: int, sha256: str, file: str) -> None:
    """Write (or replace) the entry of ``name``/``year``, atomically and safely between processes."""
    path = data_lock_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".flock"):
        downloads = read_lock(path)
        downloads[lock_key(name, year)] = {
            "name": name, "year": year, "url": url, "size": size, "sha256": sha256, "file": file,
        }  # fmt: skip
        write_json(path, {"version": 1, "downloads": dict(sorted(downloads.items()))})


def check(name: str, year: int | None, sha256: str, path: Path) -> None:
    """Refuse bytes that differ from what ``data.lock`` recorded for ``name``/``year``."""
    entry = expected(name, year)
    if entry is not None and entry["sha256"] != sha256:
        where = f" --year {year}" if year is not None else ""
        raise DataError(
            f"{path}: its sha256 {sha256[:12]}... differs from data.lock ({data_lock_path()}: "
            f"{entry['sha256'][:12]}... from {entry['url']}). The file changed since the analysis was "
            "locked. Re-fetch and accept the new bytes with data.load(..., refresh=True) or "
            f"`eig data fetch {name}{where} --refresh` (data.lock is then updated), or restore the locked "
            "file."
        )
