"""Reuse of unchanged runs (issue 11, item 1), with real kernels and the fake data.gouv.fr on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

import eigkit
from data_server import DataGouvServer, serving_datagouv
from eigkit.runner.execute import run
from eigkit.runner.imports import workspace_code
from rerun_workspace import RADARS, RADARS_DATASET, make_rerun_workspace


def executed(result) -> set[str]:
    """The runs of ``result`` that a kernel executed (not reused)."""
    assert result.ok, result.failed
    return {entry["name"] for entry in result.runs if not entry.get("reused_from")}


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    with serving_datagouv(monkeypatch, tmp_path / "cache") as server:
        server.add(RADARS_DATASET, "radars.csv", RADARS.read_bytes())
        yield make_rerun_workspace(tmp_path / "ws"), server


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_reruns_exactly_what_changed(workspace, monkeypatch: pytest.MonkeyPatch):
    root, server = workspace
    everything = {"01-radars", "02-outils", "03-texte"}
    first = run(workspace=root, workers=1, progress=False)
    assert executed(first) == everything
    assert all(entry["fingerprint"]["data"] is not None for entry in first.runs)

    second = run(workspace=root, workers=1, progress=False)
    assert executed(second) == set()
    for entry in second.runs:
        assert entry["reused_from"] == first.run_id and entry["reuse"]["reused"]
        before = (first.run_dir / f"{entry['name']}.ipynb").read_bytes()
        assert (second.run_dir / entry["output"]).read_bytes() == before, "a reused run is not re-executed"
        assert (second.run_dir / entry["report"]).is_file()
        same_file = (second.run_dir / entry["output"]).stat().st_ino == (
            first.run_dir / entry["output"]
        ).stat().st_ino
        assert same_file, "a reused run links its files: a nightly run with nothing new costs no disk"
    assert "reused from run" in (second.run_dir / "logs" / "01-radars.log").read_text()
    manifest = json.loads(second.manifest.read_text())
    assert [entry["reused_from"] for entry in manifest["runs"]] == [first.run_id] * 3
    published = json.loads((root / "reports" / "reports.json").read_text())
    assert {item["run_id"] for item in published.values()} == {first.run_id}, "the published report stays"

    # a table the reused notebook wrote is restored when missing (a fresh CI checkout with runs/ cached)
    table = root / "data" / "processed" / "radars_par_departement.csv"
    content = table.read_bytes()
    table.unlink()
    assert executed(run(workspace=root, workers=1, progress=False)) == set()
    assert table.read_bytes() == content

    # one cell
    path = root / "notebooks" / "03-texte.ipynb"
    document = nbformat.read(path, as_version=4)
    document.cells[1].source = "print(message.lower())"
    nbformat.write(document, path)
    edited = run(workspace=root, workers=1, progress=False)
    assert executed(edited) == {"03-texte"}
    assert "cells changed" in edited.runs[2]["reuse"]["reason"]
    # outputs and metadata only: no rerun
    document = nbformat.read(path, as_version=4)
    document.cells[1].outputs = [nbformat.v4.new_output("stream", text="x\n")]
    document.metadata["widgets"] = {"state": 1}
    nbformat.write(document, path)
    unchanged = run(workspace=root, workers=1, progress=False)
    assert executed(unchanged) == set(), unchanged.runs[2]["reuse"]

    # one parameter
    assert executed(run(workspace=root, workers=1, progress=False, overrides={"n": 3})) == {"02-outils"}
    # ...and the earlier value is still known: reused per parameter set
    assert executed(run(workspace=root, workers=1, progress=False, overrides={"n": 3})) == set()

    # one data file: data.gouv.fr announces a new checksum
    server.add(RADARS_DATASET, "radars.csv", RADARS.read_bytes()[:-200] + b"\n")
    moved = run(workspace=root, workers=1, progress=False, explain=True)
    assert executed(moved) == {"01-radars"}
    assert "data.gouv.fr announces new sha256" in moved.runs[0]["reuse"]["reason"]
    server.add(RADARS_DATASET, "radars.csv", RADARS.read_bytes())

    # a workspace helper module, imported indirectly (outils -> calculs)
    (root / "calculs.py").write_text("FACTEUR = 3\n")
    helper = run(workspace=root, workers=1, progress=False)
    assert executed(helper) == {"02-outils"}
    assert "calculs.py" in helper.runs[1]["reuse"]["reason"]

    # the kit's version
    monkeypatch.setattr(eigkit, "__version__", "999.0")
    assert executed(run(workspace=root, workers=1, progress=False)) == everything
    assert executed(run(workspace=root, workers=1, progress=False)) == set()

    # --force
    forced = run(workspace=root, workers=1, progress=False, force=True)
    assert executed(forced) == everything
    assert {entry["reuse"]["reason"] for entry in forced.runs} == {"--force"}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_new_year_on_data_gouv_reruns_the_notebook_reading_that_dataset(tmp_path, monkeypatch):
    from eigkit.data.registry import entry

    lieux = Path(__file__).parent / "data" / "baac" / "legacy" / "lieux-2018.csv"  # real 2018 rows
    dataset = entry("baac.lieux").datagouv_dataset
    monkeypatch.setenv("EIG_DATA_DIR", str(tmp_path / "cache"))
    with DataGouvServer() as server:
        monkeypatch.setenv("EIG_DATAGOUV_API", server.api)
        server.add(dataset, "lieux-2018.csv", lieux.read_bytes())
        root = make_rerun_workspace(tmp_path / "ws")
        for stem in ("01-radars", "02-outils"):
            (root / "notebooks" / f"{stem}.ipynb").unlink()
        path = root / "notebooks" / "04-lieux.ipynb"
        from rerun_workspace import notebook

        cells = [
            "annee: int = 2018",
            'from eigkit import data\nprint(len(data.load("baac.lieux", year=annee)))',
        ]
        nbformat.write(notebook(cells), path)
        assert executed(run(workspace=root, workers=1, progress=False)) == {"03-texte", "04-lieux"}
        assert executed(run(workspace=root, workers=1, progress=False)) == set()
        server.add(dataset, "lieux-2019.csv", b"a new year")
        again = run(workspace=root, workers=1, progress=False)
        assert executed(again) == {"04-lieux"}
        assert "newer year (2019)" in again.runs[1]["reuse"]["reason"]


def test_workspace_code_follows_imports_inside_the_workspace_only(tmp_path: Path):
    root = tmp_path
    (root / "src" / "paquet").mkdir(parents=True)
    (root / "src" / "paquet" / "__init__.py").write_text("from .indicateurs import taux\n")
    (root / "src" / "paquet" / "indicateurs.py").write_text("import numpy\nfrom . import constantes\n")
    (root / "src" / "paquet" / "constantes.py").write_text("X = 1\n")
    (root / "outil.py").write_text("VALEUR = 1\n")
    (root / "script.py").write_text("import outil\n")
    (root / "inutilise.py").write_text("")
    (root / ".venv" / "lib").mkdir(parents=True)
    (root / ".venv" / "lib" / "pandas.py").write_text("")
    from rerun_workspace import notebook

    path = root / "nb.ipynb"
    cells = ["x = 1", "%matplotlib inline\nimport pandas\nfrom paquet import taux", "%run script.py"]
    nbformat.write(notebook(cells), path)
    found = workspace_code(root, path)
    assert set(found) == {
        "src/paquet/__init__.py",
        "src/paquet/indicateurs.py",
        "src/paquet/constantes.py",
        "script.py",
        "outil.py",
    }
    assert all(len(digest) == 64 for digest in found.values())


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_grid_reuses_per_parameter_set(workspace):
    root, _ = workspace
    first = run(["02-outils"], workspace=root, workers=1, progress=False, grid={"n": [2, 3]})
    assert len(executed(first)) == 2
    wider = run(["02-outils"], workspace=root, workers=1, progress=False, grid={"n": [2, 3, 4]})
    [ran] = executed(wider)
    assert [entry["parameters"] for entry in wider.runs if entry["name"] == ran] == [{"n": 4}]
    outputs = {entry["parameters"]["n"]: entry for entry in wider.runs}
    assert outputs[2]["reused_from"] == outputs[3]["reused_from"] == first.run_id


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_moved_workspace_with_its_cache_inside_is_still_reused(workspace, tmp_path, monkeypatch):
    """A CI checkout may land in another folder from one job to the next (cache of data/raw and runs/)."""
    import shutil

    root, _ = workspace
    monkeypatch.delenv("EIG_DATA_DIR")  # the cache in the workspace: data/raw
    first = run(workspace=root, workers=1, progress=False)
    assert executed(first) == {"01-radars", "02-outils", "03-texte"}
    assert str(root / "data" / "raw") in first.runs[0]["data"][0]["path"]
    moved = tmp_path / "elsewhere" / "ws"
    shutil.move(root, moved)
    again = run(workspace=moved, workers=1, progress=False)
    assert executed(again) == set(), [entry["reuse"] for entry in again.runs]
    cached = moved / "data" / "raw" / "radars" / "all" / "radars.csv"
    cached.write_bytes(b"altered")  # the file at the new place is the one checked (the rerun refuses it)
    altered = run(workspace=moved, workers=1, progress=False)
    assert [entry["reuse"]["reused"] for entry in altered.runs] == [False, True, True]
    assert f"{cached} changed" in altered.runs[0]["reuse"]["reason"]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_notebook_reading_a_table_of_a_rerun_notebook_reruns_too(workspace):
    from rerun_workspace import notebook

    root, _ = workspace
    reader = ["", 'import pandas as pd\nprint(len(pd.read_csv("data/processed/radars_par_departement.csv")))']
    nbformat.write(notebook(reader), root / "notebooks" / "04-lecteur.ipynb")
    assert len(executed(run(workspace=root, workers=1, progress=False))) == 4
    path = root / "notebooks" / "01-radars.ipynb"
    document = nbformat.read(path, as_version=4)
    document.cells[1].source += "\n# une ligne de plus"
    nbformat.write(document, path)
    again = run(workspace=root, workers=1, progress=False)
    assert executed(again) == {"01-radars", "04-lecteur"}
    reason = again.runs[3]["reuse"]["reason"]
    assert "radars_par_departement.csv, which 01-radars (re-executed) writes" in reason
