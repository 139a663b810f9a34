"""Automatic speed and red-light cameras (ANTAI ``radars.csv``).

Normalised columns: ``id``, ``type``, ``equipement``, ``dep`` (INSEE code), ``lat``, ``long``, ``direction``,
``emplacement``, ``route``, ``date_installation``, ``date_heure_creation``, ``date_heure_dernier_changement``
(UTC), ``longueur_troncon_km``, ``vitesse_poids_lourds_kmh``, ``vitesse_vehicules_legers_kmh``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from eigkit.data.baac import departements
from eigkit.data.columns import as_category, as_datetime, as_float, as_int, as_text, require_columns
from eigkit.data.sniff import read_text_table

NORMALISER_VERSION = "radars-1"
DATES = ("date_installation", "date_heure_creation", "date_heure_dernier_changement")


def read(table: str, path: Path) -> pd.DataFrame:
    """Parse and normalise a ``radars.csv`` file."""
    raw, _ = read_text_table(path)
    require_columns(raw, ["id", "latitude", "longitude", "departement", "type"], path=path, what="radars")
    out = pd.DataFrame(index=raw.index)
    out["id"] = as_int(raw["id"], path=path, column="id", dtype="Int64")
    out["type"] = as_category(raw["type"])
    out["equipement"] = as_category(raw.get("equipement", pd.Series("", index=raw.index)))
    out["dep"] = as_category(departements(raw["departement"], post2019=True, path=path, column="departement"))
    out["lat"] = as_float(raw["latitude"], path=path, column="latitude", decimal_comma=False)
    out["long"] = as_float(raw["longitude"], path=path, column="longitude", decimal_comma=False)
    for column in ("direction", "emplacement", "route"):
        out[column] = (
            as_text(raw[column]) if column in raw.columns else pd.Series(None, index=raw.index, dtype="str")
        )
    for column in DATES:
        if column in raw.columns:
            out[column] = as_datetime(raw[column], path=path, column=column, utc=True)
    if "longueur_troncon_km" in raw.columns:
        out["longueur_troncon_km"] = as_float(
            raw["longueur_troncon_km"], path=path, column="longueur_troncon_km"
        )
    for column in ("vitesse_poids_lourds_kmh", "vitesse_vehicules_legers_kmh"):
        if column in raw.columns:
            out[column] = as_int(raw[column], path=path, column=column, dtype="Int16")
    return out
