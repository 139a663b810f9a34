"""Statistics of the fire and rescue services (one row per SDIS and year, DGSCGC).

Normalised columns: ``annee``, ``zone``, ``region``, ``sdis`` (``'01'``, ``'2A'``, ``'971'``, ``'BSPP'``,
``'BMPM'``: Paris and Marseille brigades stay identifiable), ``dep`` (INSEE code; BSPP -> ``'75'``, BMPM ->
``'13'``), ``departement`` (name), ``categorie``, then every count as a snake_case ASCII integer column
(``total_interventions``, ``incendies``, ``secours_a_victime``, ...; ``N.C.`` -> NA).

A service whose published total is 0 did not report that year (Martinique 2018: ``0`` in the total and in the
"opérations diverses" columns, ``N.C.`` everywhere else): every count of that row becomes NA, so that the
total and each category read the same, "not reported", instead of a zero for some and a gap for others.
``renseigne`` (boolean) says which rows were reported.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pandas as pd

from eigkit.data.columns import as_category, as_int, require_columns
from eigkit.data.errors import DataError
from eigkit.data.sniff import read_text_table

NORMALISER_VERSION = "sdis-2"
BRIGADES = {"BSPP": "75", "BMPM": "13"}
LABELS = {"annee", "zone", "region", "numero", "departement", "categorie_a"}


def snake_ascii(text: str) -> str:
    """``"Secours à victime"`` -> ``"secours_a_victime"``."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "_", plain.lower()).strip("_")


def _sdis_code(value: str) -> str:
    text = value.strip().upper()
    return text.zfill(2) if text.isdigit() else text


def read(table: str, path: Path) -> pd.DataFrame:
    """Parse and normalise one ``interventionsYYYY.csv`` file."""
    raw, _ = read_text_table(path)
    raw.columns = [snake_ascii(column) for column in raw.columns]
    require_columns(raw, ["annee", "numero", "departement", "total_interventions"], path=path, what="SDIS")
    out = pd.DataFrame(index=raw.index)
    out["annee"] = as_int(raw["annee"], path=path, column="Année", dtype="Int16")
    out["zone"] = as_category(raw["zone"])
    out["region"] = as_category(raw["region"])
    sdis = raw["numero"].map(_sdis_code)
    bad = ~sdis.str.fullmatch(r"\d{2,3}|2[AB]|BSPP|BMPM")
    if bad.any():
        raise DataError(
            f"{path}: column 'Numéro' holds {sdis[bad].iloc[0]!r}, not an SDIS number: columns shifted?"
        )
    out["sdis"] = as_category(sdis)
    out["dep"] = as_category(sdis.map(lambda code: BRIGADES.get(code, code)))
    out["departement"] = as_category(raw["departement"])
    out["categorie"] = as_category(raw.get("categorie_a", pd.Series("", index=raw.index)))
    for column in raw.columns:
        if column not in LABELS:
            out[column] = as_int(raw[column], path=path, column=column, dtype="Int32")
    return mark_unreported(out)


def count_columns(frame: pd.DataFrame) -> list[str]:
    """The count columns of a normalised SDIS table (everything after the labels)."""
    labels = {"annee", "zone", "region", "sdis", "dep", "departement", "categorie", "renseigne"}
    return [column for column in frame.columns if column not in labels]


def mark_unreported(frame: pd.DataFrame) -> pd.DataFrame:
    """Apply the rule "a zero total means not reported": every count of such a row becomes NA.

    Adds ``renseigne`` (False on those rows). A real service always has interventions: a published total of
    0 is a year the service did not send, not a year without fires or rescues.
    """
    out = frame.copy()
    unreported = (out["total_interventions"] == 0).fillna(False).astype(bool)
    for column in count_columns(out):
        out[column] = out[column].mask(unreported)
    out["renseigne"] = ~unreported
    return out
