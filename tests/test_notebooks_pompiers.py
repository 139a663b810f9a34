"""The pompiers kind: its notebooks run on the embedded DGSCGC files, pass nbval, draw their figures, and
every number they publish (national volumes, rates per 1,000 inhabitants, series breaks per category,
trends without 2020, backtest errors, the held-out year's error, the band and its measured coverage, the
forecast, the summary at the top) agrees with an independent computation on the loader's tables; no export
holds a small count."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from eigkit import data
from notebook_kinds import KindRun, figure_counts, make_workspace, nbval_check, run_kind
from report_checks import numbers_after, small_counts, summary_text

pytestmark = pytest.mark.slow
KIND = "pompiers"
FORECAST = "02-prevision-interventions"  # the notebook that holds out a year
CI_YEARS = [2018, 2019, 2020, 2021, 2022]
BACKTEST_YEARS, HELD_OUT = (2020, 2021), 2022
POPULATION = Path(__file__).parent / "data" / "population" / "population-departements-ssmsi-2023.csv"
CATEGORIES = {
    "incendies": "Incendies",
    "secours_a_personne": "Secours à personne",
    "accidents_de_circulation": "Accidents de circulation",
    "risques_technologiques": "Risques technologiques",
    "operations_diverses": "Opérations diverses",
    "total_interventions": "Total",
}
MODELS = {
    "naif": "Naïf (comme l'an dernier)",
    "tendance_lineaire": "Tendance linéaire",
    "tendance_amortie": "Tendance amortie",
}
OVERRIDES = {
    "categorie": "risques_technologiques",
    "niveau_fourchette": 0.9,
    "fichier_population": str(POPULATION),
}
COUNTS = {
    "interventions_par_annee.csv": list(CATEGORIES.values()),
    "taux_pour_1000.csv": ["interventions"],
    "ruptures.csv": ["avant", "apres"],
    r"prevision_\d{4}\.csv": ["realise_2022", "prevision_2023", "basse", "haute"],
    # errors, ratios and trends: no count
    "(backtest_erreurs|erreur_annee_tenue|fourchette_couverture|tendances).csv": [],
}


@pytest.fixture(scope="module")
def interventions() -> pd.DataFrame:
    frame = data.load("sdis.interventions", year=CI_YEARS, source="sample")
    return frame.assign(sdis=frame["sdis"].astype(str), annee=frame["annee"].astype(int))


@pytest.fixture(scope="module")
def overridden(tmp_path_factory: pytest.TempPathFactory) -> KindRun:
    """Both notebooks run with a small category, a 90 % band and a population file."""
    return run_kind(
        KIND, make_workspace(KIND, tmp_path_factory.mktemp("pompiers-overrides")), overrides=OVERRIDES
    )


def processed(run: KindRun, name: str) -> pd.DataFrame:
    return pd.read_csv(run.workspace / "data" / "processed" / name)


def code(service: str) -> str:
    """``"01 Ain"`` -> ``"01"``, ``"BSPP (Paris et petite couronne)"`` -> ``"BSPP"``."""
    return service.split()[0]


def complete_series(interventions: pd.DataFrame, column: str) -> pd.DataFrame:
    """One row per service (sdis code), one column per year; services with a year not reported dropped."""
    return interventions.pivot(index="sdis", columns="annee", values=column).astype(float).dropna()


def forecasts(series: pd.DataFrame, year: int, damping: float = 0.5) -> dict[str, pd.Series]:
    """Each model's forecast of ``year`` from the years before it, written independently of the notebook:
    last value; least-squares line in closed form; last value + ``damping`` x mean yearly change."""
    past = series[[column for column in series.columns if column < year]]
    x = np.array(past.columns, dtype=float)
    centred = past.sub(past.mean(axis=1), axis=0)
    slope = (centred * (x - x.mean())).sum(axis=1) / ((x - x.mean()) ** 2).sum()
    last = past[past.columns[-1]]
    mean_change = (last - past[past.columns[0]]) / (x[-1] - x[0])
    return {
        "naif": last,
        "tendance_lineaire": (past.mean(axis=1) + slope * (year - x.mean())).clip(lower=0),
        "tendance_amortie": (last + damping * mean_change * (year - x[-1])).clip(lower=0),
    }


def wape(series: pd.DataFrame, year: int) -> dict[str, float]:
    """Each model's weighted absolute percentage error on ``year``: sum |error| / sum actual, in %."""
    actual = series[year]
    return {
        model: float((forecast - actual).abs().sum() / actual.sum() * 100)
        for model, forecast in forecasts(series, year).items()
    }


