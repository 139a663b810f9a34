"""INSEE population by département and year, as carried by the SSMSI départementale base (``insee_pop``).

The SSMSI repeats the INSEE legal population of the département on every indicator row of a year; this reader
keeps one row per département and year: ``dep``, ``reg``, ``annee``, ``population`` and ``millesime`` (the
INSEE vintage used, which may differ from ``annee``: ``2017`` for Mayotte in 2016). A département whose rows
disagree on the population of a year is refused (the file is not one consistent edition).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from eigkit.data.delinquance import read_base
from eigkit.data.errors import DataError

NORMALISER_VERSION = "population-1"


def from_base(base: pd.DataFrame, *, path: Path | str) -> pd.DataFrame:
    """One row per (département, year) from a normalised SSMSI départementale table."""
    rows = base.dropna(subset=["insee_pop"])
    keys = ["dep", "annee"]
    distinct = rows.groupby(keys, observed=True)["insee_pop"].nunique()
    if (distinct > 1).any():
        dep, year = distinct[distinct > 1].index[0]
        raise DataError(
            f"{path}: column insee_pop gives several populations for département {dep} in {year}: the file "
            "mixes editions. Use one published file."
        )
    first = rows.sort_values(keys, kind="stable").drop_duplicates(keys)
    out = pd.DataFrame(
        {
            "dep": first["dep"].to_numpy(),
            "reg": first["reg"].to_numpy(),
            "annee": first["annee"].to_numpy(),
            "population": first["insee_pop"].to_numpy(),
            "millesime": first["insee_pop_millesime"].to_numpy(),
        }
    )
    for column in ("dep", "reg"):
        out[column] = out[column].astype(base[column].dtype)
    out["annee"] = out["annee"].astype("Int16")
    out["population"] = out["population"].astype("Int64")
    out["millesime"] = out["millesime"].astype("Int16")
    return out.reset_index(drop=True)


def read(table: str, path: Path) -> pd.DataFrame:
    """Populations from one SSMSI départementale file (any edition, ``.csv`` or ``.csv.gz``)."""
    return from_base(read_base(path, level="departements"), path=path)
