"""The BAAC rule table: per column, which published markers mean "non renseigné" in each era, and the unit.

The table is data (``codebooks/baac_missing.csv``), one row per column of a BAAC table:

- ``kind``: ``measure`` (a number: its markers become NA, never a number), ``code`` (the published code is
  kept, so a user can still count it, and :func:`eigkit.data.labels` names it "Non renseigné"; an empty
  cell is NA) or ``text`` (its markers become NA);
- ``markers_before_2019`` / ``markers_from_2019``: the markers, space separated; ``empty`` is an empty cell
  (or one holding only spaces); a number matches any way it is written (``0`` matches ``00`` and ``000``,
  ``-1`` matches ``" -1"``);
- ``unit`` and ``scale_before_2019``: one unit per column whatever the era (widths in metres: the files before
  2019 write decimetres, so they are multiplied by 0.1).

Sources: the ONISR codebook (``description-bases-onisr-2005-2020.txt``: "cellules vides ou un zéro ou un
point ... non renseignée ou sans objet" before 2019, ``-1`` "Non renseigné" from 2019) and the real files
(``" -1"``, ``N/A``, ``(1)`` in 2019+ files; decimetre widths in 2013 and 2018).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from eigkit.data.columns import line_of, remove_spaces, strip, unique_text, unpadded_integers
from eigkit.data.errors import DataError

RULES_FILE = Path(__file__).resolve().parent / "codebooks" / "baac_missing.csv"
EMPTY = "empty"
NOT_FILLED = "Non renseigné"
_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
_POINT_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")  # before 2019: no decimal comma


def _canonical_marker(text: str) -> str:
    """``' -1'`` -> ``'-1'``, ``'000'`` -> ``'0'``, ``''`` -> ``'empty'``; other text stripped."""
    text = text.strip()
    if not text:
        return EMPTY
    if re.fullmatch(r"-?\d+", text):
        return str(int(text))
    return text


@dataclass(frozen=True)
class Rule:
    """The rule of one column of one BAAC table (a row of ``codebooks/baac_missing.csv``)."""

    table: str
    column: str
    kind: str
    dtype: str
    unit: str
    scale_before_2019: float
    markers_before_2019: frozenset[str]
    markers_from_2019: frozenset[str]
    note: str

    def markers(self, *, post2019: bool) -> frozenset[str]:
        """The markers meaning "non renseigné" in the files of that era (canonical form)."""
        return self.markers_from_2019 if post2019 else self.markers_before_2019

    def scale(self, *, post2019: bool) -> float:
        """What a published number of that era is multiplied by to get :attr:`unit`."""
        return 1.0 if post2019 else self.scale_before_2019


@cache
def rules() -> dict[tuple[str, str], Rule]:
    """Every rule, keyed by ``(table, column)``."""
    found = {}
    with RULES_FILE.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            found[row["table"], row["column"]] = Rule(
                table=row["table"],
                column=row["column"],
                kind=row["kind"],
                dtype=row["dtype"],
                unit=row["unit"],
                scale_before_2019=float(row["scale_before_2019"] or 1),
                markers_before_2019=frozenset(map(_canonical_marker, row["markers_before_2019"].split())),
                markers_from_2019=frozenset(map(_canonical_marker, row["markers_from_2019"].split())),
                note=row["note"],
            )
    return found


def rule(table: str, column: str) -> Rule:
    """The rule of ``table.column``."""
    return rules()[table, column]


def columns_of(table: str, kind: str) -> list[str]:
    """The columns of ``table`` whose rule is of ``kind`` (``measure``, ``code``, ``text``), table order."""
    return [column for (name, column), item in rules().items() if name == table and item.kind == kind]


def not_filled_codes(column: str) -> set[str]:
    """Codes of ``column`` that some era's rule names "non renseigné" (``{'-1', '0'}`` for ``circ``)."""
    codes = set()
    for (_, name), item in rules().items():
        if name == column and item.kind == "code":
            codes |= {
                marker
                for marker in item.markers_before_2019 | item.markers_from_2019
                if re.fullmatch(r"-?\d+", marker)
            }
    return codes


def _canonical_markers(text: pa.Array) -> pa.Array:
    """:func:`_canonical_marker` of every value of a (stripped) Arrow string array, vectorised."""
    integer = pc.match_substring_regex(text, r"^-?\d{1,18}$")
    return pc.if_else(pc.equal(text, ""), EMPTY, pc.if_else(integer, unpadded_integers(text), text))


