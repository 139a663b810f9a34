"""The sauvetage-en-mer kind: its notebooks run on the embedded SECMAR extracts, pass nbval, draw their
figures, and what they publish agrees with an independent computation on the loaders' tables: operations
per CROSS and per local hour, the human toll (people, not rows) with Wilson intervals, the headline count of
deaths and missing people, the share of operations in school holidays next to the share of days that are
school holidays. The ``annees``/``cross`` filters reach every table through ``operation_id``: checked on a
constructed set of operations (the embedded extracts share no operation). No export holds a count under the
threshold."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from scipy import stats
from vacances_scolaires_france import SchoolHolidayDates

from eigkit import data
from eigkit.paths import kit_root
from notebook_kinds import KindRun, figure_counts, make_workspace, nbval_check, run_kind
from report_checks import numbers_after, small_counts, summary_text

pytestmark = pytest.mark.slow
KIND = "sauvetage-en-mer"
SAMPLES = kit_root() / "shared" / "eigkit" / "data" / "samples" / "secmar"
TABLES = ("operations", "resultats_humain", "flotteurs", "operations_stats")
CHOSEN = {"cross": ["Étel"], "annees": [2018]}
COUNTS = {
    "operations_par_cross.csv": ["SAR", "MAS", "DIV", "non renseigné", "total"],
    "operations_par_heure.csv": ["operations"],
    "operations_vacances.csv": ["operations"],
    "bilan_humain.csv": ["personnes"],
    "bilan_humain_parts.csv": ["personnes"],
    "flotteurs_devenir.csv": ["Assisté", "Difficulté surmontée, reprise de route", "Remorqué"],
}


def protected(count: int) -> float:
    """What a published count becomes under the default threshold (11): 1..10 blanked."""
    return float("nan") if 0 < count < 11 else float(count)


@pytest.fixture(scope="module")
def operations() -> pd.DataFrame:
    return data.load("secmar.operations", source="sample")


def constructed_secmar(folder: Path) -> dict[str, pd.DataFrame]:
    """The embedded extracts, rewritten so that the four tables share the 10 operations (real rows, real
    format): the human-toll rows are dealt round the operations, one float and one stats row each."""
    raw = {table: pd.read_csv(SAMPLES / f"{table}.csv", dtype=str, keep_default_na=False) for table in TABLES}
    ids = raw["operations"]["operation_id"].tolist()
    raw["resultats_humain"]["operation_id"] = [ids[i % len(ids)] for i in range(len(raw["resultats_humain"]))]
    raw["flotteurs"]["operation_id"] = ids[: len(raw["flotteurs"])]
    raw["operations_stats"] = raw["operations_stats"].head(len(ids)).assign(operation_id=ids)
    folder.mkdir(parents=True, exist_ok=True)
    for table, frame in raw.items():
        frame.to_csv(folder / f"{table}.csv", index=False)
    return {table: data.read(f"secmar.{table}", folder / f"{table}.csv") for table in TABLES}


@pytest.fixture(scope="module")
def constructed(tmp_path_factory: pytest.TempPathFactory) -> tuple[KindRun, dict[str, pd.DataFrame]]:
    """Both notebooks on the constructed set, filtered to Étel in 2018, threshold 1 (nothing masked)."""
    folder = tmp_path_factory.mktemp("sauvetage-construit")
    tables = constructed_secmar(folder / "secmar")
    workspace = make_workspace(KIND, folder / "workspace")
    with (workspace / "pyproject.toml").open("a", encoding="utf-8") as handle:
        handle.write("secret_statistique = 1\n")  # [tool.eig] is the last table of the file
    run = run_kind(KIND, workspace, overrides={**CHOSEN, "dossier_secmar": str(folder / "secmar")})
    return run, tables


def processed(workspace: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(workspace / "data" / "processed" / name)


def test_every_notebook_draws_its_figures(ran: KindRun):
    expected = {"01-operations-par-cross": 4, "02-bilan-humain": 2}
    assert figure_counts(ran) == expected


def test_outputs_are_reproduced_by_nbval(ran: KindRun):
    assert nbval_check(ran) == 0


def test_operations_per_cross_and_type_match_the_loader_small_counts_blanked(
    ran: KindRun, operations: pd.DataFrame
):
    shown = processed(ran.workspace, "operations_par_cross.csv").set_index("cross")
    # every CROSS of the SECMAR code table is a row, with zero when it has no operation in the extract
    assert sorted(shown.index) == sorted(set(data.labels("secmar", "cross").values()))
    counts = Counter(str(cross) for cross in operations["cross"])
    expected = pd.Series({cross: protected(counts.get(cross, 0)) for cross in shown.index})
    pd.testing.assert_series_equal(shown["total"].astype(float), expected, check_names=False)
    assert (shown.loc[["Corsen", "Gris-Nez"], "total"] == 0).all()  # a zero discloses no one: published


def test_no_export_holds_a_count_under_the_threshold(ran: KindRun):
    assert small_counts(ran.workspace / "data" / "processed", COUNTS) == []


def test_the_filters_reach_every_table_through_operation_id(constructed):
    run, tables = constructed
    operations = tables["operations"]
    chosen = operations[
        operations["cross"].astype(str).isin(CHOSEN["cross"]) & operations["annee"].isin([2018])
    ]
    ids = set(chosen["operation_id"])
    assert len(ids) == 5 and len(operations) == 10
    per_cross = processed(run.workspace, "operations_par_cross.csv").set_index("cross")["total"]
    assert per_cross[per_cross > 0].to_dict() == {"Étel": 5}
    toll = tables["resultats_humain"][tables["resultats_humain"]["operation_id"].isin(ids)]
    shown = processed(run.workspace, "bilan_humain.csv")
    assert shown["personnes"].sum() == toll["nombre"].sum() < tables["resultats_humain"]["nombre"].sum()
    people = toll.groupby([toll["resultat_humain"].astype(str), toll["categorie_personne"].astype(str)])[
        "nombre"
    ]
    for (outcome, category), count in people.sum().items():
        row = shown[(shown["resultat_humain"] == outcome) & (shown["categorie_personne"] == category)]
        assert row["personnes"].tolist() == [count], (outcome, category)
    by_cross = processed(run.workspace, "bilan_humain_par_cross.csv")
    assert by_cross["cross"].tolist() == ["Étel"]
    assert by_cross.drop(columns="cross").to_numpy().sum() == toll["nombre"].sum()
    floats = tables["flotteurs"][tables["flotteurs"]["operation_id"].isin(ids)]
    devenir = processed(run.workspace, "flotteurs_devenir.csv")
    assert devenir.drop(columns="type_flotteur").to_numpy().sum() == len(floats) == 5
    holidays = processed(run.workspace, "operations_vacances.csv").set_index("indicateur")
    in_stats = tables["operations_stats"][tables["operations_stats"]["operation_id"].isin(ids)]
    assert holidays.loc["Pendant les vacances scolaires", "n"] == len(in_stats) == 5
    assert (
        holidays.loc["Pendant les vacances scolaires", "operations"]
        == in_stats["est_vacances_scolaires"].sum()
    )


def test_hours_are_counted_in_the_local_time_of_each_cross(constructed):
    run, tables = constructed
    operations = tables["operations"]
    chosen = operations[
        operations["cross"].astype(str).isin(CHOSEN["cross"]) & operations["annee"].isin([2018])
    ]
    shown = processed(run.workspace, "operations_par_heure.csv").set_index("heure")["operations"]
    local_hours = Counter(
        moment.to_pydatetime().astimezone(ZoneInfo(str(zone))).hour
        for moment, zone in zip(chosen["date_heure_reception_alerte"], chosen["fuseau_horaire"], strict=True)
    )
    assert shown.to_dict() == {hour: local_hours.get(hour, 0) for hour in range(24)}
    utc_hours = Counter(moment.hour for moment in chosen["date_heure_reception_alerte"])
    assert shown.to_dict() != {hour: utc_hours.get(hour, 0) for hour in range(24)}  # the conversion matters


def test_headline_deaths_and_missing_on_the_filtered_operations(constructed):
    run, tables = constructed
    operations = tables["operations"]
    ids = set(
        operations.loc[
            operations["cross"].astype(str).eq("Étel") & operations["annee"].eq(2018), "operation_id"
        ]
    )
    toll = tables["resultats_humain"][tables["resultats_humain"]["operation_id"].isin(ids)]
    outcome = toll["resultat_humain"].astype(str)
    deaths = int(toll.loc[outcome.str.startswith("Personne décédée"), "nombre"].sum())
    missing = int(toll.loc[outcome == "Personne disparue", "nombre"].sum())
    summary = summary_text(run.notebook("02-bilan-humain"))
    assert numbers_after(summary, r"\*\*")[0] == deaths  # threshold 1: the number itself
    assert f"et {missing} disparue(s)** sur {int(toll['nombre'].sum())} personnes impliquées" in summary


def test_human_outcomes_sum_people_with_wilson_intervals(ran: KindRun):
    outcomes = data.load("secmar.resultats_humain", source="sample")
    total = int(outcomes["nombre"].sum())
    people = outcomes.groupby(outcomes["resultat_humain"].astype(str))["nombre"].sum()
    shares = processed(ran.workspace, "bilan_humain_parts.csv").set_index("resultat_humain")
    assert shares.index[-1] == "Personne décédée"  # a published label missing from the code table comes last
    assert "Personne décédée" not in data.labels("secmar", "resultat_humain").values()
    for outcome, count in people.items():
        row = shares.loc[outcome]
        assert row["n"] == total != len(outcomes)  # people are summed, rows are not counted
        if 0 < count < 11:
            assert row[["personnes", "part_pct", "ic95_bas_pct", "ic95_haut_pct"]].isna().all(), outcome
            continue
        low, high = stats.binomtest(int(count), total).proportion_ci(method="wilson")
        assert row["personnes"] == count
        assert row["part_pct"] == pytest.approx(count / total * 100)
        assert (row["ic95_bas_pct"], row["ic95_haut_pct"]) == (
            pytest.approx(low * 100),
            pytest.approx(high * 100),
        )
    summary = summary_text(ran.notebook("02-bilan-humain"))
    deaths = int(people[[o for o in people.index if o.startswith("Personne décédée")]].sum())
    assert 0 < deaths < 11 and "**moins de 11 personne(s) décédée(s)" in summary
    assert f"sur {total} personnes impliquées" in summary


def test_school_holidays_share_is_shown_next_to_the_share_of_days(ran: KindRun, operations: pd.DataFrame):
    stats_table = data.load("secmar.operations_stats", source="sample")
    share = stats_table["est_vacances_scolaires"].mean() * 100
    calendar = SchoolHolidayDates()
    years = sorted(set(operations["annee"].astype(int)))  # the extracts share no operation: their years
    days = [day for year in years for day in pd.date_range(f"{year}-01-01", f"{year}-12-31").date]
    holiday_share = sum(calendar.is_holiday(day) for day in days) / len(days) * 100
    shown = processed(ran.workspace, "operations_vacances.csv").set_index("indicateur")
    row = shown.loc["Pendant les vacances scolaires"]
    assert row["part_pct"] == pytest.approx(share) and round(share, 1) == 47.5
    assert row["reference_jours_pct"] == pytest.approx(holiday_share)
    summary = summary_text(ran.notebook("01-operations-par-cross"))
    assert numbers_after(summary, "vacances scolaires :")[0] == round(share, 1)
    assert numbers_after(summary, r"\), pour")[0] == round(holiday_share, 1)
