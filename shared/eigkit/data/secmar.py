"""Sea-rescue operations coordinated by the CROSS (SECMAR open data, as published by the DAM / SNOSAN).

Columns keep their published names; types come from the publisher's own column documentation
(``codebooks/secmar/doc.yml``): ``operation_id`` Int64, booleans (``True``/``False``) as ``boolean``,
timestamps as UTC datetimes, counts as nullable integers, labels as categoricals. ``operations`` also gets
``annee`` (year of ``date_heure_reception_alerte``, UTC) and ``dep`` (INSEE code of ``departement``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd
import yaml

from eigkit.data.columns import as_category, as_datetime, as_float, as_int, as_text, require_columns
from eigkit.data.errors import DataError
from eigkit.data.sniff import read_text_table

NORMALISER_VERSION = "secmar-1"
CODEBOOK_DIR = Path(__file__).resolve().parent / "codebooks" / "secmar"
TRUE, FALSE = {"true", "y", "yes", "1", "oui", "t"}, {"false", "n", "no", "0", "non", "f"}
FREE_TEXT = {"numero_immatriculation", "immatriculation_omi", "nom_serie", "cross_sitrep", "marque"}


@cache
def column_types(table: str) -> dict[str, tuple[str, str | None]]:
    """``{column: (type, format)}`` of a published SECMAR table, from the publisher's documentation."""
    doc = yaml.safe_load((CODEBOOK_DIR / "doc.yml").read_text(encoding="utf-8"))
    properties = doc["components"]["schemas"][table]["properties"]
    return {name: (spec.get("type", "string"), spec.get("format")) for name, spec in properties.items()}


@cache
def departement_codes() -> dict[str, str]:
    """Département name -> INSEE code, from the SECMAR code table."""
    table = pd.read_csv(CODEBOOK_DIR / "SEC_OPERATION_dept_id.csv", dtype=str, keep_default_na=False)
    return dict(zip(table["libelle"], table["code"], strict=True))


def _boolean(series: pd.Series, *, path: Path, column: str) -> pd.Series:
    lowered = series.str.strip().str.lower()
    unknown = ~lowered.isin(TRUE | FALSE | {""})
    if unknown.any():
        raise DataError(
            f"{path}: column {column!r} holds {series[unknown].iloc[0]!r} where True/False is expected."
        )
    return lowered.map(lambda value: True if value in TRUE else False if value in FALSE else None).astype(
        "boolean"
    )


def read(table: str, path: Path) -> pd.DataFrame:
    """Parse and normalise one published SECMAR table (``operations.csv``, ``flotteurs.csv``, ...)."""
    raw, _ = read_text_table(path)
    types = column_types(table)
    require_columns(raw, ["operation_id"], path=path, what=f"SECMAR {table}")
    unknown = [column for column in raw.columns if column not in types]
    if unknown:
        raise DataError(
            f"{path}: column(s) {', '.join(unknown)} are not columns of the published SECMAR {table!r} "
            "table. "
            f"Check that the file matches the dataset secmar.{table}."
        )
    out = pd.DataFrame(index=raw.index)
    for column in raw.columns:
        kind, fmt = types[column]
        series = raw[column]
        if kind == "boolean":
            out[column] = _boolean(series, path=path, column=column)
        elif fmt in ("date-time", "date"):
            out[column] = as_datetime(series, path=path, column=column, utc=fmt == "date-time")
        elif kind == "integer" or fmt in ("int32", "int64"):
            out[column] = as_int(
                series, path=path, column=column, dtype="Int64" if fmt == "int64" else "Int32"
            )
        elif kind == "number":
            out[column] = as_float(series, path=path, column=column, decimal_comma=False)
        elif column in FREE_TEXT:
            out[column] = as_text(series)
        else:
            out[column] = as_category(series)
    if table == "operations" and "date_heure_reception_alerte" in out.columns:
        out["annee"] = out["date_heure_reception_alerte"].dt.year.astype("Int16")
    if "departement" in out.columns:
        out["dep"] = as_category(raw["departement"].map(departement_codes()).fillna(""))
    return out