def _is_in(text: pa.Array, markers: frozenset[str]) -> np.ndarray:
    """Which (stripped) values are one of ``markers`` once canonical."""
    value_set = pa.array(sorted(markers), type=pa.large_string())
    return pc.is_in(_canonical_markers(text), value_set=value_set).to_numpy(zero_copy_only=False)


def is_marker(series: pd.Series, markers: frozenset[str]) -> np.ndarray:
    """Boolean array: which cells of ``series`` hold one of ``markers`` (canonical form)."""
    codes, values = unique_text(series)
    return np.append(_is_in(strip(values), markers), EMPTY in markers)[codes]


def measure(series: pd.Series, item: Rule, *, post2019: bool, path: Path | str) -> pd.Series:
    """The numbers of a published measure column in :attr:`Rule.unit`, its era's markers as NA.

    A value that is neither a marker nor a number raises :class:`DataError` naming it, the column and its
    line.
    """
    markers = item.markers(post2019=post2019)
    codes, values = unique_text(series)
    text = remove_spaces(values)
    marker = _is_in(text, markers)
    number = (_NUMBER if post2019 else _POINT_NUMBER).pattern
    is_number = pc.match_substring_regex(text, f"^{number}$").to_numpy(zero_copy_only=False)
    bad = np.flatnonzero(~marker & ~is_number)
    if len(bad):
        position = int(bad[0])
        value = series.iloc[int(np.flatnonzero(codes == position)[0])]
        raise DataError(
            f"{path}: column {item.column!r} holds {value!r} "
            f"at {line_of(codes, position)}, which is neither a number nor a marker of 'not filled in' "
            f"({describe_markers(markers)}). The columns look shifted or the file is not the published one: "
            "download the original file again."
        )
    numeric_text = pc.replace_substring(pc.if_else(pa.array(is_number & ~marker), text, None), ",", ".")
    parsed = pc.cast(numeric_text, pa.float64()).to_numpy(zero_copy_only=False)
    values = np.append(parsed, np.nan)
    numbers = values[codes] * item.scale(post2019=post2019)
    if item.dtype.startswith("Int"):
        whole = np.round(numbers)
        if np.any(~np.isnan(numbers) & ~np.isclose(numbers, whole)):
            bad = int(np.flatnonzero(~np.isnan(numbers) & ~np.isclose(numbers, whole))[0])
            raise DataError(
                f"{path}: column {item.column!r} holds {series.iloc[bad]!r} at line {bad + 2} where a whole "
                "number is expected. Download the original file again."
            )
        return pd.Series(whole, index=series.index).astype(item.dtype)
    return pd.Series(numbers, index=series.index, dtype=item.dtype or "float64")


def describe_markers(markers: frozenset[str]) -> str:
    """``"empty, 0, -1"`` (numbers as published in any padding)."""
    if not markers:
        return "(column not published)"
    order = sorted(markers, key=lambda marker: (marker != EMPTY, not re.fullmatch(r"-?\d+", marker), marker))
    return ", ".join("empty cell" if marker == EMPTY else repr(marker) for marker in order)


def info(table: str) -> str:
    """The rules of ``table`` as text, for ``eig data info``: missing values per era, units, conversions."""
    lines = [
        "Missing values ('non renseigné') per column, before 2019 | from 2019 (numbers match whatever their",
        "padding: 0 = 00 = 000, -1 = ' -1'). Measures: these markers are read as NA, never as a number.",
        "Codes: the published code is kept (count it), data.labels('baac', column) names it 'Non renseigné';",
        "an empty cell is NA. Text: these markers are read as NA.",
    ]
    for item in (value for (name, _), value in rules().items() if name == table):
        unit = f" [{item.unit}]" if item.unit else ""
        lines.append(
            f"  {item.column:<8} {item.kind:<7}{unit:<18} {describe_markers(item.markers_before_2019)} | "
            f"{describe_markers(item.markers_from_2019)}"
        )
        if item.note:
            lines.append(f"  {'':<8} {'':<7}{'':<18} ({item.note})")
    units = [
        f"{item.column} in {item.unit}" + (
            f" (published x{1 / item.scale_before_2019:g} before 2019, converted)"
            if item.scale_before_2019 != 1 else ""
        )
        for (name, _), item in rules().items()
        if name == table and item.kind == "measure"
    ]  # fmt: skip
    lines.append("Units (one per column across eras): " + "; ".join(units) + ".")
    return "\n".join(lines)
