"""The headers each dataset has been published with (``eras.csv``, one row per era), and the check that a
file's header belongs to a known era.

The years a dataset exists for are asked of data.gouv.fr (:func:`eigkit.data.remote.published_years`); a year
nobody has seen yet is read when its header matches a known era, and refused with a :class:`DataError` naming
its new columns otherwise, instead of having them dropped in silence.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from eigkit.data.sniff import detect_encoding, detect_separator
from eigkit.errors import DataError

ERAS_FILE = Path(__file__).resolve().parent / "eras.csv"
HEADER_BYTES = 1 << 16


@cache
def eras() -> dict[str, dict[str, list[str]]]:
    """``{dataset name: {era: published column names}}``."""
    known: dict[str, dict[str, list[str]]] = {}
    with ERAS_FILE.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            known.setdefault(row["name"], {})[row["era"]] = row["columns"].split()
    return known


def header(path: Path) -> list[str]:
    """The column names of the CSV at ``path`` as written on its first line (quotes and spaces removed)."""
    with path.open("rb") as handle:
        first = handle.read(HEADER_BYTES).split(b"\n", 1)[0]
    encoding, _ = detect_encoding(first)
    line = first.decode(encoding, errors="replace").rstrip("\r")
    return [name.strip() for name in next(csv.reader([line], delimiter=detect_separator(line)))]


def new_columns(name: str, columns: list[str]) -> list[str]:
    """The columns of ``columns`` that no known era of dataset ``name`` has (case ignored)."""
    known = {column.lower() for era in eras().get(name, {}).values() for column in era}
    return [column for column in columns if known and column.lower() not in known]


def check_header(name: str, path: Path) -> None:
    """Refuse a file of ``name`` whose header holds columns no known era has (a new edition of the data)."""
    if name not in eras():
        return
    unknown = new_columns(name, header(path))
    if unknown:
        listed = "; ".join(f"{era}: {' '.join(columns)}" for era, columns in eras()[name].items())
        raise DataError(
            f"{path}: new column(s) {', '.join(repr(column) for column in unknown)} in the header, which no "
            f"known edition of {name} has ({listed}). The producer changed the file: the kit must learn this "
            "edition before it reads it (report it with the file's year); meanwhile read the file yourself "
            "with pandas."
        )
