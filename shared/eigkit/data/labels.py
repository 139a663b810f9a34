"""Code -> label tables: the ONISR codebook (BAAC) and the SECMAR code tables, shipped in ``codebooks/``."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from eigkit.data.baac_rules import NOT_FILLED, not_filled_codes
from eigkit.data.columns import canonical_code
from eigkit.data.errors import DataError

CODEBOOKS = Path(__file__).resolve().parent / "codebooks"
#: friendly SECMAR names -> code table file stems
SECMAR_TABLES = {
    "evenement": "SEC_OPERATION_evenement_id_1",
    "categorie_evenement": "SEC_C_EVENEMENT_cat_evenement_id_1",
    "cross": "SEC_OPERATION_SEC_OPERATIONcross_id",
    "departement": "SEC_OPERATION_dept_id",
    "autorite": "SEC_OPERATION_autorite_id",
    "pourquoi_alerte": "SEC_OPERATION_pourquoi_alerte_id",
    "qui_alerte": "SEC_OPERATION_qui_alerte_id",
    "categorie_qui_alerte": "SEC_C_QUI_ALERTE_cat_qui_alerte_id",
    "moyen_alerte": "EC_OPERATION_moyen_alerte_id",
    "zone_responsabilite": "SEC_OPERATION_zone_resp_id",
    "type_flotteur": "SEC_FLOTTEUR_IMPLIQUE_type_flotteur_id",
    "resultat_flotteur": "SEC_FLOTTEUR_IMPLIQUE_resultat_flotteur_id",
    "categorie_personne": "SEC_RESULTAT_HUMAIN_cat_personne_id",
    "resultat_humain": "SEC_RESULTAT_HUMAIN_resultat_humain_id",
    "moyen": "SEC_MOYEN_MEO_moyen_id",
    "categorie_moyen": "SEC_C_MOYEN_cat_moyen_id",
    "autorite_moyen": "SEC_MOYEN_MEO_autorite_moyen_id",
}


@cache
def _onisr() -> dict[str, dict[str, str]]:
    tables: dict[str, dict[str, str]] = {}
    with (CODEBOOKS / "onisr.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            tables.setdefault(row["variable"], {})[row["code"]] = row["label"]
    return tables


@cache
def _secmar(stem: str) -> dict[str, str]:
    with (CODEBOOKS / "secmar" / f"{stem}.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    return {
        row[0]: row[1] for row in rows if len(row) >= 2 and row[1] != "null" and row[0] not in ("ABS", "nan")
    }


def labels(family: str, column: str) -> dict[str, str]:
    """Return ``{code: label}`` for a coded column.

    ``labels("baac", "catv")`` -> ``{"1": "Bicyclette", "7": "VL seul", ...}``. Codes are canonical
    strings as the loaders write them, so ``frame["catv"].map(labels("baac", "catv"))`` gives the labels.
    Every ONISR variable of the 2005-2020 codebook is there (lum, agg, int, atm, col, catr, circ, vosp, prof,
    plan, surf, infra, situ, senc, catv, obs, obsm, choc, manv, motor, catu, grav, sexe, trajet, secu1-3,
    locp, actp, etatp). The codes the rule table (``codebooks/baac_missing.csv``) names "not filled in"
    and the codebook leaves without a label (``-1`` from 2019, ``0`` before 2019 where 0 is not a code) are
    labelled "Non renseigné". ``labels("secmar", "evenement")`` and the other names of ``SECMAR_TABLES`` (or a
    code-table file stem) give
    the SECMAR code tables.
    """
    if family == "baac":
        tables = _onisr()
        if column not in tables:
            raise DataError(
                f"labels('baac', {column!r}): no such ONISR code list. Known: {', '.join(sorted(tables))}."
            )
        found = dict(tables[column])
        for code in sorted(not_filled_codes(column) - set(found), key=int):
            found[code] = NOT_FILLED
        return found
    if family == "secmar":
        stem = SECMAR_TABLES.get(column, column)
        if not (CODEBOOKS / "secmar" / f"{stem}.csv").is_file():
            raise DataError(
                f"labels('secmar', {column!r}): unknown code table. Known: {', '.join(SECMAR_TABLES)}."
            )
        return dict(_secmar(stem))
    raise DataError(f"labels({family!r}, ...): code labels exist for 'baac' and 'secmar'.")


def label_of(family: str, column: str, code: object) -> str | None:
    """The label of one code (``label_of("baac", "grav", "02")`` -> ``"Tué"``), None when unknown."""
    key = canonical_code(str(code)) if family == "baac" else str(code)
    return labels(family, column).get(key or "")
