"""Offence files recorded per fixed speed camera ("bilans annuels du nombre de flashs", Sécurité routière).

Published one file a year, one row per fixed camera: ``Département,Date de mise en service,Nom de la voie,
Sens de circulation,Nombre de dossiers d'infractions`` (``,``, UTF-8, ``dd/mm/yyyy``, roads with commas
double-quoted). There is no camera identifier and no coordinates: joining with ``radars`` works only on
département + road + direction text.

Normalised columns: ``annee`` (year of the file, from its name ``bilan-2017-...``), ``dep`` (INSEE code, zero
restored when a copy dropped it: ``1`` -> ``01``), ``date_mise_en_service``, ``voie``, ``sens``,
``dossiers_infractions`` (offence files created, not notices sent nor fines paid).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from eigkit.data import rows, territory
from eigkit.data.columns import as_text, require_columns
from eigkit.data.errors import DataError
from eigkit.data.sniff import read_text_table

NORMALISER_VERSION = "verbalisation-1"
COLUMNS = {
    "Département": "dep",
    "Date de mise en service": "date_mise_en_service",
    "Nom de la voie": "voie",
    "Sens de circulation": "sens",
    "Nombre de dossiers d'infractions": "dossiers_infractions",
}
_YEAR = re.compile(r"(?<!\d)(20\d{2})(?!\d)")


def read(table: str, path: Path) -> pd.DataFrame:
    """Parse and normalise one yearly ``bilan-<year>-radars-fixes.csv`` file."""
    raw, _ = read_text_table(path)
    require_columns(raw, list(COLUMNS), path=path, what="radars fixes (bilan annuel)")
    found = _YEAR.search(path.name)
    if found is None:
        raise DataError(
            f"{path}: the file name does not say the year (bilan-<year>-radars-fixes.csv); rename it with "
            "the year the counts cover."
        )
    out = pd.DataFrame(index=raw.index)
    out["annee"] = pd.Series(int(found.group(1)), index=raw.index, dtype="Int16")
    out["dep"] = territory.departements(raw["Département"], path=path, column="Département", pad=True)
    dates = raw["Date de mise en service"].str.strip()
    parsed = pd.to_datetime(dates.where(dates != ""), format="%d/%m/%Y", errors="coerce")
    bad = parsed.isna() & (dates != "")
    if bad.any():
        raise DataError(
            f"{path}: column 'Date de mise en service', line {territory.line_of(dates, bad)}: "
            f"{dates[bad].iloc[0]!r} is not a dd/mm/yyyy date."
        )
    out["date_mise_en_service"] = parsed.astype("datetime64[s]")
    out["voie"] = as_text(raw["Nom de la voie"])
    out["sens"] = as_text(raw["Sens de circulation"])
    out["dossiers_infractions"] = rows.integers(
        raw["Nombre de dossiers d'infractions"], path=path, column="Nombre de dossiers d'infractions",
        dtype="Int64",
    )  # fmt: skip
    return out
