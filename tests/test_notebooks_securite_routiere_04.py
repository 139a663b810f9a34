"""Road-safety notebook 04 (issue 14): offence files of the fixed cameras (2017) crossed with accidents per
département. Its rates, intervals, correlation and summary agree with an independent computation on the
loaders' tables; its export publishes no count under the secret statistique threshold."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from eigkit import data
from notebook_kinds import KindRun, figures, nbval_check, text_outputs
from report_checks import french_number, small_counts, summary_text, tables_text

pytestmark = pytest.mark.slow
KIND = "securite-routiere"
STEM = "04-accidents-et-verbalisation"
EXPORT = "verbalisation_et_accidents_par_departement.csv"


@pytest.fixture(scope="module")
def expected() -> pd.DataFrame:
    """Per département, from the loaders: cameras, offence files, accidents 2013, rates (written anew)."""
    offences = data.load("radars.verbalisation", year=2017, source="sample")
    accidents = data.load("baac.caracteristiques", years=[2013], source="sample")
    population = data.load("insee.population", source="sample")
    population = population.assign(dep=population["dep"].astype(str), annee=population["annee"].astype(int))
    per_dep = pd.DataFrame(
        {
            "radars": offences["dep"].astype(str).value_counts(),
            "dossiers": offences.groupby(offences["dep"].astype(str))["dossiers_infractions"].sum(),
            "accidents": accidents["dep"].astype(str).value_counts(),
        }
    ).fillna(0)
    pop_2017 = population[population["annee"] == 2017].set_index("dep")["population"].astype(float)
    pop_2016 = (
        population[population["annee"] == 2016].set_index("dep")["population"].astype(float)
    )  # nearest to 2013
    per_dep = per_dep[per_dep.index.isin(pop_2017.index)]
    per_dep["dossiers_1000"] = per_dep["dossiers"] / pop_2017.reindex(per_dep.index) * 1000
    per_dep["accidents_100000"] = per_dep["accidents"] / pop_2016.reindex(per_dep.index) * 100_000
    per_dep["population_accidents"] = pop_2016.reindex(per_dep.index)
    return per_dep


@pytest.fixture(scope="module")
def notebook(ran: KindRun) -> dict:
    return ran.notebook(STEM)


@pytest.fixture(scope="module")
def exported(ran: KindRun) -> pd.DataFrame:
    return pd.read_csv(ran.workspace / "data" / "processed" / EXPORT, dtype={"dep": str}).set_index("dep")


def test_runs_with_its_three_figures_and_says_which_years_it_crosses(notebook: dict):
    assert len(figures(notebook)) == 3
    text = text_outputs(notebook)
    assert "Traceback" not in text
    tables = tables_text(notebook)
    assert "Dossiers d'infraction des radars fixes\n2017\n2017" in tables  # offences 2017, population 2017
    assert "Accidents corporels (BAAC)\n2013\n2016" in tables  # nearest population year to 2013 is 2016


def test_rates_per_inhabitant_recomputed(exported: pd.DataFrame, expected: pd.DataFrame):
    assert sorted(exported.index) == sorted(expected.index)
    both = expected.loc[exported.index]
    assert (exported["radars"] == both["radars"]).all() and (exported["dossiers"] == both["dossiers"]).all()
    assert np.allclose(exported["dossiers_1000"], both["dossiers_1000"])
    shown = exported["accidents"].notna()
    assert shown.sum() >= 5 and (~shown).sum() >= 50  # the 400-accident sample leaves most départements small
    assert np.allclose(exported.loc[shown, "accidents_100000"], both.loc[shown, "accidents_100000"])
    # exact Poisson (Garwood) bounds of the rate, from scipy's chi-square quantiles
    row = exported[shown].iloc[0]
    k, pop = row["accidents"], both.loc[exported[shown].index[0], "population_accidents"]
    assert row["accidents_bas_95"] == pytest.approx(stats.chi2.ppf(0.025, 2 * k) / 2 / pop * 100_000)
    assert row["accidents_haut_95"] == pytest.approx(stats.chi2.ppf(0.975, 2 * k + 2) / 2 / pop * 100_000)


def test_export_publishes_no_small_count(ran: KindRun, tmp_path: Path):
    published, leaked = tmp_path / "published", tmp_path / "leaked"
    published.mkdir(), leaked.mkdir()
    frame = pd.read_csv(ran.workspace / "data" / "processed" / EXPORT, dtype=str)
    frame.to_csv(published / EXPORT, index=False)
    assert small_counts(published, {re.escape(EXPORT): ["accidents"]}) == []
    # the check fails on an export that leaks a small count
    frame.loc[0, "accidents"] = "3"
    frame.to_csv(leaked / EXPORT, index=False)
    assert small_counts(leaked, {re.escape(EXPORT): ["accidents"]}) == [f"{EXPORT} row 0 accidents = 3.0"]


def test_summary_at_the_top_matches_the_tables(notebook: dict, expected: pd.DataFrame):
    summary = summary_text(notebook)
    assert "verbalisation **2017**, accidents **2013**" in summary
    totals = re.search(r"\*\*([\d\u202f]+)\*\* radars fixes, \*\*([\d\u202f]+)\*\* dossiers", summary)
    assert totals, summary
    assert french_number(totals.group(1)) == expected["radars"].sum() == 2036
    assert french_number(totals.group(2)) == expected["dossiers"].sum() == 12_537_062
    top = re.search(r"département \*\*(\w+)\*\* [^(]*\(\*\*([\d\u202f,]+)\*\*\)", summary)
    assert top, summary
    leader = expected["dossiers_1000"].idxmax()
    assert top.group(1) == leader
    assert french_number(top.group(2)) == pytest.approx(expected.loc[leader, "dossiers_1000"], abs=0.05)
    assert top.group(2) in tables_text(notebook).split("\n")  # the same figure in the département table
    number = r"(-?[\d,]+)"
    said = rf"rho = \*\*{number}\*\* \(IC 95 % {number} à {number}, n = (\d+) départements\)"
    rho = re.search(said, summary)
    crossed = expected[expected["radars"] > 0]
    reference = stats.spearmanr(crossed["dossiers_1000"], crossed["accidents_100000"]).statistic
    assert rho and int(rho.group(4)) == len(crossed)
    shown, low, high = (french_number(rho.group(index)) for index in (1, 2, 3))
    assert shown == pytest.approx(reference, abs=0.005)
    half = 1.96 * math.sqrt((1 + reference**2 / 2) / (len(crossed) - 3))  # Fisher z, Bonett-Wright error
    assert low == pytest.approx(math.tanh(math.atanh(reference) - half), abs=0.005)
    assert high == pytest.approx(math.tanh(math.atanh(reference) + half), abs=0.005)


def test_outputs_are_checked_by_nbval(ran: KindRun):
    only = KindRun(ran.kind, ran.workspace, executed={STEM: ran.executed[STEM]})
    assert nbval_check(only) == 0
