"""The securite-routiere kind: its notebooks run on the embedded samples, pass nbval, draw their figures, and
the numbers they show agree with an independent computation on the loaders' tables."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd
import pytest

from eigkit import data
from notebook_kinds import figure_counts, make_workspace, nbval_check, run_kind, text_outputs

pytestmark = pytest.mark.slow
KIND = "securite-routiere"
CI_YEARS = [2013, 2021]  # params/ci.yaml: the real samples


def test_every_notebook_draws_its_figures(ran):
    expected = {"01-accidents-par-departement": 2, "02-gravite-et-conditions": 3, "03-radars-et-accidents": 2}
    assert figure_counts(ran) == expected


def test_outputs_are_reproduced_by_nbval(ran):
    assert nbval_check(ran) == 0


def test_accidents_per_departement_and_year_match_the_loader(ran):
    shown = pd.read_csv(
        ran.workspace / "data/processed/accidents_par_departement.csv", dtype={"dep": str}
    ).set_index(["dep", "an"])["accidents"]
    accidents = data.load("baac.caracteristiques", years=CI_YEARS, source="sample")
    expected = accidents.groupby([accidents["dep"].astype(str), accidents["an"].astype(int)]).size()
    pd.testing.assert_series_equal(shown.sort_index(), expected.sort_index(), check_names=False)
    assert "971" in shown.index.get_level_values("dep")  # overseas accidents are counted, not dropped


def test_victims_by_severity_match_the_usagers_table(ran):
    text = text_outputs(ran.notebook("02-gravite-et-conditions"))
    usagers = data.load("baac.usagers", years=CI_YEARS, source="sample")
    for year in CI_YEARS:
        counts = usagers[usagers["an"] == year]["grav"].astype(str).value_counts()
        # the table's columns: tué, blessé hospitalisé, blessé léger, indemne (codes 2, 3, 4, 1)
        row = " +".join(str(counts.get(code, 0)) for code in ("2", "3", "4", "1"))
        assert re.search(rf"^{year} +{row}\s*$", text, re.MULTILINE), f"{year}: expected row {row}"


def test_cameras_per_departement_match_the_radars_table(ran):
    shown = pd.read_csv(
        ran.workspace / "data/processed/radars_et_accidents_par_departement.csv", dtype={"dep": str}
    ).set_index("dep")
    radars = data.load("radars", source="sample")
    installed = radars[
        radars["date_installation"].isna() | (radars["date_installation"].dt.year <= max(CI_YEARS))
    ]
    expected = installed.dropna(subset=["lat", "long"]).groupby(installed["dep"].astype(str)).size()
    assert shown["radars"][shown["radars"] > 0].sort_index().to_dict() == expected.sort_index().to_dict()


def _haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((phi2 - phi1) / 2) ** 2
        + math.cos(phi1) * math.cos(phi2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


def test_distance_to_the_nearest_camera_matches_a_brute_force_search(ran):
    shown = pd.read_csv(ran.workspace / "data/processed/distance_accident_radar.csv", dtype={"num_acc": str})
    accidents = data.load("baac.caracteristiques", years=CI_YEARS, source="sample").set_index("num_acc")
    radars = data.load("radars", source="sample")
    radars = radars[
        radars["date_installation"].isna() | (radars["date_installation"].dt.year <= max(CI_YEARS))
    ]
    cameras = list(zip(radars["lat"], radars["long"], radars["id"], strict=True))
    assert len(shown) == accidents["lat"].notna().sum()
    for row in shown.iloc[:: max(1, len(shown) // 15)].itertuples():
        lat, lon = accidents.loc[row.num_acc, ["lat", "long"]]
        best = min(cameras, key=lambda camera: _haversine_km(lat, lon, camera[0], camera[1]))
        assert row.distance_km == pytest.approx(_haversine_km(lat, lon, best[0], best[1]), abs=1e-3)
        assert row.radar_id == best[2]


def test_the_departements_parameter_restricts_the_study(tmp_path: Path):
    workspace = make_workspace(KIND, tmp_path)
    # codes as YAML text: "2A" and "971" must stay strings, "13" must not become 13
    (workspace / "params" / "filtre.yaml").write_text(
        "source: sample\nannees: [2013]\ndepartements: ['13', '2A', '971']\n", encoding="utf-8"
    )
    run_kind(KIND, workspace, params="params/filtre.yaml")
    counts = pd.read_csv(workspace / "data/processed/accidents_par_departement.csv", dtype={"dep": str})
    accidents = data.load("baac.caracteristiques", year=2013, source="sample")
    expected = (
        accidents[accidents["dep"].isin(["13", "2A", "971"])].groupby(accidents["dep"].astype(str)).size()
    )
    assert dict(zip(counts["dep"], counts["accidents"], strict=True)) == expected[expected > 0].to_dict()
    assert set(counts["an"]) == {2013}
