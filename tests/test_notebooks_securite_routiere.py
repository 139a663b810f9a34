"""The securite-routiere kind: its notebooks run on the embedded samples, pass nbval, draw their figures with
a real alternative text, put a computed summary at the top, publish no small count, and the numbers they show
(counts, rates per inhabitant, Poisson and Wilson intervals, time-consistent camera distances) agree with an
independent computation on the loaders' tables."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from eigkit import data
from eigkit.disclosure import DEFAULT_THRESHOLD, shown_count
from eigkit.notebook import fmt_number, fmt_percent
from eigkit.paths import kit_root
from eigkit.spatial import territory_of
from notebook_kinds import figure_counts, make_workspace, nbval_check, run_kind, text_outputs
from report_checks import private_imports

pytestmark = pytest.mark.slow
KIND = "securite-routiere"
CI = yaml.safe_load((kit_root() / "notebooks" / KIND / "params" / "ci.yaml").read_text(encoding="utf-8"))
CI_YEARS = list(CI["annees"])
EFFECTIF_MIN = 20  # the notebooks' default: under it a département or a cell is shown, not ranked
SEUIL_KM = 1.0
SPEED_CAMERAS = {"Radar fixe", "Radar discriminant", "Radar Vitesse Moyenne", "Itinéraire"}
HAS_POPULATION = "insee.population" in set(data.datasets()["name"])
#: every CSV a notebook writes to data/processed, with its count columns (blanked from 1 to threshold - 1)
EXPORTS = {
    "accidents_par_departement.csv": ["accidents"],
    "radars_et_accidents_par_departement.csv": ["accidents"],
    "victimes_par_gravite.csv": ["tues", "blesses_hospitalises", "blesses_legers", "indemnes"],
    "distance_accident_radar.csv": [],  # one row per accident, as the published BAAC file: no count
    "verbalisation_et_accidents_par_departement.csv": ["accidents"],  # notebook 04 (its own tests)
}
STEMS = ("01-accidents-par-departement", "02-gravite-et-conditions", "03-radars-et-accidents")


def accidents_of(years: list[int] = CI_YEARS) -> pd.DataFrame:
    return data.load("baac.caracteristiques", years=years, source="sample")


def read_export(ran, name: str) -> pd.DataFrame:
    return pd.read_csv(ran.workspace / "data" / "processed" / name, dtype={"dep": str, "num_acc": str})


def summary_of(notebook: dict) -> tuple[int, str]:
    """The index of the cell showing the "À retenir" summary at the top, and its markdown."""
    for index, cell in enumerate(notebook["cells"]):
        for output in cell.get("outputs", []):
            text = "".join(output.get("data", {}).get("text/markdown", ""))
            if re.match(r"#+ À retenir\n", text):
                return index, text
    raise AssertionError("no 'À retenir' summary in the notebook")


def figure_outputs(notebook: dict) -> list[tuple[int, dict]]:
    return [
        (index, output)
        for index, cell in enumerate(notebook["cells"])
        for output in cell.get("outputs", [])
        if "image/svg+xml" in output.get("data", {})
    ]


def small_count_cells(path: Path, counts: list[str], limit: int = DEFAULT_THRESHOLD) -> list[str]:
    """The cells of ``counts`` in the CSV at ``path`` that hold a count from 1 to ``limit - 1``."""
    frame = pd.read_csv(path)
    found = []
    for column in counts:
        values = pd.to_numeric(frame[column], errors="coerce")
        found += [f"{path.name}:{column}:{row}" for row in frame.index[(values > 0) & (values < limit)]]
    return found


def garwood(count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact Poisson interval, written from the chi-square definition (independent of eigkit.stats)."""
    count = np.asarray(count, dtype=float)
    low = np.where(count > 0, stats.chi2.ppf(0.025, 2 * np.maximum(count, 1)) / 2, 0.0)
    return low, stats.chi2.ppf(0.975, 2 * count + 2) / 2


def wilson(successes: float, n: float, z: float = 1.959963984540054) -> tuple[float, float]:
    share = successes / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def population_for(deps: pd.Series, years: pd.Series) -> pd.Series:
    """INSEE population of each (département, year), from the nearest year the file covers (ties: earlier)."""
    population = data.load("insee.population", source="sample")
    table = {(str(d), int(a)): float(p) for d, a, p in population[["dep", "annee", "population"]].to_numpy()}
    covered = sorted({year for _, year in table})
    values = []
    for dep, year in zip(deps, years, strict=True):
        nearest = min(covered, key=lambda candidate: (abs(candidate - int(year)), candidate))
        values.append(table.get((str(dep), nearest), np.nan))
    return pd.Series(values, index=deps.index)


# --- every notebook --------------------------------------------------------------------------------------