def mase(series: pd.DataFrame, year: int) -> dict[str, float]:
    """Each model's median, over services, of |error| / the service's mean absolute yearly change before."""
    past = series[[column for column in series.columns if column < year]]
    scale = past.diff(axis=1).abs().mean(axis=1)
    return {
        model: float(((forecast - series[year]).abs() / scale)[scale > 0].median())
        for model, forecast in forecasts(series, year).items()
    }


def expected_backtest(series: pd.DataFrame, level: float) -> dict[str, object]:
    """The model the backtest years choose, its held-out error, its band and the band's coverage."""
    mean_wape = pd.DataFrame([wape(series, year) for year in BACKTEST_YEARS]).mean()
    winner = str(mean_wape.idxmin())
    ratios = pd.concat([series[year] / forecasts(series, year)[winner] for year in BACKTEST_YEARS])
    ratios = ratios.replace([np.inf, -np.inf], np.nan).dropna()
    low, high = np.quantile(ratios, [(1 - level) / 2, (1 + level) / 2])
    predicted = forecasts(series, HELD_OUT)[winner]
    inside = (series[HELD_OUT] >= predicted * low) & (series[HELD_OUT] <= predicted * high)
    return {
        "winner": winner,
        "mean_wape": mean_wape,
        "held_out_wape": wape(series, HELD_OUT),
        "low": low,
        "high": high,
        "inside": int(inside.sum()),
        "services": len(inside),
        "ratios": len(ratios),
    }


def test_every_notebook_draws_its_figures(ran: KindRun):
    expected = {"01-interventions-par-categorie": 4, "02-prevision-interventions": 3}
    assert figure_counts(ran) == expected


def test_outputs_are_reproduced_by_nbval(ran: KindRun):
    assert nbval_check(ran) == 0


def test_national_volumes_by_category_match_the_loader(ran: KindRun, interventions: pd.DataFrame):
    shown = processed(ran, "interventions_par_annee.csv").set_index("annee")
    reported = interventions[interventions["total_interventions"].notna()]
    expected = reported.groupby("annee")[list(CATEGORIES)].sum().rename(columns=CATEGORIES)
    pd.testing.assert_frame_equal(
        shown[list(CATEGORIES.values())], expected.astype("int64"), check_names=False
    )
    # Martinique 2018 (published total 0) is out of the total AND of every category, not a zero in some
    assert shown["Services"].to_dict() == {2018: 98, 2019: 99, 2020: 99, 2021: 99, 2022: 99}
    summary = summary_text(ran.notebook("01-interventions-par-categorie"))
    assert numbers_after(summary, "- ")[0] == shown.loc[2022, "Total"]


def test_series_breaks_are_searched_per_category_and_service(ran: KindRun, interventions: pd.DataFrame):
    shown = processed(ran, "ruptures.csv")
    found = {
        (code(s), c, a) for s, c, a in zip(shown["service"], shown["categorie"], shown["annee"], strict=True)
    }
    expected = set()
    for column, label in CATEGORIES.items():
        table = interventions.pivot(index="sdis", columns="annee", values=column).astype(float)
        for before, after in itertools.pairwise(CI_YEARS):
            change = table[after] / table[before] - 1
            big = (change.abs() > 0.3) & (table[[before, after]].min(axis=1) >= 200)
            expected |= {(service, label, after) for service in change.index[big.fillna(False)]}
    assert found == expected
    assert ("67", "Opérations diverses", 2019) in found  # Bas-Rhin 22,014 -> 10,505: a break, not a trend
    bas_rhin = shown[(shown["service"] == "67 Bas-Rhin") & (shown["annee"] == 2019)].iloc[0]
    assert (bas_rhin["avant"], bas_rhin["apres"]) == (22014, 10505)
    assert set(shown.loc[shown["annee"] == 2020, "annee_atypique"]) == {"Covid-19 (confinements)"}
    summary = summary_text(ran.notebook("01-interventions-par-categorie"))
    (breaks,) = [line for line in summary.splitlines() if "rupture" in line]  # "- 170 rupture(s) ..."
    assert numbers_after(breaks, "- ")[0] == len(shown)


