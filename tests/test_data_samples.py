"""The embedded BAAC samples: rebuilt byte for byte from the real files by the script kept beside them,
consistent across tables, every département of the year present, and the one synthetic table labelled."""

from __future__ import annotations

import csv
import gzip
import importlib.util
import shutil
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

from eigkit import data
from eigkit.cli import main
from eigkit.data.registry import SAMPLES_DIR

REAL = Path(__file__).parent / "data" / "baac"
SAMPLE = SAMPLES_DIR / "baac"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A folder laid out like the kit's store of real files: ``2013/`` (full year) and ``2021-extraits/``."""
    folder = tmp_path_factory.mktemp("real-baac")
    (folder / "2013").mkdir()
    for path in (REAL / "2013").glob("*.csv.gz"):
        with gzip.open(path) as packed, (folder / "2013" / path.name.removesuffix(".gz")).open("wb") as out:
            shutil.copyfileobj(packed, out)
    shutil.copytree(REAL / "2021-extraits", folder / "2021-extraits")
    return folder


def _script():
    spec = importlib.util.spec_from_file_location("make_baac_samples", SAMPLES_DIR / "make_baac_samples.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def test_the_script_rebuilds_the_committed_samples_byte_for_byte(source, tmp_path):
    _script().main(source, tmp_path)
    built = sorted(path.name for path in tmp_path.iterdir())
    assert built == sorted(path.name for path in SAMPLE.glob("*.csv"))
    for name in built:
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), name


def test_the_2013_sample_is_real_lines_consistent_across_tables(source):
    for table in ("caracteristiques", "lieux", "vehicules"):
        full = _lines(source / "2013" / f"{table}_2013.csv")
        sample = _lines(SAMPLE / f"{table}_2013.csv")
        assert sample[0] == full[0]
        assert set(sample[1:]) <= set(full[1:]), f"{table}: every sample line is a published line"
    caracteristiques = data.read("baac.caracteristiques", SAMPLE / "caracteristiques_2013.csv")
    lieux = data.read("baac.lieux", SAMPLE / "lieux_2013.csv")
    vehicules = data.read("baac.vehicules", SAMPLE / "vehicules_2013.csv")
    assert 300 <= len(caracteristiques) <= 500
    assert caracteristiques["num_acc"].tolist() == lieux["num_acc"].tolist()
    keys = set(caracteristiques["num_acc"])
    with (source / "2013" / "vehicules_2013.csv").open(encoding="latin-1", newline="") as handle:
        expected_vehicles = sum(1 for row in csv.DictReader(handle) if row["Num_Acc"] in keys)
    assert len(vehicules) == expected_vehicles and set(vehicules["num_acc"]) == keys


def test_the_2013_sample_maps_every_departement_in_proportion(source):
    with (source / "2013" / "caracteristiques_2013.csv").open(encoding="latin-1", newline="") as handle:
        full = Counter(row["dep"] for row in csv.DictReader(handle))
    sample = data.read("baac.caracteristiques", SAMPLE / "caracteristiques_2013.csv")
    counts = sample["dep"].astype("str").value_counts()
    assert len(counts) == len(full) == 101  # 96 metropolitan (2A, 2B) + 5 overseas
    assert counts.index[0] == "75" and counts["75"] > 5 * counts["48"]  # Paris vs Lozère, as in the year
    biggest = {code[:2] for code, _ in full.most_common(5)}
    assert biggest <= set(counts.index[:12])


def test_only_the_2013_usagers_are_synthetic_and_they_say_so():
    usagers = data.read("baac.usagers", SAMPLE / "usagers_2013_SYNTHETIQUE.csv")
    vehicules = data.read("baac.vehicules", SAMPLE / "vehicules_2013.csv")
    vehicle_keys = set(zip(vehicules["num_acc"], vehicules["num_veh"].astype("str"), strict=True))
    assert set(zip(usagers["num_acc"], usagers["num_veh"].astype("str"), strict=True)) == vehicle_keys
    hit = vehicules[vehicules["obsm"] == "1"]
    pedestrians = usagers[usagers["catu"] == "3"]
    assert set(zip(hit["num_acc"], hit["num_veh"].astype("str"), strict=True)) == set(
        zip(pedestrians["num_acc"], pedestrians["num_veh"].astype("str"), strict=True)
    )
    assert usagers.groupby("num_acc")["grav"].apply(lambda grav: (grav != "1").any()).all()
    kinds = data.datasets().set_index("name")["sample_kind"]
    assert kinds["baac.caracteristiques"] == kinds["baac.lieux"] == kinds["baac.vehicules"] == "real"
    assert kinds["baac.usagers"] == "real 2021; SYNTHETIC 2013"
    listed = CliRunner().invoke(main, ["data", "list"]).output
    assert "SYNTHETIC 2013" in next(line for line in listed.splitlines() if line.startswith("baac.usagers"))
    provenance = (SAMPLES_DIR / "PROVENANCE.md").read_text(encoding="utf-8")
    assert "| baac/usagers_2013_SYNTHETIQUE.csv | **SYNTHETIC** |" in provenance
    assert [path.name for path in SAMPLE.glob("*") if "SYNTH" in path.name.upper()] == [
        "usagers_2013_SYNTHETIQUE.csv"
    ]


def test_the_2021_samples_are_the_real_rows():
    for table, name in _script().EXTRACTS_2021.items():
        assert (SAMPLE / f"{table}-2021.csv").read_bytes() == (REAL / "2021-extraits" / name).read_bytes()
    frame = data.load("baac.caracteristiques", source="sample", year=2021)
    assert "987" in set(frame["dep"].astype("str"))
