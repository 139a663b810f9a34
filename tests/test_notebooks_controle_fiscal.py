"""The controle-fiscal kind: its notebook runs on the embedded DVF extracts, passes nbval, and the prices per
m², robust outliers and suspicious declarations it lists agree with an independent computation on the
loader's table; the summary at the top repeats the tables' numbers; no export holds a count under the
secret statistique threshold."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from eigkit import data
from eigkit.paths import kit_root
from notebook_kinds import KindRun, figure_counts, nbval_check, text_outputs
from report_checks import french_number, private_imports, small_counts, summary_text, tables_text

pytestmark = pytest.mark.slow
KIND = "controle-fiscal"
STEM = "01-anomalies-mutations"
YEARS = [2020, 2022, 2023, 2024, 2025]


@pytest.fixture(scope="module")
def run(ran: KindRun) -> KindRun:
    return ran


@pytest.fixture(scope="module")
def lines() -> pd.DataFrame:
    return data.load("dvf.mutations", years=YEARS, source="sample")


@pytest.fixture(scope="module")
def listed(run: KindRun) -> pd.DataFrame:
    return pd.read_csv(run.workspace / "data" / "processed" / "mutations_a_verifier.csv")


def single_dwelling_sales(lines: pd.DataFrame) -> pd.DataFrame:
    """Sales of exactly one flat or house, price per m², written independently of the notebook."""
    dwellings = lines[lines["type_local"].isin(["Appartement", "Maison"])]
    distinct = dwellings.drop_duplicates(
        ["id_mutation", "id_parcelle", "type_local", "surface_reelle_bati", "nombre_pieces_principales"]
    )
    per_sale = distinct.groupby("id_mutation").agg(
        n=("type_local", "size"),
        type_local=("type_local", "first"),
        surface=("surface_reelle_bati", "sum"),
    )
    head = lines.groupby("id_mutation").agg(
        valeur=("valeur_fonciere", "first"), commune=("code_commune", "first")
    )
    sales = head.join(per_sale, how="inner")
    sales = sales[(sales["n"] == 1) & (sales["surface"] > 0) & (sales["valeur"] > 1)].copy()
    sales["prix_m2"] = sales["valeur"] / sales["surface"]
    sales["commune"] = sales["commune"].astype(str)
    sales["type_local"] = sales["type_local"].astype(str)
    return sales


def test_notebook_runs_with_its_figure(run: KindRun):
    assert figure_counts(run) == {STEM: 1}
    assert "Traceback" not in text_outputs(run.notebook(STEM))


def test_price_per_m2_by_commune_recomputed(run: KindRun, lines: pd.DataFrame):
    sales = single_dwelling_sales(lines)
    shown = pd.read_csv(
        run.workspace / "data" / "processed" / "prix_m2_par_commune.csv", dtype={"code_commune": str}
    )
    hendaye = shown[(shown["code_commune"] == "64260") & (shown["type_local"] == "Appartement")].iloc[0]
    flats = sales[(sales["commune"] == "64260") & (sales["type_local"] == "Appartement")]["prix_m2"]
    assert hendaye["ventes"] == len(flats) > 600
    assert hendaye["mediane"] == round(float(np.median(flats)))
    sizes = sales.groupby(["commune", "type_local"]).size()
    assert len(shown) == len(sizes)
    # groups of fewer than 11 sales are blanked with their prices (secret statistique); the others are exact
    assert shown["ventes"].sum() == sizes[sizes >= 11].sum()
    blanked = shown["ventes"].isna()
    assert blanked.sum() == (sizes < 11).sum() > 0
    assert shown.loc[blanked, ["mediane", "q1", "q3"]].isna().all(axis=None)


def test_robust_outliers_recomputed_with_median_and_mad(listed: pd.DataFrame, lines: pd.DataFrame):
    sales = single_dwelling_sales(lines)
    flagged = set()
    for _, group in sales.groupby(["commune", "type_local"]):
        if len(group) < 5:
            continue
        logs = np.log(group["prix_m2"].to_numpy())
        centre = np.median(logs)
        mad = np.median(np.abs(logs - centre)) * 1.4826
        flagged |= set(group.index[np.abs(logs - centre) / mad > 3.5])
    marked = listed[listed["motifs"].str.contains("comparables")]
    assert set(marked["id_mutation"]) == flagged and len(flagged) > 5
    # a sale of a 20 m² flat for EUR 500,000 in Hendaye is the most atypical high price
    top = listed.iloc[0]
    assert "au-dessus" in top["motifs"] and top["prix_m2"] == pytest.approx(25000)


def test_suspicious_declarations_recomputed(listed: pd.DataFrame, lines: pd.DataFrame, run: KindRun):
    symbolic = set(
        lines.loc[lines["valeur_fonciere"].isna() | (lines["valeur_fonciere"] <= 1), "id_mutation"]
    )
    duplicated = set(lines.loc[lines.duplicated(keep=False), "id_mutation"])
    assert symbolic and duplicated
    assert symbolic == set(listed.loc[listed["motifs"].str.contains("prix symbolique"), "id_mutation"])
    assert duplicated == set(listed.loc[listed["motifs"].str.contains("lignes en double"), "id_mutation"])
    notebook = run.notebook(STEM)
    summary, tables = summary_text(notebook), tables_text(notebook).split("\n")
    assert f"- prix symbolique ou absent : **{len(symbolic)}** mutation(s)." in summary
    found = re.search(r"- \*\*([\d\u202f]+)\*\* mutations lues, \*\*([\d\u202f]+)\*\* à vérifier", summary)
    assert found, summary
    assert french_number(found.group(1)) == lines["id_mutation"].nunique()
    assert french_number(found.group(2)) == len(listed)
    # the summary's counts per reason are the ones of the table of suspicious declarations
    for reason, count in re.findall(r"- ([a-zé ]+) : \*\*(\d+)\*\* mutation", summary):
        at = tables.index(reason)
        assert tables[at + 1] == count, reason
    # the ranked list is ordered by number of reasons, then by size of the robust gap
    reasons = listed["motifs"].str.count(";") + 1
    assert reasons.is_monotonic_decreasing


def test_outputs_are_checked_by_nbval(run: KindRun):
    assert nbval_check(run) == 0


def test_exports_publish_no_small_count(run: KindRun, listed: pd.DataFrame):
    folder = run.workspace / "data" / "processed"
    exports = {r"prix_m2_par_commune\.csv": ["ventes"], r"mutations_a_verifier\.csv": ["ventes_comparables"]}
    assert small_counts(folder, exports) == []
    # a blanked group's median is not published through the list either
    assert listed.loc[listed["ventes_comparables"].isna(), "prix_m2_median_groupe"].isna().all()


def test_notebooks_import_only_public_names():
    for path in sorted((kit_root() / "notebooks" / KIND).glob("*.ipynb")):
        assert private_imports(path) == []