def test_trends_flag_2020_and_series_breaks(ran: KindRun, interventions: pd.DataFrame):
    shown = processed(ran, "tendances.csv").assign(sdis=lambda t: t["service"].map(code)).set_index("sdis")
    totals = complete_series(interventions, "total_interventions")
    assert sorted(shown.index) == sorted(totals.index)  # Martinique (2018 not reported) has no trend
    growth = ((totals[2022] / totals[2018]) ** 0.25 - 1) * 100
    x = np.array([2018, 2019, 2021, 2022], dtype=float)  # 2020 left out of the fit
    logs = np.log(totals[[2018, 2019, 2021, 2022]])
    slope = (logs.sub(logs.mean(axis=1), axis=0) * (x - x.mean())).sum(axis=1) / ((x - x.mean()) ** 2).sum()
    assert np.allclose(shown["evolution_annuelle_pct"], growth.reindex(shown.index), atol=0.006)
    assert np.allclose(
        shown["tendance_hors_2020_pct"], (np.exp(slope) - 1).mul(100).reindex(shown.index), atol=0.006
    )
    breaks = processed(ran, "ruptures.csv")
    ordinary = {code(s) for s in breaks.loc[breaks["annee_atypique"].isna(), "service"]}
    assert shown["rupture"].to_dict() == {service: service in ordinary for service in shown.index}


def test_rates_per_1000_inhabitants_use_the_population_of_each_territory(
    overridden: KindRun, interventions: pd.DataFrame
):
    shown = processed(overridden, "taux_pour_1000.csv").astype({"territoire": str})
    population = pd.read_csv(POPULATION, dtype={"dep": str}).set_index(["dep", "annee"])["population"]
    territory = {"BSPP": ["75", "92", "93", "94"], "BMPM": ["13"]}
    table = interventions.assign(
        territoire=[
            ", ".join(territory.get(s, [str(d)]))
            for s, d in zip(interventions["sdis"], interventions["dep"], strict=True)
        ]
    ).dropna(subset=["total_interventions"])
    counts = table.groupby(["territoire", "annee"])["total_interventions"].sum()
    assert len(shown) == len(counts) == 98 * 5 - 1  # 98 territories a year; Martinique 2018 not reported
    for row in shown.itertuples():
        people = sum(population[(dep, row.annee)] for dep in row.territoire.split(", "))
        assert (row.interventions, row.population) == (counts[(row.territoire, row.annee)], people)
        assert row.taux_pour_1000 == pytest.approx(row.interventions / people * 1000, rel=1e-9)
        low = stats.gamma.ppf(0.025, row.interventions) / people * 1000
        high = stats.gamma.ppf(0.975, row.interventions + 1) / people * 1000
        assert (row.ic95_bas, row.ic95_haut) == (pytest.approx(low, rel=1e-7), pytest.approx(high, rel=1e-7))
    paris = shown[(shown["territoire"] == "75, 92, 93, 94") & (shown["annee"] == 2022)].iloc[0]
    assert paris["interventions"] == int(
        interventions.query("sdis == 'BSPP' and annee == 2022")["total_interventions"].iloc[0]
    )
    last = shown[shown["annee"] == 2022]
    national = last["interventions"].sum() / last["population"].sum() * 1000
    summary = summary_text(overridden.notebook("01-interventions-par-categorie"))
    (rates,) = [line for line in summary.splitlines() if "pour 1 000 habitants en 2022" in line]
    assert numbers_after(rates, "- ")[0] == pytest.approx(national, abs=0.05)


def test_without_a_population_file_the_catalogue_is_used_or_the_notebook_says_why(ran: KindRun):
    summary = summary_text(ran.notebook("01-interventions-par-categorie"))
    rates = (ran.workspace / "data/processed/taux_pour_1000.csv").exists()
    try:
        data.load("insee.population", source="sample")
        available = True
    except data.DataError:  # not in this kit's catalogue, or no embedded sample
        available = False
    if available:
        assert rates and "pour 1 000 habitants en 2022 (population : INSEE" in summary
    else:
        assert not rates and "Taux pour 1 000 habitants non calculés" in summary


