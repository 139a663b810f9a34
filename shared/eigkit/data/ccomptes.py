"""Publications of the Cour des comptes and the regional chambers (CRTC), with text where available.

Two published files, told apart by their header: ``metadonnees.csv`` (``;``, cp1252, CRLF; one row per
publication) and ``data.csv`` (``,``, UTF-8; référés with their HTML and plain text). Normalised columns:
``id``, ``date``, ``annee``, ``titre``, ``type``, ``juridiction``, ``theme``, ``mots_cles``, ``nb_fichiers``,
``texte``, ``html``, ``fichier`` (which published file the row comes from). The apostrophe lost as ``'?`` in
``metadonnees.csv`` is restored.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from eigkit.data.columns import as_category, as_datetime, as_int, as_text
from eigkit.data.errors import DataError
from eigkit.data.sniff import read_text_table

NORMALISER_VERSION = "ccomptes-1"
COLUMNS = [
    "id",
    "date",
    "annee",
    "titre",
    "type",
    "juridiction",
    "theme",
    "mots_cles",
    "nb_fichiers",
    "texte",
    "html",
]
JURIDICTIONS = {"COUR DES COMPTES": "Cour des comptes"}
METADATA = {"Clé Flora": "id", "Date du document": "date", "Nombre de fichier sauvegardé": "nb_fichiers",
            "Titre": "titre", "Type document": "type", "Juridiction": "juridiction"}  # fmt: skip
TEXTS = {"Numéro de dossier": "id", "Juridiction": "juridiction", "Type": "type", "Année": "annee",
         "Publication": "date", "Objet": "titre", "Thème et sous thème": "theme", "Mots clés": "mots_cles",
         "Rapport": "html", "Texte index": "texte"}  # fmt: skip


def _published(names: dict[str, str], column: str) -> str:
    """The published header of the normalised ``column``."""
    return next(published for published, normalised in names.items() if normalised == column)


def read(table: str, path: Path) -> pd.DataFrame:
    """Parse and normalise ``metadonnees.csv`` or ``data.csv``."""
    raw, _ = read_text_table(path)
    names = (
        METADATA if set(METADATA) <= set(raw.columns) else TEXTS if set(TEXTS) <= set(raw.columns) else None
    )
    if names is None:
        raise DataError(
            f"{path}: neither a Cour des comptes metadonnees.csv (columns {', '.join(METADATA)}) nor a "
            "data.csv "
            f"(columns {', '.join(TEXTS)}). Check that the file matches the dataset ccomptes.publications."
        )
    raw = raw.rename(columns=names)
    out = pd.DataFrame(index=raw.index)
    out["id"] = raw["id"].str.strip().astype("str")
    out["date"] = as_datetime(raw["date"], path=path, column=_published(names, "date"), format="%d/%m/%Y")
    out["annee"] = out["date"].dt.year.astype("Int16")
    out["titre"] = as_text(raw["titre"].str.replace("'?", "'", regex=False))
    out["type"] = as_category(raw["type"].str.replace("'?", "'", regex=False))
    out["juridiction"] = as_category(
        raw["juridiction"].map(lambda value: JURIDICTIONS.get(value.strip(), value))
    )
    for column in ("theme", "mots_cles", "texte", "html"):
        out[column] = (
            as_text(raw[column]) if column in raw.columns else pd.Series(None, index=raw.index, dtype="str")
        )
    if "nb_fichiers" in raw.columns:
        out["nb_fichiers"] = as_int(
            raw["nb_fichiers"], path=path, column="Nombre de fichier sauvegardé", dtype="Int16"
        )
    else:
        out["nb_fichiers"] = pd.Series(pd.NA, index=raw.index, dtype="Int16")
    out = out[COLUMNS]
    out["fichier"] = Path(path).name
    return out
