"""The catalogue of datasets: one CSV table shipped in the package (``registry.csv``), read once."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pandas as pd

from eigkit.data.errors import DataError

PACKAGE_DIR = Path(__file__).resolve().parent
REGISTRY_FILE = PACKAGE_DIR / "registry.csv"
SAMPLES_DIR = PACKAGE_DIR / "samples"
_YEAR_IN_NAME = re.compile(r"(19|20)\d{2}")
SAMPLE_SUFFIXES = {".csv", ".geojson", ".json", ".txt", ".xlsx", ".gz"}
#: tables sharing a family's sample folder: the file-name prefix of each table's samples
SAMPLE_PREFIXES = {
    "delinquance.departements": "donnee-dep", "delinquance.regions": "donnee-reg",
    "delinquance.etat4001": "crimes-et-delits", "insee.population": "donnee-dep",
}  # fmt: skip


@dataclass(frozen=True)
class Entry:
    """One dataset of the catalogue. ``datagouv_dataset`` is the data.gouv.fr dataset's stable id (its slug
    changes when the producer renames it, as ONISR does every year). ``years``: ``"2005-"`` means from 2005
    on, the later years being asked of the API (:func:`eigkit.data.published_years`), never written here."""

    name: str
    family: str
    table: str
    title: str
    publisher: str
    datagouv_dataset: str
    url: str
    resource_pattern: str
    licence: str
    years: str
    sample_kind: str
    format: str
    provenance: str

    @property
    def by_year(self) -> bool:
        """True when the publisher ships one file per year (the resource is picked by year)."""
        return "{year}" in self.resource_pattern

    def sample_files(self) -> dict[int | None, list[Path]]:
        """The embedded sample files of this dataset, grouped by year (``None`` when not by year)."""
        folder = SAMPLES_DIR / self.family
        grouped: dict[int | None, list[Path]] = {}
        for path in sorted(folder.glob("*")):
            if path.suffix.lower() not in SAMPLE_SUFFIXES or not _sample_matches(self, path.name):
                continue
            match = _YEAR_IN_NAME.search(path.name) if self.by_year else None
            grouped.setdefault(int(match.group(0)) if match else None, []).append(path)
        return grouped


def _sample_matches(entry: Entry, filename: str) -> bool:
    if entry.family == "baac":
        starts = ("caract", "carcteristiques") if entry.table == "caracteristiques" else (entry.table,)
        return filename.startswith(starts)
    if entry.family == "secmar":
        return filename == f"{entry.table}.csv"
    if entry.family == "geo":
        return filename.startswith(entry.table)
    if entry.name in SAMPLE_PREFIXES:
        return filename.startswith(SAMPLE_PREFIXES[entry.name])
    return True


@cache
def entries() -> dict[str, Entry]:
    """All catalogue entries by name."""
    with REGISTRY_FILE.open(encoding="utf-8", newline="") as handle:
        return {row["name"]: Entry(**row) for row in csv.DictReader(handle)}


def entry(name: str) -> Entry:
    """The catalogue entry ``name``; :class:`DataError` listing the known names otherwise."""
    known = entries()
    if name not in known:
        raise DataError(
            f"Unknown dataset {name!r}. Known datasets: {', '.join(known)} (see data.datasets())."
        )
    return known[name]


def datasets() -> pd.DataFrame:
    """The catalogue as a table: name, title, publisher, datagouv_dataset, licence, years, has_sample, ..."""
    rows = []
    for item in entries().values():
        samples = item.sample_files()
        rows.append(
            {
                "name": item.name,
                "title": item.title,
                "publisher": item.publisher,
                "datagouv_dataset": item.datagouv_dataset or None,
                "url": item.url or None,
                "licence": item.licence,
                "years": item.years or None,
                "has_sample": bool(samples),
                "sample_kind": item.sample_kind if samples else None,
                "sample_years": ",".join(str(year) for year in samples if year is not None) or None,
                "format": item.format,
            }
        )
    return pd.DataFrame(rows)
