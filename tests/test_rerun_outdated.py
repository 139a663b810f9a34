"""``eig data outdated`` (issue 11, item 3) against the fake data.gouv.fr on 127.0.0.1, on real files: the
radars sample (ANTAI), BAAC lieux 2018 rows (tests/data/baac/legacy) and the 2021 lieux sample (ONISR)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from data_server import serving_datagouv
from eigkit import data
from eigkit.cli import main
from eigkit.data.registry import SAMPLES_DIR, entry
from rerun_workspace import RADARS, RADARS_DATASET, make_rerun_workspace, notebook

LIEUX_2018 = Path(__file__).parent / "data" / "baac" / "legacy" / "lieux-2018.csv"
LIEUX_2021 = SAMPLES_DIR / "baac" / "lieux-2021.csv"
BAAC = entry("baac.lieux").datagouv_dataset


@pytest.fixture
def locked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A workspace whose data.lock holds radars and baac.lieux 2018, fetched from the fake API."""
    import nbformat

    root = make_rerun_workspace(tmp_path / "ws")
    cells = ["annee: int = 2018", 'from eigkit import data\nlieux = data.load("baac.lieux", year=annee)']
    nbformat.write(notebook(cells), root / "notebooks" / "04-lieux.ipynb")
    monkeypatch.chdir(root)
    monkeypatch.delenv("EIG_WORKSPACE", raising=False)
    with serving_datagouv(monkeypatch, tmp_path / "cache") as server:
        server.add(RADARS_DATASET, "radars.csv", RADARS.read_bytes())
        server.add(BAAC, "lieux-2018.csv", LIEUX_2018.read_bytes())
        data.fetch("radars")
        data.fetch("baac.lieux", year=2018)
        yield root, server


def outdated(*args: str):
    result = CliRunner().invoke(main, ["data", "outdated", *args])
    assert "Traceback" not in result.output
    return result


def test_nothing_moved_exits_0(locked):
    result = outdated()
    assert result.exit_code == 0, result.output
    assert "radars" in result.output and "baac.lieux" in result.output
    report = json.loads(outdated("--json").output)
    assert report["moved"] is False
    assert {f["status"] for f in report["findings"]} == {"unchanged"}
    assert {(f["dataset"], f["year"]) for f in report["findings"]} >= {("radars", None), ("baac.lieux", 2018)}


def test_a_changed_checksum_is_reported_and_refresh_accepts_it(locked):
    root, server = locked
    lock_before = (root / "data.lock").read_text()
    shorter = RADARS.read_bytes()[: RADARS.read_bytes().index(b"\n", 5000) + 1]  # the first rows only
    server.add(RADARS_DATASET, "radars.csv", shorter)
    result = outdated("--json")
    assert result.exit_code == 1
    finding = next(f for f in json.loads(result.output)["findings"] if f["dataset"] == "radars")
    assert finding["status"] == "changed" and finding["moved"]
    assert "new sha256" in finding["detail"] and finding["header"] == "ok"
    assert (root / "data.lock").read_text() == lock_before, "outdated alone never changes data.lock"
    assert server.downloads("radars.csv") == 2, "one download by the fetch, one read of the first bytes"

    refreshed = outdated("--refresh")
    assert refreshed.exit_code == 0, refreshed.output
    assert json.loads((root / "data.lock").read_text())["downloads"]["radars"]["size"] == len(shorter)
    assert outdated().exit_code == 0


def test_a_new_year_is_reported_with_its_header_checked(locked):
    _, server = locked
    server.add(BAAC, "lieux-2021.csv", LIEUX_2021.read_bytes())
    result = outdated("--json")
    assert result.exit_code == 1
    finding = next(f for f in json.loads(result.output)["findings"] if f["status"] == "new year")
    assert (finding["dataset"], finding["year"], finding["header"]) == ("baac.lieux", 2021, "ok")
    assert "2021" in finding["detail"] and "2018" in finding["detail"]
    table = outdated()
    assert table.exit_code == 1 and "new year" in table.output


def test_a_changed_header_is_reported_as_a_format_change(locked):
    _, server = locked
    renamed = RADARS.read_bytes().replace(b"departement,", b"code_departement,", 1)
    server.add(RADARS_DATASET, "radars.csv", renamed)
    result = outdated("--json")
    assert result.exit_code == 1
    finding = next(f for f in json.loads(result.output)["findings"] if f["dataset"] == "radars")
    assert finding["status"] == "format changed"
    assert "departement" in finding["header"] and "radars.csv" in finding["header"]
    refreshed = outdated("--refresh")
    assert refreshed.exit_code == 1, "a file whose format changed is not accepted by --refresh"


def test_an_unreachable_api_is_an_error_not_a_traceback(locked, monkeypatch):
    monkeypatch.setenv("EIG_DATAGOUV_API", "http://127.0.0.1:9/api/1")
    result = outdated()
    assert result.exit_code == 1
    assert "error" in result.output and "Cannot reach" in result.output


def test_years_read_by_recorded_runs_count_and_samples_do_not(locked):
    root, server = locked
    (root / "data.lock").unlink()
    records = [
        {"name": "baac.lieux", "year": 2018, "source": "remote", "sha256": "0" * 64},
        {"name": "baac.lieux", "year": 2021, "source": "sample", "sha256": "1" * 64},
    ]
    (root / "runs" / "r1").mkdir(parents=True)
    (root / "runs" / "r1" / "manifest.json").write_text(json.dumps({"runs": [{"data": records}]}))
    server.add(BAAC, "lieux-2021.csv", LIEUX_2021.read_bytes())
    result = outdated("--json")
    assert result.exit_code == 1
    [finding] = [f for f in json.loads(result.output)["findings"] if f["dataset"] == "baac.lieux"]
    assert finding["status"] == "new year" and finding["year"] == 2021
    assert "latest the workspace uses: 2018" in finding["detail"]


def test_a_workspace_that_fetched_nothing_is_compared_with_the_years_its_parameters_ask(tmp_path):
    from eigkit.data.outdated import years_asked

    assert years_asked(tmp_path) == []
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "default.yaml").write_text(
        "annees: [2019, 2023]\ndepartements: ['2019']\nseuil: 2050\n"
        "02-gravite:\n  annee: 2021\n  year_range: [2015]\n",
        encoding="utf-8",
    )
    assert years_asked(tmp_path) == [2019, 2023, 2021, 2015]  # codes and thresholds are not years
