"""The sauvetage-en-mer kind: its notebooks run on the embedded SECMAR extracts, pass nbval, draw their
figures, and the operations per CROSS, per local hour and the human outcomes they show agree
with an independent computation on the loaders' tables."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from eigkit import data
from notebook_kinds import KindRun, figure_counts, make_workspace, nbval_check, run_kind

pytestmark = pytest.mark.slow
KIND = "sauvetage-en-mer"


@pytest.fixture(scope="module")
def operations() -> pd.DataFrame:
    return data.load("secmar.operations", source="sample")


def processed(workspace: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(workspace / "data" / "processed" / name, index_col=0)


def test_every_notebook_draws_its_figures(ran: KindRun):
    expected = {"01-operations-par-cross": 4, "02-bilan-humain": 2}
    assert figure_counts(ran) == expected


def test_outputs_are_reproduced_by_nbval(ran: KindRun):
    assert nbval_check(ran) == 0


def test_operations_per_cross_and_type_match_the_loader(ran: KindRun, operations: pd.DataFrame):
    shown = processed(ran.workspace, "operations_par_cross.csv")
    # every CROSS of the SECMAR code table is a row, with zero when it has no operation in the extract
    assert sorted(shown.index) == sorted(set(data.labels("secmar", "cross").values()))
    counts = Counter(str(cross) for cross in operations["cross"])
    assert shown["total"].to_dict() == {cross: counts.get(cross, 0) for cross in shown.index}
    by_type = Counter(
        (str(cross), "non renseigné" if pd.isna(kind) else str(kind))
        for cross, kind in zip(operations["cross"], operations["type_operation"], strict=True)
    )
    for (cross, kind), count in by_type.items():
        assert shown.loc[cross, kind] == count, (cross, kind)
    assert shown.drop(columns="total").sum().sum() == len(operations)


def test_hours_are_counted_in_the_local_time_of_each_cross(ran: KindRun, operations: pd.DataFrame):
    shown = processed(ran.workspace, "operations_par_heure.csv")["operations"]
    local_hours = Counter(
        moment.to_pydatetime().astimezone(ZoneInfo(str(zone))).hour
        for moment, zone in zip(
            operations["date_heure_reception_alerte"], operations["fuseau_horaire"], strict=True
        )
    )
    assert shown.to_dict() == {hour: local_hours.get(hour, 0) for hour in range(24)}
    utc_hours = Counter(moment.hour for moment in operations["date_heure_reception_alerte"])
    assert shown.to_dict() != {hour: utc_hours.get(hour, 0) for hour in range(24)}  # the conversion matters


def test_human_outcomes_sum_people_not_rows(ran: KindRun):
    shown = processed(ran.workspace, "bilan_humain.csv")
    outcomes = data.load("secmar.resultats_humain", source="sample")
    people = outcomes.groupby(
        [outcomes["resultat_humain"].astype(str), outcomes["categorie_personne"].astype(str)]
    )["nombre"].sum()
    for (outcome, category), count in people.items():
        assert shown.loc[outcome, category] == count, (outcome, category)
    assert shown["total"].sum() == outcomes["nombre"].sum()
    assert shown["total"].sum() != len(outcomes)  # people are summed, rows are not counted
    # a published label missing from the code table is kept apart, after the table's labels
    assert shown.index[-1] == "Personne décédée"
    assert "Personne décédée" not in data.labels("secmar", "resultat_humain").values()


def test_the_cross_and_year_parameters_restrict_the_operations(tmp_path: Path, operations: pd.DataFrame):
    workspace = make_workspace(KIND, tmp_path)
    run_kind(KIND, workspace, overrides={"cross": ["Étel"], "annees": [2018]})
    shown = processed(workspace, "operations_par_cross.csv")["total"]
    expected = int(((operations["cross"].astype(str) == "Étel") & (operations["annee"] == 2018)).sum())
    assert expected > 0
    assert shown[shown > 0].to_dict() == {"Étel": expected}
