"""Property transactions (DVF, "Demandes de valeurs foncières"), raw DGFiP files and Etalab geolocated files.

Two publications, one schema:

- DGFiP raw yearly files (``valeursfoncieres-2020.txt``): ``|`` separated, decimal comma, dates
  ``dd/mm/yyyy``, header ``Code service CH|Reference document|...`` or, in the newer edition,
  ``Identifiant de document|...``; codes not zero-padded (``Code postal`` ``1250``, ``Code commune``
  ``72``), no mutation identifier.
- Etalab geolocated files (``demandes-de-valeurs-foncieres-geolocalisees``): ``,`` separated, decimal point,
  ISO dates, codes as zero-padded text, ``id_mutation``, ``longitude``/``latitude``. Derived copies that add
  columns (``section_prefixe``) are read, the extra columns left out.

One mutation spans several lines (one per parcel, lot, premises or crop) that all REPEAT its price: never sum
``valeur_fonciere`` over lines. In raw files a mutation is a run of consecutive lines with the same date,
nature, price and département; its ``id_mutation`` is built as ``<year>-dgfip-<n>`` (``n`` counts mutations in
the file), Etalab's ids are kept. (Two different mutations of the same day, nature, price and département
written one after the other would be taken as one: the raw files give no better key.)

Normalised columns: ``id_mutation``, ``date_mutation``, ``annee``, ``numero_disposition``,
``nature_mutation``, ``valeur_fonciere`` (EUR, NaN when empty), ``dep``, ``code_commune`` (INSEE, 5
characters), ``nom_commune``,
``code_postal`` (5 characters), ``id_parcelle`` (14 characters), ``nombre_lots``, ``lot1_surface_carrez``,
``code_type_local``, ``type_local``, ``surface_reelle_bati``, ``nombre_pieces_principales``,
``code_nature_culture``, ``surface_terrain`` (m²), ``longitude``, ``latitude`` (WGS84; NaN in raw files),
``source`` (``dgfip`` or ``etalab``). A file re-written by pandas (index column, floats, lost zeros) is
refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from eigkit.data import rows, territory
from eigkit.data.columns import as_category, as_text, require_columns
from eigkit.data.errors import DataError
from eigkit.data.sniff import read_text_table

NORMALISER_VERSION = "dvf-1"
RAW_FIRST_COLUMNS = ("Code service CH", "Identifiant de document")
#: raw DGFiP header -> normalised name (the geolocated files already use the normalised names)
RAW_NAMES = {
    "No disposition": "numero_disposition", "Date mutation": "date_mutation",
    "Nature mutation": "nature_mutation", "Valeur fonciere": "valeur_fonciere", "Code postal": "code_postal",
    "Commune": "nom_commune", "Code departement": "code_departement", "Code commune": "code_commune",
    "Nombre de lots": "nombre_lots", "Surface Carrez du 1er lot": "lot1_surface_carrez",
    "Code type local": "code_type_local", "Type local": "type_local",
    "Surface reelle bati": "surface_reelle_bati", "Nombre pieces principales": "nombre_pieces_principales",
    "Nature culture": "code_nature_culture", "Surface terrain": "surface_terrain",
}  # fmt: skip
SCHEMA = [
    "id_mutation", "date_mutation", "annee", "numero_disposition", "nature_mutation", "valeur_fonciere",
    "dep", "code_commune", "nom_commune", "code_postal", "id_parcelle", "nombre_lots", "lot1_surface_carrez",
    "code_type_local", "type_local", "surface_reelle_bati", "nombre_pieces_principales",
    "code_nature_culture", "surface_terrain", "longitude", "latitude", "source",
]  # fmt: skip
REQUIRED = ["date_mutation", "nature_mutation", "valeur_fonciere", "code_departement", "code_commune"]
_PANDAS_RESAVE = (
    "The file was re-written by pandas (to_csv with its index: floats such as '1000.0', codes without their "
    "zeros). Download the original file again."
)


def read(table: str, path: Path) -> pd.DataFrame:
    """Parse and normalise one DVF file, raw DGFiP (``|``) or Etalab geolocated (``,``)."""
    raw, fmt = read_text_table(path)
    first = raw.columns[0] if len(raw.columns) else ""
    if first in ("", "Unnamed: 0") and len(raw.columns) > 1 and raw.columns[1] in RAW_FIRST_COLUMNS:
        raise DataError(f"{path}: the first column has no name and holds a row index. {_PANDAS_RESAVE}")
    if first in RAW_FIRST_COLUMNS:
        return _raw(raw, path=path)
    if "id_mutation" in raw.columns:
        return _geolocated(raw, path=path)
    raise DataError(
        f"{path}: not a DVF file: the header starts with {first!r} where the DGFiP files start with "
        f"{' or '.join(map(repr, RAW_FIRST_COLUMNS))} and Etalab's with 'id_mutation' "
        f"({fmt.describe()}). Check that the file matches dvf.mutations."
    )


def _dates(series: pd.Series, *, path: Path, column: str, fmt: str) -> pd.Series:
    dates = pd.to_datetime(series.where(series.str.strip() != ""), format=fmt, errors="coerce")
    bad = dates.isna() & (series.str.strip() != "")
    if bad.any():
        raise DataError(
            f"{path}: column {column!r}, line {territory.line_of(series, bad)}: {series[bad].iloc[0]!r} "
            f"is not a date ({'dd/mm/yyyy' if fmt.startswith('%d') else 'yyyy-mm-dd'} expected)."
        )
    return dates.astype("datetime64[s]")


def _raw(raw: pd.DataFrame, *, path: Path) -> pd.DataFrame:
    """The DGFiP raw file: rename, rebuild INSEE codes, parcel ids and mutation ids."""
    raw = raw.rename(columns=RAW_NAMES)
    require_columns(raw, REQUIRED, path=path, what="DGFiP DVF")
    price = raw["valeur_fonciere"].str.strip()
    point = price.str.fullmatch(r"\d+\.\d+")
    if point.any():
        raise DataError(
            f"{path}: column 'Valeur fonciere', line {territory.line_of(price, point)}: "
            f"{price[point].iloc[0]!r} has a decimal point where the DGFiP writes a decimal comma. "
            + _PANDAS_RESAVE
        )
    dep = territory.departements(raw["code_departement"], path=path, column="Code departement")
    dep_text = pd.Series(dep, index=raw.index).astype("str")
    commune = raw["code_commune"].str.strip()
    overseas = dep_text.str.len() == 3
    insee = dep_text.where(~overseas, dep_text.str[:2]) + commune.str.zfill(3)
    raw["code_commune"] = insee.where(commune != "", "")
    raw["code_departement"] = dep_text
    raw["code_postal"] = (
        raw["code_postal"].str.strip().str.zfill(5).where(raw["code_postal"].str.strip() != "", "")
    )
    section = raw.get("Section", pd.Series("", index=raw.index)).str.strip()
    raw["id_parcelle"] = (
        raw["code_commune"]
        + raw.get("Prefixe de section", pd.Series("", index=raw.index)).str.strip().str.zfill(3)
        + section.str.zfill(2)
        + raw.get("No plan", pd.Series("", index=raw.index)).str.strip().str.zfill(4)
    ).where(section != "", "")
    out = _common(raw, path=path, date_format="%d/%m/%Y", decimal_comma=True)
    key = pd.DataFrame({c: raw[c] for c in ("date_mutation", "nature_mutation", "valeur_fonciere")})
    key["dep"] = dep_text
    starts = (key != key.shift()).any(axis=1).to_numpy()
    run = np.cumsum(starts)
    out["id_mutation"] = pd.Series(
        [
            f"{year}-dgfip-{n}"
            for year, n in zip(out["annee"].astype("Int64").astype(object), run, strict=True)
        ],
        index=raw.index,
        dtype="str",
    )
    out["longitude"] = np.nan
    out["latitude"] = np.nan
    out["source"] = as_category(pd.Series("dgfip", index=raw.index))
    return out[SCHEMA]


def _geolocated(raw: pd.DataFrame, *, path: Path) -> pd.DataFrame:
    """The Etalab geolocated file (or a derived copy with extra columns)."""
    require_columns(raw, ["id_mutation", *REQUIRED], path=path, what="Etalab geolocated DVF")
    raw["code_commune"] = raw["code_commune"].str.strip()
    raw["code_departement"] = pd.Series(
        territory.departements(raw["code_departement"], path=path, column="code_departement"), index=raw.index
    ).astype("str")
    out = _common(raw, path=path, date_format="%Y-%m-%d", decimal_comma=False)
    out["id_mutation"] = as_text(raw["id_mutation"])
    for column in ("longitude", "latitude"):
        out[column] = (
            rows.decimals(raw[column], path=path, column=column, decimal_comma=False)
            if column in raw.columns
            else np.nan
        )
    out["source"] = as_category(pd.Series("etalab", index=raw.index))
    return out[SCHEMA]


def _common(raw: pd.DataFrame, *, path: Path, date_format: str, decimal_comma: bool) -> pd.DataFrame:
    """Columns written the same way in both publications (up to the decimal mark and the date format)."""
    empty = pd.Series("", index=raw.index)
    out = pd.DataFrame(index=raw.index)
    out["date_mutation"] = _dates(raw["date_mutation"], path=path, column="date_mutation", fmt=date_format)
    out["annee"] = out["date_mutation"].dt.year.astype("Int16")
    out["numero_disposition"] = rows.integers(
        raw.get("numero_disposition", empty), path=path, column="numero_disposition", dtype="Int16"
    )
    out["nature_mutation"] = as_category(raw["nature_mutation"])
    for column in ("valeur_fonciere", "lot1_surface_carrez", "surface_reelle_bati", "surface_terrain"):
        out[column] = rows.decimals(
            raw.get(column, empty), path=path, column=column, decimal_comma=decimal_comma
        )
    out["dep"] = as_category(raw["code_departement"])
    out["code_commune"] = territory.communes(raw["code_commune"], path=path, column="code_commune")
    out["nom_commune"] = as_category(raw.get("nom_commune", empty))
    out["code_postal"] = as_category(raw.get("code_postal", empty))
    out["id_parcelle"] = as_text(raw.get("id_parcelle", empty))
    out["nombre_lots"] = rows.integers(
        raw.get("nombre_lots", empty), path=path, column="nombre_lots", dtype="Int16"
    )
    out["code_type_local"] = as_category(raw.get("code_type_local", empty))
    out["type_local"] = as_category(raw.get("type_local", empty))
    out["nombre_pieces_principales"] = rows.integers(
        raw.get("nombre_pieces_principales", empty), path=path, column="nombre_pieces_principales",
        dtype="Int16",
    )  # fmt: skip
    out["code_nature_culture"] = as_category(raw.get("code_nature_culture", empty))
    return out
