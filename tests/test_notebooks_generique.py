"""The generique kind: its notebook profiles a dataset of the kit's registry on the embedded sample (columns,
filled and missing values agree with the published file read independently; missing values that only
reflect a category the column does not apply to are told apart, duplicates, keys, date ranges and
coordinates are recomputed from the kit's loaders), passes nbval and draws its figures; with
``source="remote"`` it profiles the first rows of a data.gouv.fr resource served by a fake API on 127.0.0.1
and says so."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from data_server import DataGouvServer
from eigkit import data
from notebook_kinds import (
    KindRun,
    figures,
    make_workspace,
    nbval_check,
    text_outputs,
)

pytestmark = pytest.mark.slow
KIND = "generique"
NOTEBOOK = "01-profil-jeu-de-donnees"


def profile(workspace: Path, stem: str) -> pd.DataFrame:
    return pd.read_csv(workspace / "data/processed" / f"profil-{stem}.csv", index_col="colonne")


def filled_counts(rows: list[dict[str, str]]) -> dict[str, int]:
    """Per column, the rows whose field is not empty."""
    return {column: sum(1 for row in rows if row[column].strip()) for column in rows[0]}


def test_the_notebook_draws_its_figures(ran: KindRun):
    assert len(figures(ran.notebook(NOTEBOOK))) == 4  # missing values, map, distributions, modalities


def test_the_notebook_imports_only_public_names():
    source = (Path(__file__).resolve().parents[1] / "notebooks" / KIND / f"{NOTEBOOK}.ipynb").read_text()
    assert "from eigkit import data" in source
    for internal in ("eigkit.data.", "from eigkit.data import", "requests"):
        assert internal not in source, internal


def test_outputs_are_reproduced_by_nbval(ran: KindRun):
    assert nbval_check(ran) == 0


def test_the_profile_matches_the_published_sample(ran: KindRun):
    (published,) = data.sample_files("radars")
    with published.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    shown = profile(ran.workspace, published.stem)
    assert shown.index.tolist() == list(rows[0])
    assert len(rows) == len(data.load("radars", source="sample"))  # the whole sample fits under nrows
    assert shown["renseignées"].to_dict() == filled_counts(rows)
    missing = {
        column: round(100 * (len(rows) - filled) / len(rows), 1)
        for column, filled in filled_counts(rows).items()
    }
    assert shown["manquantes (%)"].to_dict() == pytest.approx(missing)
    assert shown.loc["departement", "nature suggérée"] == "code (garder en texte)"  # "2A", "01" stay text
    assert shown.loc["date_installation", "nature suggérée"] == "date écrite en texte"
    assert f"{len(rows)} lignes lues, {len(rows[0])} colonnes" in text_outputs(ran.notebook(NOTEBOOK))
    assert f"Ce qui a été lu : le fichier entier ({len(rows)} lignes)" in text_outputs(ran.notebook(NOTEBOOK))


def test_missing_values_where_a_column_does_not_apply_are_told_apart(ran: KindRun):
    """longueur_troncon_km is empty exactly for the camera types that measure no section: "sans objet",
    not missing; vitesse_vehicules_legers_kmh is empty for three types and really missing for a few fixed
    cameras. Recomputed from data.load, independently of the notebook's code."""
    radars = data.load("radars", source="sample")
    shown = profile(ran.workspace, data.sample_files("radars")[0].stem)
    for column in ("longueur_troncon_km", "vitesse_vehicules_legers_kmh", "vitesse_poids_lourds_kmh"):
        empty = radars[column].isna()
        never = empty.groupby(radars["type"].astype(str)).transform("all")
        sizes = radars.groupby(radars["type"].astype(str))[column].transform("size")
        not_applicable = int((empty & never & (sizes >= 10)).sum())
        assert shown.loc[column, "sans objet"] == not_applicable, column
        assert shown.loc[column, "expliquée par"] == "type", column
        really = round(100 * (int(empty.sum()) - not_applicable) / len(radars), 1)
        assert shown.loc[column, "manquantes réelles (%)"] == pytest.approx(really), column
    assert shown.loc["longueur_troncon_km", "manquantes réelles (%)"] == 0  # never flagged red
    sections = radars["type"].isin(["Radar Vitesse Moyenne", "Itinéraire"])
    assert radars.loc[sections, "longueur_troncon_km"].notna().all()
    assert shown.loc["vitesse_vehicules_legers_kmh", "manquantes réelles (%)"] > 0


