"""The registry of readers: which module parses the files of each dataset family.

A reader module exposes ``read(table, path) -> DataFrame`` (a pure parser of ONE published file) and
``NORMALISER_VERSION`` (part of the parquet cache key: bump it when the normalised output changes).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pandas as pd

from eigkit.data import (
    baac,
    ccomptes,
    delinquance,
    dvf,
    eras,
    etat4001,
    geo,
    population,
    radars,
    sdis,
    secmar,
    verbalisation,
)
from eigkit.data.registry import Entry
from eigkit.errors import DataError

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
#: tables that share their family's samples but whose files have a reader of their own
TABLE_READERS: dict[str, ModuleType] = {"delinquance.etat4001": etat4001, "insee.population": population}
#: families whose normalised tables are not cached as parquet (polygon rings do not round-trip through
#: parquet; GeoJSON parses fast anyway)
NO_PARQUET = frozenset({"geo"})


def reader(item: Entry) -> ModuleType:
    """The reader module of ``item`` (its own, else its family's)."""
    if item.name in TABLE_READERS:
        return TABLE_READERS[item.name]
    if item.family not in READERS:
        raise DataError(f"{item.name}: no reader for family {item.family!r} (known: {', '.join(READERS)}).")
    return READERS[item.family]


def normaliser_version(item: Entry) -> str:
    """Version of the normaliser of ``item`` (part of the parquet cache key)."""
    return str(reader(item).NORMALISER_VERSION)


def parse(item: Entry, path: Path) -> pd.DataFrame:
    """Parse and normalise ONE published file of ``item``; a header with columns no known edition has is
    refused (:func:`eigkit.data.eras.check_header`) rather than read with those columns dropped."""
    frame = reader(item).read(item.table, path)
    eras.check_header(item.name, path)
    return frame
