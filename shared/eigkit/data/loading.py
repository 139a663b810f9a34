"""The public entry points: ``read``, ``load``, ``fetch`` and the filters they accept."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

from eigkit.data import baac, ccomptes, delinquance, dvf, geo, radars, sdis, secmar, verbalisation
from eigkit.data.columns import concat_frames
from eigkit.data.errors import DataError
from eigkit.data.registry import Entry, entry

READERS: dict[str, ModuleType] = {
    "baac": baac,
    "radars": radars,
    "sdis": sdis,
    "secmar": secmar,
    "geo": geo,
    "ccomptes": ccomptes,
    "dvf": dvf,
    "delinquance": delinquance,
    "verbalisation": verbalisation,
}
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


def _reader(item: Entry) -> ModuleType:
    return READERS[item.family]


def normaliser_version(name: str) -> str:
    """Version of the normaliser of ``name`` (part of the parquet cache key)."""
    return _reader(entry(name)).NORMALISER_VERSION


def read(name: str, path: str | os.PathLike[str]) -> pd.DataFrame:
    """Parse and normalise ONE file of dataset ``name`` as published; pure, no network.

    Raises :class:`DataError` naming the file, the column and what to do when the file is not the expected one
    or looks damaged (re-saved by a spreadsheet, shifted columns, keys like ``2.023E+11``).
    """
    item = entry(name)
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data.read({name!r}, {str(path)!r}): no such file. Check the path.")
    return _reader(item).read(item.table, path)


@lru_cache(maxsize=64)
def _read_sample(name: str, path: str, stamp: tuple[int, int]) -> pd.DataFrame:
    return read(name, path)


@lru_cache(maxsize=256)
def _sha256_of(path: str, stamp: tuple[int, int]) -> str:
    return file_sha256(Path(path))


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


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
    return [baac.departement_code(str(value), post2019=True) or "" for value in values]


def _lookup(table: dict[str, str], name: str) -> str | None:
    return table.get(name) or table.get(name.split(".")[0])


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


def load(name: str, *, year: int | Iterable[int] | None = None, source: str = "remote", refresh: bool = False,
         **filters: Any) -> pd.DataFrame:  # fmt: skip
    """Load dataset ``name`` as one normalised DataFrame.

    ``source``: ``"sample"`` (small real samples shipped in the package; offline), ``"cache"`` (files already
    downloaded; never touches the network) or ``"remote"`` (data.gouv.fr, verified download, then cache).
    ``year`` / ``years=[...]``: which years (for datasets published one file per year, they pick the files; by
    default the samples' years, or the latest year for ``cache``/``remote``); for others they filter rows.
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
    frames = []
    if source == "sample":
        for file_year, path in _sample_files(item, years):
            stamp = _stamp(path)
            frames.append(_read_sample(name, str(path), stamp))
            digest = _sha256_of(str(path), stamp)
            record_usage(name=name, year=file_year, source=source, path=path, sha256=digest, url=None)
    else:
        from eigkit.data import cache

        wanted = years if item.by_year else [None]
        if item.by_year and not wanted:
            wanted = [item.year_range[-1]]
        frames.append(cache.load_years(item, wanted, source=source, refresh=refresh))
    if source == "sample":  # the samples' frames are memoised: hand out copies
        frames = [frame.copy() for frame in frames]
    frame = concat_frames(frames)
    return _filter(item, frame, years=years, departements=departements)


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


def fetch(name: str, *, year: int | None = None, refresh: bool = False) -> Path:
    """Download dataset ``name`` (the file of ``year``, default the latest) into the cache; return its path.

    The download is verified (announced size and checksum), recorded in ``data.lock`` and reused afterwards.
    """
    from eigkit.data import remote

    item = entry(name)
    if item.by_year and year is None:
        year = item.year_range[-1]
    return remote.fetch(item, year if item.by_year else None, refresh=refresh).path
