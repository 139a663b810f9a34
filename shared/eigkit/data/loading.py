"""The public entry points and the one place that decides where data comes from.

``read`` parses one file; ``load`` goes sample -> reader, or cache -> (parquet | reader), or
remote -> fetch -> cache -> (parquet | reader); ``fetch`` downloads through :mod:`~eigkit.data.remote`, stores
through :mod:`~eigkit.data.cache` and records through :mod:`~eigkit.data.lock`. Those modules never call
each other: this one strings them together.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
from filelock import FileLock

from eigkit.data import cache, lock, readers, remote
from eigkit.data.baac import departement_code
from eigkit.data.columns import concat_frames
from eigkit.data.frames import tables_to_frame
from eigkit.data.registry import Entry, entry
from eigkit.errors import DataError

SOURCES = ("remote", "cache", "sample")
USAGE_ENV = "EIG_DATA_USAGE"
#: column holding the year, per dataset name prefix (filters ``year=`` / ``years=``)
YEAR_COLUMNS = {"baac": "an", "sdis": "annee", "secmar.operations": "annee", "ccomptes": "annee",
                "dvf": "annee", "delinquance": "annee", "radars.verbalisation": "annee",
                "insee": "annee"}  # fmt: skip
#: column holding the INSEE département code (filters ``dep=`` / ``departements=``)
DEP_COLUMNS = {"baac.caracteristiques": "dep", "radars": "dep", "sdis": "dep", "secmar.operations": "dep",
               "geo.departements": "code", "dvf": "dep", "delinquance.departements": "dep",
               "delinquance.etat4001": "dep", "insee": "dep"}  # fmt: skip


def read(name: str, path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse and normalise ONE file of dataset ``name`` as published; pure, no network.

    Raises :class:`DataError` naming the file, the column and what to do when the file is not the expected one
    or looks damaged (re-saved by a spreadsheet, shifted columns, keys like ``2.023E+11``).
    """
    item = entry(name)
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data.read({name!r}, {str(path)!r}): no such file. Check the path.")
    return readers.parse(item, path)


def sample_files(name: str) -> list[Path]:
    """The embedded sample files of dataset ``name`` (real extracts as published, or labelled synthetic)."""
    return sorted(path for paths in entry(name).sample_files().values() for path in paths)


def published_years(name: str) -> list[int]:
    """The years of dataset ``name`` published on data.gouv.fr today (asked of the API: needs network)."""
    item = entry(name)
    if not item.by_year:
        raise DataError(f"published_years({name!r}): this dataset is not published one file per year.")
    return remote.published_years(item)


def cached_file(name: str, *, year: int | None = None) -> Path:
    """The verified cached file of ``name`` (``year``: default the latest cached); no network, ever."""
    item = entry(name)
    ((_, download),) = _from_cache(item, _cache_years(item, [year] if year is not None else []))
    return download.path


def fetch(name: str, *, year: int | None = None, refresh: bool = False) -> Path:
    """Download dataset ``name`` (the file of ``year``, default the latest published) into the cache; return
    its path.

    The download is verified (announced size and checksum), recorded in ``data.lock`` and reused afterwards.
    """
    item = entry(name)
    if item.by_year and year is None:
        year = _latest_published(item)
    return _fetch(item, year if item.by_year else None, refresh=refresh).path


def load(name: str, *, year: int | Iterable[int] | None = None, source: str = "remote", refresh: bool = False,
         **filters: Any) -> pd.DataFrame:  # fmt: skip
    """Load dataset ``name`` as one normalised DataFrame.

    ``source``: ``"sample"`` (small real samples shipped in the package; offline), ``"cache"`` (files already
    downloaded; never touches the network) or ``"remote"`` (data.gouv.fr, verified download, then cache).
    ``year`` / ``years=[...]``: which years (for datasets published one file per year, they pick the files; by
    default the samples' years, the latest cached year for ``cache``, the latest published year for
    ``remote``); for others they filter rows.
    ``dep=`` / ``departements=[...]``: INSEE département codes (``"01"``, ``"2A"``, ``"971"``) where the table
    has one. ``refresh=True`` re-downloads (and replaces a cached file that no longer matches ``data.lock``).
    """
    item = entry(name)
    if source not in SOURCES:
        raise DataError(f"load({name!r}): source={source!r}; use one of {', '.join(SOURCES)}.")
    years = _years(item, year, filters)
    departements = _departements(filters)
    if filters:
        raise DataError(
            f"load({name!r}): unknown filter(s) {', '.join(filters)}. Filters: year, years, dep, "
            "departements."
        )
    if source == "sample":
        frame = _load_samples(item, years)
    elif source == "cache":
        frame = _normalised(item, _from_cache(item, _cache_years(item, years)), source=source)
    else:
        wanted = (years or [_latest_published(item)]) if item.by_year else [None]
        downloads = [_fetch(item, wanted_year, refresh=refresh) for wanted_year in wanted]
        frame = _normalised(item, list(zip(wanted, downloads, strict=True)), source=source)
    return _filter(item, frame, years=years, departements=departements)


