"""The pompiers kind: its notebooks run on the embedded DGSCGC files, pass nbval, draw their figures, and the
national volumes and the backtest errors they show agree with an independent computation on the loader's
tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eigkit import data
from notebook_kinds import (
    KindRun,
    figure_counts,
    make_workspace,
    nbval_check,
    run_kind,
    text_outputs,
)

pytestmark = pytest.mark.slow
KIND = "pompiers"
CI_YEARS = [2018, 2019, 2020, 2021, 2022]
CATEGORIES = {
    "incendies": "Incendies",
    "secours_a_personne": "Secours à personne",
    "accidents_de_circulation": "Accidents de circulation",
    "risques_technologiques": "Risques technologiques",
    "operations_diverses": "Opérations diverses",
}


@pytest.fixture(scope="module")
def interventions() -> pd.DataFrame:
    return pd.concat(
        [data.load("sdis.interventions", year=year, source="sample") for year in CI_YEARS], ignore_index=True
    )


def processed(run: KindRun, name: str) -> pd.DataFrame:
    return pd.read_csv(run.workspace / "data" / "processed" / name)


def complete_series(interventions: pd.DataFrame, column: str) -> pd.DataFrame:
    """One row per service (sdis code), one column per year; services with a missing or zero year dropped."""
    table = interventions.assign(
        sdis=interventions["sdis"].astype(str), annee=interventions["annee"].astype(int)
    )
    values = table.pivot(index="sdis", columns="annee", values=column).astype(float)
    if column == "total_interventions":
        values = values.replace(0, np.nan)  # a zero total is an unreported year, as the notebook says
    return values.dropna()


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


def mean_absolute_errors(series: pd.DataFrame, year: int) -> dict[str, float]:
    """Each model's mean absolute error on ``year``."""
    return {
        model: float((forecast - series[year]).abs().mean())
        for model, forecast in forecasts(series, year).items()
    }


def test_every_notebook_draws_its_figures(ran: KindRun):
    expected = {"01-interventions-par-categorie": 4, "02-prevision-interventions": 3}
    assert figure_counts(ran) == expected


def test_outputs_are_reproduced_by_nbval(ran: KindRun):
    assert nbval_check(ran) == 0


def test_national_volumes_by_category_match_the_loader(ran: KindRun, interventions: pd.DataFrame):
    shown = processed(ran, "interventions_par_annee.csv").set_index("annee")
    expected = interventions.groupby(interventions["annee"].astype(int))[list(CATEGORIES)].sum()
    expected = expected.rename(columns=CATEGORIES)
    expected["Total"] = interventions.groupby(interventions["annee"].astype(int))["total_interventions"].sum()
    pd.testing.assert_frame_equal(shown, expected.astype("int64"), check_names=False)
    assert shown.index.tolist() == CI_YEARS


def test_backtest_errors_match_a_recomputation(ran: KindRun, interventions: pd.DataFrame):
    errors = processed(ran, "backtest_erreurs.csv").set_index(["modele", "annee_test"])
    series = complete_series(interventions, "total_interventions")
    assert len(series) == 98  # Martinique's 2018 total is published as 0: left out, not forecast
    for year in (2020, 2021, 2022):
        for model, mae in mean_absolute_errors(series, year).items():
            assert errors.loc[(model, year), "mae"] == pytest.approx(mae, abs=0.051), (model, year)
        assert errors.loc[("naif", year), "bat_naif_pct"] == 0  # the baseline never beats itself


def test_the_published_forecast_is_the_model_that_won_the_backtest(ran: KindRun, interventions: pd.DataFrame):
    series = complete_series(interventions, "total_interventions")
    mean_mae = pd.DataFrame([mean_absolute_errors(series, year) for year in (2020, 2021, 2022)]).mean()
    winner = mean_mae.idxmin()
    forecast = processed(ran, "prevision_2023.csv")
    forecast["sdis"] = forecast["service"].str.split().str[0]  # "01 Ain" -> "01", "BSPP (Paris...)" -> "BSPP"
    forecast = forecast.set_index("sdis")
    expected = forecasts(series, 2023)[winner].round()
    assert sorted(forecast.index) == sorted(series.index)
    assert (forecast["prevision_2023"] == expected.reindex(forecast.index)).all(), winner
    text = text_outputs(ran.notebook("02-prevision-interventions"))
    if winner == "naif":  # no trend beats "same as last year": the notebook must say so
        assert "Aucun modèle ne bat la référence naïve" in text
    else:
        assert "Modèle retenu" in text
    assert (forecast["basse"] <= forecast["prevision_2023"]).all()
    assert (forecast["prevision_2023"] <= forecast["haute"]).all()


def test_the_category_and_test_years_change_the_backtest(tmp_path: Path, interventions: pd.DataFrame):
    workspace = make_workspace(KIND, tmp_path)
    run_kind(KIND, workspace, overrides={"categorie": "incendies", "annees_test": [2021, 2022]})
    errors = pd.read_csv(workspace / "data/processed/backtest_erreurs.csv").set_index(
        ["modele", "annee_test"]
    )
    assert sorted(set(errors.index.get_level_values("annee_test"))) == [2021, 2022]
    series = complete_series(interventions, "incendies")
    for year in (2021, 2022):
        for model, mae in mean_absolute_errors(series, year).items():
            assert errors.loc[(model, year), "mae"] == pytest.approx(mae, abs=0.051), (model, year)
