"""The new datasets through the remote path (a real HTTP server on 127.0.0.1 answering like data.gouv.fr) and
back from the parquet cache: same frames as the files read directly."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from data_server import serving_datagouv
from eigkit import data
from eigkit.data.registry import SAMPLES_DIR, entry

FIXTURES = Path(__file__).parent / "data"
GZ_2022 = FIXTURES / "delinquance" / "donnee-dep-data.gouv-2022-geographie2023-produit-le2023-07-17.csv.gz"


@pytest.fixture
def server(tmp_path, monkeypatch):
    with serving_datagouv(monkeypatch, tmp_path / "cache", tmp_path / "data.lock") as running:
        yield running


@pytest.mark.parametrize(
    ("name", "title", "path"),
    [
        ("delinquance.departements", GZ_2022.name, GZ_2022),
        ("insee.population", GZ_2022.name, GZ_2022),
        ("delinquance.regions", "donnee-reg-data.gouv-2023-geographie2023.csv",
         SAMPLES_DIR / "delinquance" / "donnee-reg-2023.csv"),
        ("delinquance.etat4001", "crimes-et-delits-enregistres-par-les-services.xlsx",
         SAMPLES_DIR / "delinquance" / "crimes-et-delits-enregistres-extrait.xlsx"),
    ],
)  # fmt: skip
def test_remote_then_cache_equal_the_file_read_directly(server, tmp_path, name, title, path):
    server.add(entry(name).datagouv_dataset, title, path.read_bytes())
    expected = data.read(name, path)
    remote = data.load(name, source="remote")
    cached = data.load(name, source="cache")
    # exactly equal: the same bytes through the same reader (and pandas' tolerant comparison boxes every value
    # of a categorical column one by one: 16 times slower on these 10,000 rows)
    pd.testing.assert_frame_equal(remote, expected, check_exact=True)
    pd.testing.assert_frame_equal(cached, expected, check_exact=True)
    lock = json.loads((tmp_path / "data.lock").read_text(encoding="utf-8"))["downloads"]
    assert any(key.startswith(name) for key in lock)


def test_yearly_datasets_pick_their_year(server):
    raw = SAMPLES_DIR / "dvf" / "valeursfoncieres-2020-extrait-01.txt"
    verbalisation = SAMPLES_DIR / "verbalisation" / "bilan-2017-radars-fixes.csv"
    server.add(entry("dvf.mutations").datagouv_dataset, "valeursfoncieres-2020.txt", raw.read_bytes())
    server.add(entry("dvf.mutations").datagouv_dataset, "valeursfoncieres-2021.txt", b"other year")
    server.add(
        entry("radars.verbalisation").datagouv_dataset,
        "bilan-2017-radars-fixes.csv",
        verbalisation.read_bytes(),
    )
    frame = data.load("dvf.mutations", year=2020, source="remote", dep="01")
    pd.testing.assert_frame_equal(frame, data.read("dvf.mutations", raw))
    assert data.load("dvf.mutations", year=2020, source="cache")["id_mutation"].nunique() == 74
    counts = data.load("radars.verbalisation", source="remote")
    assert counts["dossiers_infractions"].sum() == 12_537_062
