"""The gendarmerie kind: its notebooks run on the embedded SSMSI and état 4001 extracts, pass nbval, draw
their maps and charts, and the rates, shares and breaks they show agree with an independent computation on the
loaders' tables."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eigkit import data
from notebook_kinds import KindRun, figure_counts, make_workspace, nbval_check, run_kind, text_outputs

pytestmark = pytest.mark.slow
KIND = "gendarmerie"
INDICATEURS = ["Cambriolages de logement", "Coups et blessures volontaires", "Homicides"]
DEPARTEMENTS = ["01", "2A", "44", "971"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> KindRun:
    workspace = make_workspace(KIND, tmp_path_factory.mktemp("gendarmerie"))
    return run_kind(KIND, workspace)


def _french(text: str) -> float:
    return float(text.replace("\u202f", "").replace(",", "."))


def test_notebooks_run_and_draw_maps_and_charts(run: KindRun):
    counts = figure_counts(run)
    # one map per indicator + one trend chart per indicator; two charts for the état 4001
    assert counts == {"01-delinquance-par-departement": 6, "02-zones-police-gendarmerie": 2}
    for stem in run.executed:
        assert "Traceback" not in text_outputs(run.notebook(stem))


def test_national_rates_recomputed_from_the_loaders(run: KindRun):
    base = data.load("delinquance.departements", source="sample")
    population = data.load("insee.population", source="sample")
    both = base.merge(population, on=["dep", "annee"])
    both = both[both["indicateur"].isin(INDICATEURS)]
    expected = both.groupby(["indicateur", "annee"], observed=True)[["nombre", "population"]].sum()
    expected["taux"] = expected["nombre"].astype(float) / expected["population"].astype(float) * 1000
    shown = pd.read_csv(run.workspace / "data" / "processed" / "delinquance_france_par_annee.csv")
    shown = shown.set_index(["indicateur", "annee"]).sort_index()
    assert np.allclose(shown["taux"], expected.loc[shown.index, "taux"].to_numpy())
    summary = text_outputs(run.notebook("01-delinquance-par-departement"))
    for indicateur in INDICATEURS:
        found = re.search(
            rf"- {indicateur} : ([\d\u202f,]+) pour 100 000 habitants en France en 2023", summary
        )
        assert found, summary[-2000:]
        assert _french(found.group(1)) == pytest.approx(
            expected.loc[(indicateur, 2023), "taux"] * 100, abs=0.05
        )


def test_department_rates_carry_poisson_intervals_that_cover_them(run: KindRun):
    table = pd.read_csv(
        run.workspace / "data" / "processed" / "delinquance_par_departement.csv", dtype={"dep": str}
    )
    assert (table["taux_bas_95"] <= table["taux_pour_mille_habitants"]).all()
    assert (table["taux_pour_mille_habitants"] <= table["taux_haut_95"]).all()
    homicides_2a = table[
        (table["indicateur"] == "Homicides") & (table["dep"] == "2A") & (table["annee"] == 2023)
    ]
    row = homicides_2a.iloc[0]
    assert row["nombre"] == 6
    # exact Poisson 95 % limits for 6 events are 2.202 and 13.06 (Garwood)
    assert row["taux_bas_95"] * row["population"] / 1000 == pytest.approx(2.202, abs=0.02)
    assert row["taux_haut_95"] * row["population"] / 1000 == pytest.approx(13.06, abs=0.05)


def test_gendarmerie_share_recomputed_from_the_etat4001(run: KindRun):
    etat = data.load("delinquance.etat4001", source="sample")
    etat = etat[etat["libelle_index"] != "Index non utilisé"]
    totals = etat.groupby(["dep", "annee", "force"], observed=True)["nombre"].sum().unstack("force")
    share = totals["GN"] / (totals["GN"] + totals["PN"]) * 100
    shown = pd.read_csv(run.workspace / "data" / "processed" / "etat4001_par_force.csv", dtype={"dep": str})
    shown = shown.set_index(["dep", "annee"])
    assert np.allclose(shown["part_gendarmerie_pct"], share.loc[shown.index].round(1).to_numpy())
    summary = text_outputs(run.notebook("02-zones-police-gendarmerie"))
    for dep in DEPARTEMENTS:
        found = re.search(
            rf"Département {dep} : ([\d\u202f]+) faits enregistrés en 2020, dont ([\d,]+) %", summary
        )
        assert found, dep
        assert int(found.group(1).replace("\u202f", "")) == int(totals.loc[(dep, 2020)].sum())
        assert _french(found.group(2)) == pytest.approx(share.loc[(dep, 2020)], abs=0.05)


def test_outputs_are_checked_by_nbval(run: KindRun):
    assert nbval_check(run) == 0


def test_unknown_indicator_is_refused_with_the_published_list(tmp_path: Path):
    workspace = make_workspace(KIND, tmp_path / "ws")
    with pytest.raises(AssertionError, match="Vols de chevaux"):
        run_kind(KIND, workspace, overrides={"indicateurs": ["Vols de chevaux"]})