# -- where the files come from -----------------------------------------------------------------------------


def _latest_published(item: Entry) -> int:
    years = remote.published_years(item)
    if not years:
        raise DataError(
            f"{item.name}: the data.gouv.fr dataset {item.datagouv_dataset!r} lists no yearly file matching "
            f"{item.resource_pattern!r}. Pass year= explicitly, or report the change of layout."
        )
    return years[-1]


def _cache_years(item: Entry, years: list[int]) -> list[int | None]:
    if not item.by_year:
        return [None]
    if years:
        return list(years)
    cached = cache.cached_years(item)
    if not cached:
        raise _not_cached(item, None)
    return [cached[-1]]


def _not_cached(item: Entry, year: int | None) -> DataError:
    where = f" --year {year}" if year is not None else ""
    return DataError(
        f"load({item.name!r}, source='cache'): no cached file for year {year} in {cache.location()}. "
        f"Download it with `eig data fetch {item.name}{where}` (or source='remote'), or use source='sample'."
    )


def _verified(item: Entry, year: int | None) -> cache.Download | None:
    """The cached download, re-hashed and checked against ``data.lock``; None when not cached."""
    download = cache.cached(item, year)
    if download is not None:
        cache.verify(item, year, download)
        lock.check(item.name, year, download.sha256, download.path)
    return download


def _from_cache(item: Entry, years: list[int | None]) -> list[tuple[int | None, cache.Download]]:
    def verified(year: int | None) -> cache.Download:
        download = _verified(item, year)
        if download is None:
            raise _not_cached(item, year)
        return download

    with ThreadPoolExecutor(max_workers=_workers(years)) as pool:  # hashing frees the GIL: a year per thread
        return list(zip(years, pool.map(verified, years), strict=True))


def _fetch(item: Entry, year: int | None, *, refresh: bool) -> cache.Download:
    """The verified cached download of ``item``/``year``, downloaded first when needed (one process at a
    time)."""
    if not refresh and (existing := _verified(item, year)) is not None:
        return existing  # a read-only shared cache serves what it holds without taking the lock
    folder = cache.target_dir(item, year)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        guard = FileLock(str(folder / ".fetch.lock"))
        guard.acquire()
    except OSError as error:
        raise DataError(
            f"Cannot download {item.name} {year or ''} into {folder}: the cache folder is not writable "
            f"({error.strerror}). Set EIG_DATA_DIR to a folder you can write, or ask its owner to fetch it "
            f"(`eig data fetch {item.name}`)."
        ) from error
    try:
        existing = None if refresh else _verified(item, year)
        return existing or _download(item, year, folder, refresh=refresh)
    finally:
        guard.release()


def _download(item: Entry, year: int | None, folder: Path, *, refresh: bool) -> cache.Download:
    resource = remote.resolve(item, year)
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".download-"))
    try:
        staged = remote.download(resource, staging, item, year)
        sha256 = cache.file_sha256(staged)
        if not refresh:
            lock.check(item.name, year, sha256, staged)
        stored = cache.store_download(item, year, staged, url=resource.url, sha256=sha256)
        lock.record(item.name, year, url=stored.url, size=stored.size, sha256=sha256, file=stored.path.name)
        return stored
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# -- from files to one frame ------------------------------------------------------------------------------


def _workers(items: list) -> int:
    return max(1, min(4, os.cpu_count() or 1, len(items)))


def _normalised(
    item: Entry, downloads: list[tuple[int | None, cache.Download]], *, source: str
) -> pd.DataFrame:
    """The normalised tables of the cached ``downloads`` as one frame (from parquet when intact)."""
    for year, download in downloads:  # the usage log stays in year order
        record_usage(name=item.name, year=year, source=source, path=download.path, sha256=download.sha256,
                     url=download.url)  # fmt: skip
    files = [download for _, download in downloads]
    if item.family in readers.NO_PARQUET:
        return concat_frames([readers.parse(item, download.path) for download in files])
    version = readers.normaliser_version(item)
    parquets = [cache.parquet_path(download, version) for download in files]
    with ThreadPoolExecutor(max_workers=_workers(parquets)) as pool:  # hashing and Arrow's reads free the GIL
        tables = list(pool.map(cache.read_table, parquets))
    missing = [index for index, table in enumerate(tables) if table is None]
    # parses run in threads: one's Python normalisation overlaps another's Arrow CSV read
    with ThreadPoolExecutor(max_workers=_workers(missing)) as pool:
        parsed = pool.map(lambda index: _parsed_table(item, files[index], parquets[index]), missing)
        for index, table in zip(missing, parsed, strict=True):
            tables[index] = table
    return tables_to_frame(tables)


