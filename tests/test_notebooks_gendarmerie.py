"""The gendarmerie kind: its notebooks run on the embedded SSMSI and état 4001 extracts, pass nbval, draw
their maps and charts; the rates, intervals, shares and breaks they show agree with an independent
computation on the loaders' tables; the summary at the top repeats the tables' numbers; no export holds a
count under the secret statistique threshold; the caveats say only what the workbook's own warning says."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from eigkit import data
from eigkit.paths import kit_root
from notebook_kinds import KindRun, figure_counts, make_workspace, nbval_check, run_kind, text_outputs
from report_checks import french_number, private_imports, small_counts, summary_text, tables_text

pytestmark = pytest.mark.slow
KIND = "gendarmerie"
INDICATEURS = ["Cambriolages de logement", "Coups et blessures volontaires", "Homicides"]
DEPARTEMENTS = ["01", "2A", "44", "971"]
PRESENTATION = Path(__file__).parent / "data" / "delinquance" / "etat4001-presentation.txt"


def processed(run: KindRun, name: str) -> pd.DataFrame:
    return pd.read_csv(run.workspace / "data" / "processed" / name, dtype={"dep": str})


def test_notebooks_run_and_draw_maps_and_charts(ran: KindRun):
    counts = figure_counts(ran)
    # one map per indicator + one trend chart per indicator; two charts for the état 4001
    assert counts == {"01-delinquance-par-departement": 6, "02-zones-police-gendarmerie": 2}
    for stem in ran.executed:
        assert "Traceback" not in text_outputs(ran.notebook(stem))


def test_national_rates_recomputed_and_summarised_at_the_top(ran: KindRun):
    base = data.load("delinquance.departements", source="sample")
    population = data.load("insee.population", source="sample")
    both = base.merge(population, on=["dep", "annee"])
    both = both[both["indicateur"].isin(INDICATEURS)]
    expected = both.groupby(["indicateur", "annee"], observed=True)[["nombre", "population"]].sum()
    expected["taux"] = expected["nombre"].astype(float) / expected["population"].astype(float) * 1000
    shown = processed(ran, "delinquance_france_par_annee.csv").set_index(["indicateur", "annee"]).sort_index()
    assert np.allclose(shown["taux"], expected.loc[shown.index, "taux"].to_numpy())
    notebook = ran.notebook("01-delinquance-par-departement")
    summary, tables = summary_text(notebook), tables_text(notebook).split("\n")
    for indicateur in INDICATEURS:
        found = re.search(
            rf"- {indicateur} : \*\*([\d\u202f,]+)\*\* pour 100 000 habitants en France en 2023", summary
        )
        assert found, summary
        assert french_number(found.group(1)) == pytest.approx(
            expected.loc[(indicateur, 2023), "taux"] * 100, abs=0.05
        )
        assert found.group(1) in tables  # the same figure in the table of first and last years


def test_department_rates_carry_exact_poisson_intervals_and_small_counts_are_blanked(ran: KindRun):
    table = processed(ran, "delinquance_par_departement.csv")
    shown = table["nombre"].notna()
    assert (table.loc[shown, "taux_bas_95"] <= table.loc[shown, "taux_pour_mille_habitants"]).all()
    assert (table.loc[shown, "taux_pour_mille_habitants"] <= table.loc[shown, "taux_haut_95"]).all()
    row = table[
        (table["indicateur"] == "Homicides") & (table["dep"] == "44") & (table["annee"] == 2023)
    ].iloc[0]
    assert row["nombre"] == 12
    scale = 1000 / row["population"]
    assert row["taux_bas_95"] == pytest.approx(stats.chi2.ppf(0.025, 24) / 2 * scale)
    assert row["taux_haut_95"] == pytest.approx(stats.chi2.ppf(0.975, 26) / 2 * scale)
    # 6 homicides in Corse-du-Sud in 2023: the count and every rate that would reveal it are blanked
    small = table[(table["indicateur"] == "Homicides") & (table["dep"] == "2A") & (table["annee"] == 2023)]
    assert (
        small[["nombre", "taux_pour_mille_habitants", "taux_bas_95", "taux_pour_mille"]].isna().all(axis=None)
    )


def test_exports_publish_no_small_count(ran: KindRun):
    folder = ran.workspace / "data" / "processed"
    exports = {
        "delinquance_par_departement.csv": ["nombre"],
        "delinquance_france_par_annee.csv": ["nombre"],
        "etat4001_par_force.csv": ["GN", "PN"],
    }
    assert sorted(path.name for path in folder.glob("*.csv")) == sorted(exports)
    assert small_counts(folder, {re.escape(name): counts for name, counts in exports.items()}) == []


def test_gendarmerie_share_recomputed_from_the_etat4001_and_summarised(ran: KindRun):
    etat = data.load("delinquance.etat4001", source="sample")
    etat = etat[etat["libelle_index"] != "Index non utilisé"]
    totals = etat.groupby(["dep", "annee", "force"], observed=True)["nombre"].sum().unstack("force")
    share = totals["GN"] / (totals["GN"] + totals["PN"]) * 100
    shown = processed(ran, "etat4001_par_force.csv").set_index(["dep", "annee"])
    assert np.allclose(shown["part_gendarmerie_pct"], share.loc[shown.index].round(1).to_numpy())
    notebook = ran.notebook("02-zones-police-gendarmerie")
    summary, tables = summary_text(notebook), tables_text(notebook).split("\n")
    for dep in DEPARTEMENTS:
        found = re.search(
            rf"Département {dep} : \*\*([\d\u202f]+)\*\* faits enregistrés en 2020, "
            r"dont \*\*([\d,]+)\u202f%\*\*",
            summary,
        )
        assert found, summary
        assert french_number(found.group(1)) == int(totals.loc[(dep, 2020)].sum())
        assert french_number(found.group(2)) == pytest.approx(share.loc[(dep, 2020)], abs=0.05)
        assert found.group(2) in tables  # the 2020 table shows the same share


def test_caveats_say_only_what_the_workbook_warning_says():
    notebook = json.loads(
        (kit_root() / "notebooks" / KIND / "02-zones-police-gendarmerie.ipynb").read_text("utf-8")
    )
    markdown = "\n".join(
        "".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown"
    )
    notice = PRESENTATION.read_text(encoding="utf-8")
    # never said by the workbook nor its provenance
    assert "contravention" not in markdown.lower() and "routier" not in markdown.lower()
    for said in [
        "homicides en 2015 et 2016",
        "vols à main armée avec armes à feu en 2015 et 2016",
        "cambriolages de logement avant avril 2015",
        "coups et blessures volontaires avant mars 2015",
        "séquestrations depuis avril 2015",
        "violences sexuelles",
        "cambriolages de locaux industriels, commerciaux ou financiers avant juillet 2015",
    ]:
        assert said in notice, said  # the phrase is the workbook's
        assert said in " ".join(markdown.split()), said  # and the notebook says it in the same words


def test_outputs_are_checked_by_nbval(ran: KindRun):
    assert nbval_check(ran) == 0


def test_unknown_indicator_is_refused_with_the_published_list(tmp_path: Path):
    workspace = make_workspace(KIND, tmp_path / "ws")
    with pytest.raises(AssertionError, match="Vols de chevaux"):
        run_kind(KIND, workspace, overrides={"indicateurs": ["Vols de chevaux"]})


def test_notebooks_import_only_public_names():
    for path in sorted((kit_root() / "notebooks" / KIND).glob("*.ipynb")):
        assert private_imports(path) == []


def test_the_public_names_check_catches_internal_imports(tmp_path: Path):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "from eigkit.data.etat4001 import read\nfrom eigkit.notebook import _setup_pandas"
        )
    ]
    nbformat.write(notebook, tmp_path / "n.ipynb")
    assert private_imports(tmp_path / "n.ipynb") == [
        "n: imports the internal module eigkit.data.etat4001",
        "n: imports eigkit.notebook._setup_pandas, not in the module's __all__",
    ]
