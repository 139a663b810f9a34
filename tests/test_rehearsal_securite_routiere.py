"""Real-data rehearsal of the road-safety kind: the fake data.gouv.fr on 127.0.0.1 serves API-shaped JSON and
the REAL 2013 files at full size plus the real 2021 rows; the kind's notebooks run once each with
``source="remote"``, and what they show is checked against the raw files read apart with the csv module."""

from __future__ import annotations

import csv
import gzip
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from data_server import serving_datagouv
from eigkit.data.registry import SAMPLES_DIR, entry
from notebook_kinds import make_workspace, run_kind

pytestmark = pytest.mark.slow
REAL = Path(__file__).parent / "data" / "baac"
# notebook 04 also reads the 2017 fixed-camera offences and the SSMSI base (population by département, year)
SSMSI = Path(__file__).parent / "data" / "delinquance"
SSMSI_2022 = SSMSI / "donnee-dep-data.gouv-2022-geographie2023-produit-le2023-07-17.csv.gz"
VERBALISATION_2017 = SAMPLES_DIR / "verbalisation" / "bilan-2017-radars-fixes.csv"
KIND = "securite-routiere"


def _served_files() -> dict[str, bytes]:
    """Resource title -> bytes, as ONISR names them (``_`` before 2017, ``-`` after)."""
    files = {f"{table}_2013.csv": gzip.decompress((REAL / "2013" / f"{table}_2013.csv.gz").read_bytes())
             for table in ("caracteristiques", "lieux", "vehicules")}  # fmt: skip
    for table in ("caracteristiques", "lieux", "vehicules", "usagers"):
        (extract,) = (REAL / "2021-extraits").glob(f"{table}-2021_first*.csv")
        files[f"{table}-2021.csv"] = extract.read_bytes()
    # no real 2013 usagers file exists anywhere in the kit: the synthetic sample stands in (labelled as such)
    files["usagers_2013.csv"] = (SAMPLES_DIR / "baac" / "usagers_2013_SYNTHETIQUE.csv").read_bytes()
    return files


def _accidents_per_departement_2013(raw: bytes) -> dict[str, int]:
    """Counted apart from the kit: pre-2019 ``dep`` is the département x 10, Corse 201/202, overseas 97x."""
    rows = csv.DictReader(raw.decode("latin-1").splitlines())
    codes = ({"201": "2A", "202": "2B"}.get(row["dep"]) or (row["dep"] if row["dep"].startswith("97")
             else row["dep"][:2]) for row in rows)  # fmt: skip
    return dict(Counter(codes))


@pytest.mark.timeout(1200)
def test_the_road_safety_notebooks_run_on_the_real_files_served_remotely(tmp_path, monkeypatch):
    files = _served_files()
    assert len(files["caracteristiques_2013.csv"]) > 4_000_000  # the full year, not a sample
    with serving_datagouv(monkeypatch, tmp_path / "cache", tmp_path / "data.lock", timeout=None) as server:
        for title, body in files.items():
            server.add(entry("baac.caracteristiques").datagouv_dataset, title, body)
        server.add(
            entry("radars").datagouv_dataset,
            "radars.csv",
            (SAMPLES_DIR / "radars" / "radars.csv").read_bytes(),
        )
        server.add(
            entry("radars.verbalisation").datagouv_dataset,
            VERBALISATION_2017.name,
            VERBALISATION_2017.read_bytes(),
        )
        server.add(entry("insee.population").datagouv_dataset, SSMSI_2022.name, SSMSI_2022.read_bytes())
        workspace = make_workspace(KIND, tmp_path / "workspace")
        (workspace / "params" / "rehearsal.yaml").write_text(
            "source: remote\nannees: [2013, 2021]\ndepartements: []\n", encoding="utf-8"
        )
        ran = run_kind(KIND, workspace, params="params/rehearsal.yaml")
        assert server.downloads("caracteristiques_2013.csv") == 1  # fetched once, then served from the cache
    assert sorted(ran.executed) == [
        "01-accidents-par-departement", "02-gravite-et-conditions", "03-radars-et-accidents",
        "04-accidents-et-verbalisation",
    ]  # fmt: skip

    shown = pd.read_csv(workspace / "data/processed/accidents_par_departement.csv", dtype={"dep": str})
    in_2013 = shown[shown["an"] == 2013].set_index("dep")["accidents"].to_dict()
    # notebook 01 lists every département of the period, with 0 where a year has none (987 in 2013)
    in_2013 = {dep: count for dep, count in in_2013.items() if count != 0}
    assert in_2013 == _accidents_per_departement_2013(files["caracteristiques_2013.csv"])
    assert sum(in_2013.values()) == 58397
    in_2021 = shown[shown["an"] == 2021].set_index("dep")["accidents"]
    # the Polynésie française accident of 2021 is on the map's data, its count of 1 blanked (secret)
    assert "987" in in_2021.index and pd.isna(in_2021["987"])

    per_camera = pd.read_csv(
        workspace / "data/processed/radars_et_accidents_par_departement.csv", dtype={"dep": str}
    ).set_index("dep")
    assert per_camera.loc["75", "accidents_par_an"] == pytest.approx(
        (in_2013["75"] + in_2021.get("75", 0)) / 2
    )

    # notebook 04 crosses the full 2013 year with the 2017 offences: each count it publishes is the raw file's
    crossed = pd.read_csv(
        workspace / "data/processed/verbalisation_et_accidents_par_departement.csv", dtype={"dep": str}
    ).set_index("dep")
    published = crossed["accidents"].dropna()
    assert len(published) >= 95  # a full year: almost no département under the secret statistique threshold
    assert all(published[dep] == in_2013[dep] for dep in published.index)