def test_every_notebook_draws_its_figures_with_a_real_alternative_text(ran):
    assert figure_counts(ran) == {STEMS[0]: 2, STEMS[1]: 3, STEMS[2]: 2, "04-accidents-et-verbalisation": 3}
    for stem in STEMS:
        for _, output in figure_outputs(ran.notebook(stem)):
            alt = output["metadata"]["image/svg+xml"]["alt"]
            assert len(alt) > 60 and "No description" not in alt and "sans titre" not in alt, (stem, alt)


def test_outputs_are_reproduced_by_nbval(ran):
    assert nbval_check(ran) == 0


def test_the_summary_sits_at_the_top_above_every_figure(ran):
    for stem in STEMS:
        notebook = ran.notebook(stem)
        index, text = summary_of(notebook)
        assert index < min(position for position, _ in figure_outputs(notebook)), stem
        banner = "".join(notebook["cells"][index]["outputs"][0]["data"]["text/markdown"])
        assert "**Données**" in banner and "**Paramètres**" in banner and "`annees`" in banner
        assert re.search(r"\d", text), f"{stem}: the summary gives this run's numbers"
        if CI["source"] == "sample":
            assert "Échantillon embarqué" in text


def test_no_exported_csv_holds_a_small_count(ran, tmp_path: Path):
    written = {path.name for path in (ran.workspace / "data" / "processed").glob("*.csv")}
    assert written == set(EXPORTS), "every export is declared here with its count columns"
    for name, counts in EXPORTS.items():
        assert small_count_cells(ran.workspace / "data" / "processed" / name, counts) == [], name
    leaky = tmp_path / "leaky.csv"  # the check itself fails on a file written without the disclosure helper
    pd.DataFrame({"dep": ["01", "02", "03"], "accidents": [0, 3, 40]}).to_csv(leaky, index=False)
    assert small_count_cells(leaky, ["accidents"]) == ["leaky.csv:accidents:1"]


def test_notebooks_import_only_public_names():
    for path in sorted((kit_root() / "notebooks" / KIND).glob("*.ipynb")):  # 04 included
        assert private_imports(path) == []


# --- 01: accidents and rates per inhabitant ---------------------------------------------------------------


def test_accidents_per_departement_and_year_match_the_loader_under_disclosure(ran):
    shown = read_export(ran, "accidents_par_departement.csv").set_index(["dep", "an"])["accidents"]
    accidents = accidents_of()
    expected = accidents.groupby([accidents["dep"].astype(str), accidents["an"].astype(int)]).size()
    for key, count in expected.items():
        if count >= DEFAULT_THRESHOLD:
            assert shown[key] == count, key
        else:
            assert pd.isna(shown[key]), f"{key}: {count} accidents must be blanked"
    assert (shown.drop(expected.index).fillna(0) == 0).all(), (
        "départements without accidents are published as 0"
    )
    assert "971" in shown.index.get_level_values("dep")


def test_rates_per_inhabitant_are_recomputed_from_the_population(ran):
    table = read_export(ran, "accidents_par_departement.csv")
    text = text_outputs(ran.notebook(STEMS[0]))
    if not HAS_POPULATION:  # the loader of another branch: the notebook says it and shows counts only
        assert "insee.population indisponible" in text and "taux_pour_100000" not in table.columns
        return
    published = table[table["accidents"].notna() & (table["accidents"] > 0)]
    population = population_for(published["dep"], published["an"])
    assert published["population"].to_numpy() == pytest.approx(population.to_numpy())
    rate = published["accidents"] / population * 100_000
    low, high = garwood(published["accidents"])
    assert published["taux_pour_100000"].to_numpy() == pytest.approx(rate.to_numpy())
    assert published["taux_bas"].to_numpy() == pytest.approx(low / population.to_numpy() * 100_000)
    assert published["taux_haut"].to_numpy() == pytest.approx(high / population.to_numpy() * 100_000)


def test_summary_of_01_equals_the_tables(ran):
    _, text = summary_of(ran.notebook(STEMS[0]))
    accidents = accidents_of()
    assert f"- {fmt_number(len(accidents))} accidents corporels en {', '.join(map(str, CI_YEARS))}" in text
    if not HAS_POPULATION:
        assert "Population INSEE indisponible" in text
        return
    grid = pd.MultiIndex.from_product(
        [sorted(set(accidents["dep"].astype(str)) | _contour_codes()), CI_YEARS]
    )
    counts = accidents.groupby([accidents["dep"].astype(str), accidents["an"].astype(int)]).size()
    frame = counts.reindex(grid, fill_value=0).rename_axis(["dep", "an"]).rename("n").reset_index()
    frame["population"] = population_for(frame["dep"], frame["an"])
    known = frame.dropna(subset=["population"])
    rate = known["n"].sum() / known["population"].sum() * 100_000
    low, high = (bound / known["population"].sum() * 100_000 for bound in garwood(known["n"].sum()))
    assert (
        f"Taux du périmètre : {fmt_number(rate, 2)} accidents pour 100 000 habitants par an "
        f"(IC 95 % : {fmt_number(float(low), 2)} – {fmt_number(float(high), 2)})."
    ) in text
    period = frame.groupby("dep").agg(n=("n", "sum"), population=("population", "sum"))
    period = period[(period["n"] >= EFFECTIF_MIN) & (period["population"] > 0)]
    if len(period):
        first = (period["n"] / period["population"]).sort_values(ascending=False).index[0]
        assert f"Premier département classé : {first} " in text


