"""The generique kind: its notebook profiles a dataset of the kit's registry on the embedded sample (columns,
filled and missing values agree with the published file read independently), passes nbval and draws its
figures; with ``source="remote"`` it profiles a data.gouv.fr resource served by a fake API on 127.0.0.1."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from data_server import DataGouvServer
from eigkit import data
from eigkit.data import registry
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
    assert len(figures(ran.notebook(NOTEBOOK))) == 3


def test_outputs_are_reproduced_by_nbval(ran: KindRun):
    assert nbval_check(ran) == 0


def test_the_profile_matches_the_published_sample(ran: KindRun):
    (published,) = [path for paths in registry.entry("radars").sample_files().values() for path in paths]
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