def _parsed_table(item: Entry, download: cache.Download, parquet: Path) -> pa.Table:
    """Parse one download into an Arrow table and store it as ``parquet`` (when the cache is writable)."""
    table = pa.Table.from_pandas(readers.parse(item, download.path), preserve_index=False)
    cache.write_table(parquet, table)
    return table


def _load_samples(item: Entry, years: list[int]) -> pd.DataFrame:
    frames = []
    for file_year, path in _sample_files(item, years):
        stamp = _stamp(path)
        frames.append(_read_sample(item.name, str(path), stamp).copy())  # memoised: hand out copies
        digest = _sha256_of(str(path), stamp)
        record_usage(name=item.name, year=file_year, source="sample", path=path, sha256=digest, url=None)
    return concat_frames(frames)


@lru_cache(maxsize=64)
def _read_sample(name: str, path: str, stamp: tuple[int, int]) -> pd.DataFrame:
    return read(name, path)


@lru_cache(maxsize=256)
def _sha256_of(path: str, stamp: tuple[int, int]) -> str:
    return cache.file_sha256(Path(path))


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def _sample_files(item: Entry, years: list[int]) -> list[tuple[int | None, Path]]:
    grouped = item.sample_files()
    if not grouped:
        raise DataError(f"load({item.name!r}, source='sample'): this dataset has no embedded sample.")
    if not item.by_year or not years:
        return [
            (year, path)
            for year, paths in sorted(grouped.items(), key=lambda kv: kv[0] or 0)
            for path in paths
        ]
    missing = [year for year in years if year not in grouped]
    if missing:
        raise DataError(
            f"load({item.name!r}, source='sample'): no sample for year(s) {missing}; the samples cover "
            f"{sorted(year for year in grouped if year is not None)}. Use source='remote' for other years."
        )
    return [(year, path) for year in years for path in grouped[year]]


def record_usage(
    *, name: str, year: int | None, source: str, path: Path, sha256: str, url: str | None
) -> None:
    """Append one JSON line to the file named by ``$EIG_DATA_USAGE`` (the runner copies it into manifests)."""
    target = os.environ.get(USAGE_ENV)
    if not target:
        return
    line = {"name": name, "year": year, "source": source, "path": str(path), "sha256": sha256, "url": url}
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line, ensure_ascii=False) + "\n")


# -- filters ----------------------------------------------------------------------------------------------


def _as_list(value: Any) -> list:
    if value is None:
        return []
    if isinstance(value, str | int):
        return [value]
    if isinstance(value, Iterable):
        return list(value)
    return [value]


def _years(item: Entry, year: Any, filters: dict[str, Any]) -> list[int]:
    values = _as_list(year) + _as_list(filters.pop("years", None))
    try:
        return sorted({int(value) for value in values})
    except (TypeError, ValueError):
        raise DataError(f"load({item.name!r}): year/years must be integers, got {values!r}.") from None


def _departements(filters: dict[str, Any]) -> list[str]:
    values = _as_list(filters.pop("dep", None)) + _as_list(filters.pop("departements", None))
    return [departement_code(str(value), post2019=True) or "" for value in values]


def _lookup(table: dict[str, str], name: str) -> str | None:
    return table.get(name) or table.get(name.split(".")[0])


def _filter(item: Entry, frame: pd.DataFrame, *, years: list[int], departements: list[str]) -> pd.DataFrame:
    if years:
        column = _lookup(YEAR_COLUMNS, item.name)
        if column is None:
            if not item.by_year:
                raise DataError(f"load({item.name!r}): this dataset has no year; drop the year/years filter.")
        else:
            keep = frame[column].isin(years).fillna(False).to_numpy(dtype=bool)
            frame = frame if keep.all() else frame[keep]
    if departements:
        column = _lookup(DEP_COLUMNS, item.name)
        if column is None:
            raise DataError(
                f"load({item.name!r}): this table has no département column; filter on dep= with "
                "baac.caracteristiques (join on num_acc), radars, sdis.interventions, secmar.operations or "
                "geo.departements."
            )
        frame = frame[frame[column].astype("str").isin(departements).to_numpy(dtype=bool)]
    return frame.reset_index(drop=True)