def _contour_codes() -> set[str]:
    return set(data.load("geo.departements", source="sample")["code"])


def test_the_sample_shows_no_trend(ran):
    text = text_outputs(ran.notebook(STEMS[0]))
    if CI["source"] == "sample":
        assert text.count("échantillon : pas de tendance") == len(CI_YEARS)


def test_the_departements_parameter_restricts_the_study(tmp_path: Path):
    workspace = make_workspace(KIND, tmp_path)
    year = CI_YEARS[0]
    # codes as YAML text: "2A" and "971" must stay strings, "13" must not become 13
    (workspace / "params" / "filtre.yaml").write_text(
        f"source: sample\nannees: [{year}]\ndepartements: ['13', '2A', '971']\n", encoding="utf-8"
    )
    run_kind(KIND, workspace, params="params/filtre.yaml", notebooks=["01-accidents-par-departement"])
    counts = pd.read_csv(workspace / "data/processed/accidents_par_departement.csv", dtype={"dep": str})
    accidents = accidents_of([year])
    expected = (
        accidents[accidents["dep"].isin(["13", "2A", "971"])].groupby(accidents["dep"].astype(str)).size()
    )
    assert set(counts["dep"]) == {"13", "2A", "971"} and set(counts["an"]) == {year}
    for dep, published in zip(counts["dep"], counts["accidents"], strict=True):
        count = expected.get(dep, 0)
        assert (published == count) if count == 0 or count >= DEFAULT_THRESHOLD else pd.isna(published)


# --- 02: severity, shares with Wilson intervals ----------------------------------------------------------


def test_victims_by_severity_match_the_usagers_table(ran):
    shown = read_export(ran, "victimes_par_gravite.csv").set_index("an")
    accidents = accidents_of()
    usagers = data.load("baac.usagers", years=CI_YEARS, source="sample")
    usagers = usagers[usagers["num_acc"].isin(accidents["num_acc"])]
    columns = {"2": "tues", "3": "blesses_hospitalises", "4": "blesses_legers", "1": "indemnes"}
    for year in CI_YEARS:
        counts = usagers[usagers["an"] == year]["grav"].astype(str).value_counts()
        row = {column: int(counts.get(code, 0)) for code, column in columns.items()}
        small = any(0 < count < DEFAULT_THRESHOLD for count in row.values())
        for column, count in row.items():  # disclosure.protect blanks the whole row of a small count
            assert pd.isna(shown.loc[year, column]) if small else shown.loc[year, column] == count, (
                year,
                column,
            )
    _, text = summary_of(ran.notebook(STEMS[1]))  # per year, as published: a total would reveal a blank
    deaths = [(year, shown.loc[year, "tues"]) for year in CI_YEARS]
    listed = " ; ".join(
        f"{year} : {'non publié' if pd.isna(n) else shown_count(int(n))}" for year, n in deaths
    )
    assert f"Tués : {listed}." in text


def test_shares_by_light_and_weather_carry_wilson_intervals(ran):
    accidents = accidents_of()
    usagers = data.load("baac.usagers", years=CI_YEARS, source="sample")
    serious = set(usagers.loc[usagers["grav"].astype(str).isin(["2", "3"]), "num_acc"])
    accidents = accidents.assign(grave=accidents["num_acc"].isin(serious))
    cells = accidents.groupby([accidents["atm"].astype(str), accidents["lum"].astype(str)])["grave"]
    table = cells.agg(n="size", graves="sum").reset_index()
    readable = table[table["n"] >= EFFECTIF_MIN]
    meteo, lumiere = data.labels("baac", "atm"), data.labels("baac", "lum")
    (_, heatmap) = figure_outputs(ran.notebook(STEMS[1]))[2]
    alt = heatmap["metadata"]["image/svg+xml"]["alt"]
    assert f"{len(readable)} cases d'au moins {EFFECTIF_MIN} accidents affichent une part" in alt
    for row in readable.itertuples():
        low, high = wilson(row.graves, row.n)
        expected = (
            f"{meteo[row.atm]}, {lumiere[row.lum]} : {fmt_percent(row.graves / row.n, 0)} "
            f"({fmt_percent(low, 0)} à {fmt_percent(high, 0)}, n = {fmt_number(row.n)})"
        )
        assert expected in alt