@pytest.mark.parametrize("which", ["ci", "overridden"])
def test_backtest_held_out_year_and_band_match_a_recomputation(
    which: str, ran: KindRun, overridden: KindRun, interventions: pd.DataFrame
):
    run, column, level = (
        (ran, "total_interventions", 0.8) if which == "ci" else (overridden, OVERRIDES["categorie"], 0.9)
    )
    series = complete_series(interventions, column)
    expected = expected_backtest(series, level)
    errors = processed(run, "backtest_erreurs.csv").set_index(["modele", "annee_test"])
    assert sorted(set(errors.index.get_level_values("annee_test"))) == list(
        BACKTEST_YEARS
    )  # 2022 never chooses
    for year in BACKTEST_YEARS:
        for model, value in wape(series, year).items():
            assert errors.loc[(model, year), "wape_pct"] == pytest.approx(value, abs=0.006), (model, year)
        for model, value in mase(series, year).items():
            assert errors.loc[(model, year), "mase"] == pytest.approx(value, abs=6e-4), (model, year)
        assert errors.loc[("naif", year), "bat_naif_pct"] == 0  # the baseline never beats itself
    held_out = processed(run, "erreur_annee_tenue.csv").set_index("modele")
    assert set(held_out["annee_test"]) == {HELD_OUT}
    for model, value in expected["held_out_wape"].items():
        assert held_out.loc[model, "wape_pct"] == pytest.approx(value, abs=0.006), model
    band = processed(run, "fourchette_couverture.csv").iloc[0]
    assert band["modele"] == expected["winner"]
    assert band["rapport_bas"] == pytest.approx(expected["low"], abs=6e-5)
    assert band["rapport_haut"] == pytest.approx(expected["high"], abs=6e-5)
    assert (band["services_dans_fourchette"], band["services"]) == (expected["inside"], expected["services"])
    assert band["erreurs_utilisees"] == expected["ratios"]
    coverage = expected["inside"] / expected["services"] * 100
    assert band["couverture_mesuree_pct"] == pytest.approx(coverage, abs=0.051)
    summary = summary_text(run.notebook("02-prevision-interventions"))
    shown_mean = errors.xs(expected["winner"], level="modele")["wape_pct"].mean()  # the summary's table
    assert shown_mean == pytest.approx(expected["mean_wape"][expected["winner"]], abs=0.006)
    assert numbers_after(summary, "WAPE moyenne")[0] == pytest.approx(shown_mean, abs=0.0051)
    assert numbers_after(summary, "jamais utilisée pour ce choix : WAPE")[0] == pytest.approx(
        expected["held_out_wape"][expected["winner"]], abs=0.006
    )
    assert numbers_after(summary, "couverture mesurée")[0] == pytest.approx(coverage, abs=0.051)
    assert f"({expected['inside']} services sur {expected['services']})" in summary
    ordinary = pd.Series(wape(series, 2021)).idxmin()  # the choice without 2020, said next to it
    assert f"le backtest contient 2020, année de choc ; sans elle : {MODELS[ordinary]}." in summary


def test_the_published_forecast_is_the_model_that_won_the_backtest(ran: KindRun, interventions: pd.DataFrame):
    series = complete_series(interventions, "total_interventions")
    expected = expected_backtest(series, 0.8)
    forecast = (
        processed(ran, "prevision_2023.csv").assign(sdis=lambda t: t["service"].map(code)).set_index("sdis")
    )
    point = forecasts(series, 2023)[expected["winner"]]
    assert sorted(forecast.index) == sorted(series.index)
    assert (forecast["prevision_2023"] == point.round().reindex(forecast.index)).all()
    assert (forecast["basse"] == (point * expected["low"]).round().reindex(forecast.index)).all()
    assert (forecast["haute"] == (point * expected["high"]).round().reindex(forecast.index)).all()
    summary = summary_text(ran.notebook("02-prevision-interventions"))
    assert numbers_after(summary, "total")[0] == forecast["prevision_2023"].sum()
    assert ("**Naïf (comme l'an dernier)**" in summary) == (expected["winner"] == "naif")


@pytest.mark.parametrize("which", ["ci", "overridden"])
def test_no_export_holds_a_count_under_the_threshold(which: str, ran: KindRun, overridden: KindRun):
    run = ran if which == "ci" else overridden
    assert small_counts(run.workspace / "data" / "processed", COUNTS) == []


def test_small_counts_are_blanked_not_dropped(overridden: KindRun, interventions: pd.DataFrame):
    published = interventions.query("sdis == '973' and annee == 2022")["risques_technologiques"].iloc[0]
    assert 0 < published < 11  # Guyane 2022: 7 technological-risk interventions
    forecast = processed(overridden, "prevision_2023.csv").set_index("service")
    assert math.isnan(forecast.loc["973 Guyane", "realise_2022"])
    assert forecast.loc["973 Guyane", ["prevision_2023", "basse", "haute", "evolution_pct"]].isna().all()


def test_a_backtest_year_that_is_the_held_out_year_is_refused_by_name(tmp_path: Path):
    workspace = make_workspace(KIND, tmp_path)
    with pytest.raises(AssertionError) as failure:
        run_kind(KIND, workspace, overrides={"annees_test": [2021, 2022]}, notebooks=[FORECAST])
    message = str(failure.value)
    assert "02-prevision-interventions" in message and "annees_test" in message and "2022" in message
    assert not (workspace / "data/processed/backtest_erreurs.csv").exists()  # refused before any backtest
