"""Recorded crime (SSMSI "bases statistiques ... de la délinquance enregistrée") as one long table.

Editions told apart by the header:

- 2022-2023: ``classe;annee;Code.département;Code.région;unité.de.compte;millPOP;millLOG;faits;POP;LOG;
  tauxpourmille`` (the régionale base has no ``Code.département``), two-digit years (``16`` = 2016), decimal
  comma, rates in plain or scientific notation (``7,83177350511023e-03``), every field quoted or none, ``NA``
  unquoted, UTF-8 with BOM; published gzipped (``.csv.gz``) or not.
- 2024 and later: ``Code_departement;Code_region;annee;indicateur;unite_de_compte;nombre;taux_pour_mille;
  insee_pop;insee_pop_millesime;insee_log;insee_log_millesime`` with four-digit years.

Normalised columns: ``indicateur``, ``unite_de_compte`` (lower case: ``victime``, ``infraction``,
``véhicule``, ``mis en cause``, ...), ``annee`` (4 digits), ``dep`` (départements only) and ``reg`` (INSEE
codes as text), ``nombre``, ``insee_pop``, ``insee_pop_millesime``, ``insee_log``, ``insee_log_millesime``,
``taux_pour_mille`` (per 1,000 inhabitants, or per 1,000 dwellings for burglaries of dwellings, as published).
Rows with no territory (the 2023 editions have one per indicator and year, count 0, every other field
``NA``) are dropped: they locate nothing. A file re-saved by a spreadsheet (codes without their zeros)
is refused. The ``etat4001`` table (the xlsx workbook) is read by :mod:`eigkit.data.etat4001`.
"""

from __future__ import annotations

import gzip
import re
import tempfile
from pathlib import Path

import pandas as pd

from eigkit.data import rows, territory
from eigkit.data.columns import as_category, require_columns
from eigkit.data.errors import DataError
from eigkit.data.sniff import read_text_table

NORMALISER_VERSION = "delinquance-1"
TABLES = ("departements", "regions", "etat4001", "population")
#: header of every edition -> normalised name
RENAMES = {
    "classe": "indicateur", "indicateur": "indicateur",
    "unité.de.compte": "unite_de_compte", "unite_de_compte": "unite_de_compte",
    "annee": "annee",
    "Code.département": "dep", "Code_departement": "dep",
    "Code.région": "reg", "Code_region": "reg",
    "faits": "nombre", "nombre": "nombre",
    "POP": "insee_pop", "insee_pop": "insee_pop",
    "millPOP": "insee_pop_millesime", "insee_pop_millesime": "insee_pop_millesime",
    "LOG": "insee_log", "insee_log": "insee_log",
    "millLOG": "insee_log_millesime", "insee_log_millesime": "insee_log_millesime",
    "tauxpourmille": "taux_pour_mille", "taux_pour_mille": "taux_pour_mille",
}  # fmt: skip
SCHEMA = [
    "indicateur", "unite_de_compte", "annee", "dep", "reg", "nombre", "insee_pop", "insee_pop_millesime",
    "insee_log", "insee_log_millesime", "taux_pour_mille",
]  # fmt: skip
_YEAR = re.compile(r"\d{2}|\d{4}")


def read(table: str, path: Path) -> pd.DataFrame:
    """Parse and normalise one published file of the SSMSI bases (``departements`` or ``regions``).

    The état 4001 workbook and the population table share this family's samples but have readers of their
    own (:mod:`eigkit.data.etat4001`, :mod:`eigkit.data.population`; see ``readers.TABLE_READERS``).
    """
    return read_base(path, level="regions" if table == "regions" else "departements")


def read_text(path: Path) -> pd.DataFrame:
    """The file as a table of strings; a ``.gz`` file is unpacked first (errors still name ``path``)."""
    if path.suffix.lower() != ".gz":
        return read_text_table(path)[0]
    try:
        data = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: not a readable gzip file ({error}). Download it again.") from error
    with tempfile.TemporaryDirectory(prefix="eig-gz-") as folder:
        inner = Path(folder) / path.stem
        inner.write_bytes(data)
        try:
            return read_text_table(inner)[0]
        except DataError as error:
            raise DataError(str(error).replace(str(inner), f"{path} (unpacked)")) from None


def _years(series: pd.Series, *, path: Path, column: str) -> pd.Series:
    """``16`` -> 2016, ``2024`` -> 2024 (NA kept); anything else is refused with its line."""
    text = series.str.strip()
    bad = ~text.str.fullmatch(_YEAR.pattern) & ~text.isin(["NA", ""])
    if bad.any():
        line = territory.line_of(series, bad)
        raise DataError(f"{path}: column {column!r}, line {line}: {series[bad].iloc[0]!r} is not a year.")
    years = rows.integers(text, path=path, column=column, dtype="Int16")
    return years.where(years >= 100, years + 2000)


def read_base(path: Path, *, level: str) -> pd.DataFrame:
    """One SSMSI base (``level`` ``"departements"`` or ``"regions"``) as the normalised long table."""
    raw = read_text(path)
    published = list(raw.columns)
    raw = raw.rename(columns={name: RENAMES[name] for name in published if name in RENAMES})
    what = f"SSMSI base {'régionale' if level == 'regions' else 'départementale'} de la délinquance"
    require_columns(raw, ["indicateur", "annee", "reg", "nombre"], path=path, what=what)
    if level == "departements" and "dep" not in raw.columns:
        raise DataError(
            f"{path}: this is the régionale base (no département column); load it as delinquance.regions."
        )
    if level == "regions" and "dep" in raw.columns:
        raise DataError(
            f"{path}: this is the départementale base (it has a département column); load it as "
            "delinquance.departements."
        )
    out = pd.DataFrame(index=raw.index)
    out["indicateur"] = as_category(raw["indicateur"])
    out["unite_de_compte"] = as_category(
        raw.get("unite_de_compte", pd.Series("", index=raw.index)).str.lower()
    )
    out["annee"] = _years(raw["annee"], path=path, column="annee")
    if level == "departements":
        out["dep"] = territory.departements(raw["dep"], path=path, column=_published(published, "dep"))
    out["reg"] = territory.regions(raw["reg"], path=path, column=_published(published, "reg"))
    out["nombre"] = rows.integers(
        raw["nombre"], path=path, column=_published(published, "nombre"), dtype="Int64"
    )
    for column, kind in (("insee_pop", "int"), ("insee_pop_millesime", "year"), ("insee_log", "float"),
                         ("insee_log_millesime", "year"), ("taux_pour_mille", "float")):  # fmt: skip
        name = _published(published, column)
        if column not in raw.columns:
            out[column] = pd.Series(None, index=raw.index, dtype="float64" if kind == "float" else "Int64")
        elif kind == "int":
            out[column] = rows.integers(raw[column], path=path, column=name, dtype="Int64")
        elif kind == "year":
            out[column] = _years(raw[column], path=path, column=name)
        else:
            out[column] = rows.decimals(raw[column], path=path, column=name, decimal_comma=True)
    located = out["dep" if level == "departements" else "reg"].notna().to_numpy()
    return out[located].reset_index(drop=True)  # dropped after conversion: errors name the file's lines


def _published(published: list[str], normalised: str) -> str:
    """The column name as the file writes it (for error messages)."""
    return next((name for name in published if RENAMES.get(name) == normalised), normalised)