def test_the_hospitalised_caveat_says_which_side_2018_is_on(ran):
    markdown = "".join(ran.notebook(STEMS[1])["cells"][0]["source"])
    assert "2018 est la première année de la nouvelle saisie" in markdown


# --- 03: cameras in service, distances, reference ---------------------------------------------------------


def speed_cameras() -> pd.DataFrame:
    radars = data.load("radars", source="sample")
    return radars[radars["type"].astype(str).isin(SPEED_CAMERAS) & radars["lat"].notna()].set_index("id")


def test_cameras_per_departement_are_the_speed_cameras_in_service(ran):
    shown = read_export(ran, "radars_et_accidents_par_departement.csv").set_index("dep")
    cameras = speed_cameras()
    end = pd.Timestamp(f"{max(CI_YEARS)}-12-31")
    in_service = cameras[cameras["date_installation"].dt.tz_localize(None) <= end]
    expected = in_service.groupby(in_service["dep"].astype(str)).size()
    unknown = sorted(set(expected.index) - set(shown.index))  # a code the reader left as published
    assert set(unknown) <= {"50 – MANCHE"}  # the real 2018 file writes one camera's département so
    expected = expected.drop(unknown)
    assert shown["radars"][shown["radars"] > 0].sort_index().to_dict() == expected.sort_index().to_dict()
    if unknown:
        assert f"au code département non reconnu ({', '.join(unknown)})" in text_outputs(
            ran.notebook(STEMS[2])
        )


def test_each_accident_meets_only_speed_cameras_in_service_on_its_day(ran):
    shown = read_export(ran, "distance_accident_radar.csv").set_index("num_acc")
    accidents = accidents_of().set_index("num_acc")
    cameras = speed_cameras()
    installed = cameras["date_installation"].dt.tz_localize(None).dt.normalize()
    territories = cameras["dep"].astype(str).map(territory_of)
    matched = shown.dropna(subset=["radar_id"])
    days = accidents.loc[matched.index, "datetime"].dt.normalize()
    assert (installed.loc[matched["radar_id"].astype(int)].to_numpy() <= days.to_numpy()).all()
    assert set(matched["type_radar"]) <= SPEED_CAMERAS
    for num_acc in shown.index[:: max(1, len(shown) // 25)]:
        accident = accidents.loc[num_acc]
        usable = (territories == territory_of(accident["dep"])) & (
            installed <= accident["datetime"].normalize()
        )
        if not usable.any():
            assert np.isnan(shown.loc[num_acc, "distance_km"])
            continue
        phi1, phi2 = math.radians(accident["lat"]), np.radians(cameras.loc[usable, "lat"].to_numpy())
        dlon = np.radians(cameras.loc[usable, "long"].to_numpy() - accident["long"])
        a = np.sin((phi2 - phi1) / 2) ** 2 + math.cos(phi1) * np.cos(phi2) * np.sin(dlon / 2) ** 2
        best = float((2 * 6371.0088 * np.arcsin(np.sqrt(a))).min())
        # sphere vs ellipsoid and Lambert-93 scale: 1 % (see tests/test_maps_spatial.py)
        assert shown.loc[num_acc, "distance_km"] == pytest.approx(best, rel=0.01, abs=2e-3)


def test_summary_of_03_equals_the_tables(ran):
    _, text = summary_of(ran.notebook(STEMS[2]))
    distances = read_export(ran, "distance_accident_radar.csv")
    near = int((distances["distance_km"] <= SEUIL_KM).sum())
    low, high = wilson(near, len(distances))
    assert (
        f"À moins de {fmt_number(SEUIL_KM, 1)} km d'un radar en service : "
        f"{fmt_percent(near / len(distances))} des accidents "
        f"(IC 95 % : {fmt_percent(low)} – {fmt_percent(high)})"
    ) in text
    assert f"- {fmt_number(len(distances))} accidents localisés" in text
    without = int(distances["distance_km"].isna().sum())
    if without:
        assert f"{fmt_number(without)} accident(s) sans radar en service dans leur territoire" in text
    departements = read_export(ran, "radars_et_accidents_par_departement.csv")
    ranked = departements[
        (departements["accidents"] >= EFFECTIF_MIN) & departements["taux_accidents"].notna()
    ]
    spearman = stats.spearmanr(ranked["taux_accidents"], ranked["taux_radars"]).statistic
    assert f"{len(ranked)} départements classés) : {fmt_number(spearman, 2)}." in text