def test_duplicates_keys_dates_and_coordinates_match_the_loader(ran: KindRun):
    radars = data.load("radars", source="sample")
    text = text_outputs(ran.notebook(NOTEBOOK))
    assert f"Lignes entièrement identiques à une ligne précédente : 0 sur {len(radars)}" in text
    assert radars["id"].is_unique and "clé unique" in text
    installed = radars["date_installation"]
    first, last = installed.min().strftime("%d/%m/%Y"), installed.max().strftime("%d/%m/%Y")
    assert first in text and last in text
    metropole = radars["long"].between(-5.5, 10.0) & radars["lat"].between(41.0, 51.5)
    elsewhere = radars["lat"].notna() & ~metropole
    assert (
        f"Coordonnées (latitude, longitude) : {int(metropole.sum())} points en métropole, "
        f"{int(elsewhere.sum())} hors métropole"
    ) in text


def communes_csv(count: int) -> bytes:
    """A hand-written CSV as French producers publish it: ';', Latin-1, codes with leading zeros, gaps."""
    lines = ["code_commune;nom;population;mise_a_jour"]
    for number in range(count):
        population = "" if number % 4 == 3 else str(100 + 7 * number)
        lines.append(f"0{1001 + number};Commune n°{number} à l'Est;{population};2024-0{1 + number % 9}-15")
    return ("\n".join(lines) + "\n").encode("latin-1")


def test_a_remote_dataset_is_profiled_on_its_first_rows(tmp_path: Path):
    body = communes_csv(60)
    with DataGouvServer() as server:
        server.describe("communes-test", title="Communes de test", organization="Producteur de test")
        server.add("communes-test", "notice.pdf", b"%PDF-1.4 not a table")
        server.add("communes-test", "communes.csv", body)
        workspace = make_workspace(KIND, tmp_path)
        # through the eig command, in a fresh process: the kernels must see the fake API's address
        env = {key: value for key, value in os.environ.items() if key != "EIG_WORKSPACE"}
        env["EIG_DATAGOUV_API"] = server.api
        values = ["source=remote", "dataset=communes-test", "nrows=20"]
        command = [str(Path(sys.executable).parent / "eig"), "run", "--params", "params/ci.yaml"]
        command += [argument for value in values for argument in ("-p", value)]
        done = subprocess.run(command, cwd=workspace, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert any(request.startswith("/api/1/datasets/communes-test") for request in server.requests)
    extracts = list((workspace / "data/raw").glob("extrait-*.csv"))
    assert len(extracts) == 1  # the CSV resource, not the PDF, was downloaded
    rows = list(csv.DictReader(io.StringIO(body.decode("latin-1")), delimiter=";"))[:20]
    shown = profile(workspace, extracts[0].stem)
    assert shown.index.tolist() == ["code_commune", "nom", "population", "mise_a_jour"]
    assert shown["renseignées"].to_dict() == filled_counts(rows)  # nrows = 20: only the first 20 rows
    assert shown.loc["code_commune", "nature suggérée"] == "code (garder en texte)"
    assert shown.loc["mise_a_jour", "nature suggérée"] == "date écrite en texte"
    assert shown.loc["nom", "exemple"] == "Commune n°0 à l'Est"  # Latin-1 read as such
    executed = next((workspace / "runs").rglob("01-profil-jeu-de-donnees.ipynb"), None) or next(
        path for path in workspace.rglob("01-profil-jeu-de-donnees.ipynb") if "notebooks" not in path.parts
    )
    shown_text = text_outputs(json.loads(executed.read_text(encoding="utf-8")))
    assert "Jeu : Communes de test\nProducteur : Producteur de test\nRessources : 2" in shown_text
    assert "Ce qui a été lu : les 20 premières lignes seulement (paramètre nrows)" in shown_text
