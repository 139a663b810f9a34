"""The cache: stores verified downloads and the parquet tables normalised from them, and verifies both.

Layout: ``<cache>/<dataset>/<year|all>/<file>`` plus ``download.json`` (url, size, sha256, file) and
``<file>.<sha256[:16]>.<normaliser version>.parquet`` with its own sha256 beside it (``.parquet.sha256``).
``<cache>`` is :func:`eigkit.paths.data_cache_dir`. Every file is written through :mod:`eigkit.atomic`
(the user's umask, never a half-written file). A cache folder the user cannot write still serves what it
holds: tables are then parsed in memory and not stored. A parquet table is hashed at every read; a raw file
only when its stamp (size, mtime, ctime, inode) differs from its last verification. This module neither
downloads nor parses.
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from eigkit.atomic import atomic_path, write_json, write_text
from eigkit.data.registry import Entry
from eigkit.errors import DataError
from eigkit.paths import data_cache_dir

with warnings.catch_warnings():  # pooch imports tqdm.auto, which warns in a kernel without ipywidgets
    warnings.filterwarnings("ignore", message="IProgress not found")
    import pooch

META_FILE = "download.json"


@dataclass(frozen=True)
class Download:
    """A verified file in the cache."""

    path: Path
    url: str
    size: int
    sha256: str
    stamp: tuple[int, ...] = ()  # (size, mtime, ctime, inode) when ``sha256`` was last checked


def _stamp(path: Path) -> tuple[int, ...]:
    """What changes whenever a file's bytes are rewritten or replaced (ctime cannot be set back by a user)."""
    status = path.stat()
    return status.st_size, status.st_mtime_ns, status.st_ctime_ns, status.st_ino


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    return pooch.file_hash(str(path), alg="sha256")


def target_dir(item: Entry, year: int | None) -> Path:
    """Folder of the cached file of ``item``/``year``."""
    return data_cache_dir() / item.name / (str(year) if year is not None else "all")


def cached(item: Entry, year: int | None) -> Download | None:
    """The cached download of ``item``/``year`` as recorded (not yet re-verified), or None."""
    folder = target_dir(item, year)
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    path = folder / meta["path"]
    if not path.is_file():
        return None
    stamp = tuple(int(value) for value in meta.get("stamp", ()))
    return Download(path=path, url=meta["url"], size=int(meta["size"]), sha256=meta["sha256"], stamp=stamp)


def cached_years(item: Entry) -> list[int]:
    """The years of ``item`` present in the cache (no network)."""
    folder = data_cache_dir() / item.name
    years = [int(path.name) for path in folder.glob("*") if path.name.isdigit()] if folder.is_dir() else []
    return sorted(year for year in years if cached(item, year) is not None)


def verify(item: Entry, year: int | None, download: Download) -> None:
    """Refuse a cached file altered since its download.

    The bytes are re-hashed unless the file is the very one whose sha256 was checked (same size, mtime,
    ctime and inode: any write or replacement changes them); after a successful re-hash that stamp is
    recorded when the folder allows, so the next load does not hash the file again.
    """
    if download.stamp and _stamp(download.path) == download.stamp:
        return
    actual = file_sha256(download.path)
    if actual != download.sha256:
        where = f" --year {year}" if year is not None else ""
        raise DataError(
            f"{download.path}: the cached file was modified after its download (sha256 {actual[:12]}... "
            f"instead of {download.sha256[:12]}...). Re-fetch it: `eig data fetch {item.name}{where} "
            "--refresh`."
        )
    with contextlib.suppress(OSError):  # a read-only cache hashes again next time
        _write_meta(download)


def store_download(item: Entry, year: int | None, staged: Path, *, url: str, sha256: str) -> Download:
    """Move a verified download into the cache (with the user's file mode) and record what it is."""
    folder = target_dir(item, year)
    final = folder / staged.name
    with atomic_path(final) as temporary:
        os.replace(staged, temporary)
    download = Download(path=final, url=url, size=final.stat().st_size, sha256=sha256)
    _write_meta(download)
    return download


def _write_meta(download: Download) -> None:
    meta = {"path": download.path.name, "url": download.url, "size": download.size, "sha256": download.sha256}
    write_json(download.path.parent / META_FILE, {**meta, "stamp": list(_stamp(download.path))})


def parquet_path(download: Download, normaliser_version: str) -> Path:
    """Where the normalised table of ``download`` is cached (keyed by raw sha256 + normaliser version)."""
    return download.path.with_name(
        f"{download.path.name}.{download.sha256[:16]}.{normaliser_version}.parquet"
    )


def _digest_path(parquet: Path) -> Path:
    return parquet.with_name(parquet.name + ".sha256")


def read_table(parquet: Path) -> pa.Table | None:
    """The cached table at ``parquet`` when its bytes are the ones written, else None.

    A table whose sha256 differs from the one recorded when it was written (a flipped bit, a truncated
    copy) or that has no recorded sha256 is never trusted: it is removed (when the folder allows) and the
    caller rebuilds it from the verified raw file.
    """
    try:
        recorded = _digest_path(parquet).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    if parquet.is_file() and file_sha256(parquet) == recorded:
        try:
            return pq.read_table(parquet)
        except (OSError, ValueError):
            pass
    for path in (_digest_path(parquet), parquet):
        try:
            path.unlink(missing_ok=True)
        except OSError:  # a read-only cache: leave it, the table is rebuilt in memory
            break
    return None


def write_table(parquet: Path, table: pa.Table) -> bool:
    """Store ``table`` at ``parquet`` with its sha256; False (nothing stored) when the folder is read-only
    or full: the load goes on from memory."""
    try:
        with atomic_path(parquet) as temporary:
            pq.write_table(table, temporary)
            digest = file_sha256(temporary)
        write_text(_digest_path(parquet), digest + "\n")
    except OSError:
        return False
    return True
