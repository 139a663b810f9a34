"""The public API on the embedded samples: catalogue, load + filters, labels, CLI, usage log."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from eigkit import data
from eigkit.cli import main
from eigkit.data.registry import SAMPLES_DIR

NAMES = [
    "baac.caracteristiques", "baac.lieux", "baac.vehicules", "baac.usagers", "radars", "sdis.interventions",
    "secmar.operations", "secmar.flotteurs", "secmar.resultats_humain", "secmar.operations_stats",
    "geo.departements", "geo.regions", "ccomptes.publications",
    "dvf.mutations", "delinquance.departements", "delinquance.regions", "delinquance.etat4001",
    "radars.verbalisation", "insee.population",
]  # fmt: skip


def test_catalogue_lists_every_dataset_with_its_sample_kind():
    table = data.datasets()
    assert table["name"].tolist() == NAMES
    for column in ("title", "publisher", "datagouv_dataset", "licence", "years", "has_sample", "sample_kind"):
        assert column in table.columns
    assert table["has_sample"].all()
    kinds = table.set_index("name")["sample_kind"]
    assert kinds["baac.caracteristiques"] == "real" and kinds["radars"] == "real"
    assert "SYNTHETIC 2013" in kinds["baac.usagers"]


@pytest.mark.parametrize("name", NAMES)
def test_every_dataset_loads_from_its_sample(name):
    frame = data.load(name, source="sample")
    assert len(frame) > 0 and frame.columns.is_unique


def test_samples_stay_small():
    total = sum(path.stat().st_size for path in SAMPLES_DIR.rglob("*") if path.is_file())
    assert total < 3_000_000


def test_year_and_departement_filters():
    both = data.load("baac.caracteristiques", source="sample")
    assert sorted(both["an"].unique()) == [2013, 2021]
    only = data.load("baac.caracteristiques", source="sample", year=2021)
    assert len(only) == (both["an"] == 2021).sum() and (only["an"] == 2021).all()
    assert len(data.load("baac.usagers", source="sample", years=[2013, 2021])) == len(
        data.load("baac.usagers", source="sample")
    )
    corsica = data.load("baac.caracteristiques", source="sample", departements=["2A", "2B"])
    assert set(corsica["dep"]) <= {"2A", "2B"} and len(corsica) == both["dep"].isin(["2A", "2B"]).sum()
    assert set(data.load("radars", source="sample", dep=1)["dep"]) == {"01"}
    sdis = data.load("sdis.interventions", source="sample", year=2020, dep="75")
    assert sdis["sdis"].tolist() == ["BSPP"]
    with pytest.raises(data.DataError, match="no sample for year"):
        data.load("baac.lieux", source="sample", year=2012)
    with pytest.raises(data.DataError, match="unknown filter"):
        data.load("radars", source="sample", region="Bretagne")
    with pytest.raises(data.DataError, match="no département column"):
        data.load("baac.usagers", source="sample", dep="59")
    with pytest.raises(data.DataError, match="source="):
        data.load("radars", source="web")
    with pytest.raises(data.DataError, match="Unknown dataset"):
        data.load("baac.accidents", source="sample")


def test_synthetic_baac_is_consistent_with_the_real_extracts():
    lieux = data.load("baac.lieux", source="sample", year=2013)
    vehicules = data.load("baac.vehicules", source="sample", year=2013)
    caracteristiques = data.load("baac.caracteristiques", source="sample", year=2013)
    usagers = data.load("baac.usagers", source="sample", year=2013)
    assert caracteristiques["num_acc"].tolist() == lieux["num_acc"].tolist()
    vehicle_keys = set(zip(vehicules["num_acc"], vehicules["num_veh"], strict=True))
    assert set(zip(usagers["num_acc"], usagers["num_veh"], strict=True)) == vehicle_keys
    per_accident = usagers.assign(victim=usagers["grav"] != "1").groupby("num_acc")["victim"].any()
    assert per_accident.all(), "every accident has at least one victim"
    assert (
        caracteristiques["dep"].nunique() > 50
        and caracteristiques["dep"].astype("str").str.startswith("97").any()
    )


def test_labels_of_onisr_and_secmar_codes():
    grav = data.labels("baac", "grav")
    assert grav["2"] == "Tué" and grav["4"] == "Blessé léger"
    assert data.label_of("baac", "catv", "07") == "VL seul"
    usagers = data.load("baac.usagers", source="sample")
    assert usagers["grav"].map(grav).notna().all()
    lum = data.load("baac.caracteristiques", source="sample")["lum"].map(data.labels("baac", "lum"))
    assert lum.notna().all()
    assert data.labels("secmar", "categorie_evenement")["A"] == "Accidents de navire"
    with pytest.raises(data.DataError, match="Known"):
        data.labels("baac", "couleur")


def test_usage_is_recorded(tmp_path, monkeypatch):
    log = tmp_path / "usage.jsonl"
    monkeypatch.setenv("EIG_DATA_USAGE", str(log))
    data.load("sdis.interventions", source="sample", year=2021)
    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [(entry["name"], entry["year"], entry["source"]) for entry in entries] == [
        ("sdis.interventions", 2021, "sample")
    ]
    assert len(entries[0]["sha256"]) == 64 and entries[0]["path"].endswith("interventions2021.csv")


def test_cli_list_info_read(tmp_path):
    runner = CliRunner()
    listed = runner.invoke(main, ["data", "list"])
    assert listed.exit_code == 0 and all(name in listed.output for name in NAMES)
    info = runner.invoke(main, ["data", "info", "sdis.interventions"])
    assert info.exit_code == 0 and "interventions-realisees" in info.output
    assert runner.invoke(main, ["data", "info", "nope"]).exit_code != 0
    out = tmp_path / "lieux.parquet"
    read = runner.invoke(
        main, ["data", "read", "baac.lieux", str(SAMPLES_DIR / "baac" / "lieux-2021.csv"), "-o", str(out)]
    )
    assert read.exit_code == 0, read.output
    assert len(pd.read_parquet(out)) == 70
    refused = runner.invoke(
        main, ["data", "read", "baac.lieux", str(SAMPLES_DIR / "baac" / "usagers-2021.csv")]
    )
    assert refused.exit_code != 0 and "not 'lieux'" in refused.output
