"""``eig diff`` (issue 11, item 2): two runs whose data differ by known rows (the real radars file, ANTAI,
minus the 9 cameras of Lozère and 5 of the Bouches-du-Rhône), served by the fake data.gouv.fr."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from data_server import DataGouvServer
from eigkit import data
from eigkit.cli import main
from eigkit.runner.diff import TITLE, compare, pick_runs
from eigkit.runner.execute import run
from rerun_workspace import RADARS, RADARS_DATASET, make_rerun_workspace


def without_rows(body: bytes) -> tuple[bytes, int]:
    """The radars file without département 48 and the first 5 cameras of 13; and how many rows are left."""
    reader = csv.DictReader(io.StringIO(body.decode("utf-8")))
    kept, dropped_13 = [], 0
    for row in reader:
        if row["departement"] == "48":
            continue
        if row["departement"] == "13" and dropped_13 < 5:
            dropped_13 += 1
            continue
        kept.append(row)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=reader.fieldnames, lineterminator="\n")
    writer.writeheader()
    writer.writerows(kept)
    return out.getvalue().encode("utf-8"), len(kept)


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("diff")
    patch = pytest.MonkeyPatch()
    root = make_rerun_workspace(tmp / "ws")
    patch.chdir(root)
    patch.delenv("EIG_WORKSPACE", raising=False)
    patch.delenv("EIG_DATA_LOCK", raising=False)
    patch.setenv("EIG_DATA_DIR", str(tmp / "cache"))
    try:
        with DataGouvServer() as server:
            patch.setenv("EIG_DATAGOUV_API", server.api)
            server.add(RADARS_DATASET, "radars.csv", RADARS.read_bytes())
            first = run(workspace=root, workers=1, progress=False)
            body, remaining = without_rows(RADARS.read_bytes())
            server.add(RADARS_DATASET, "radars.csv", body)
            data.fetch("radars", refresh=True)
            second = run(workspace=root, workers=1, progress=False, overrides={"message": "au revoir"})
            assert first.ok and second.ok
            yield root, first, second, remaining
    finally:
        patch.undo()


@pytest.mark.slow
def test_diff_reports_the_rows_that_changed(two_runs):
    root, first, second, remaining = two_runs
    assert pick_runs(root) == (first.run_dir, second.run_dir)
    changes = compare(first.run_dir, second.run_dir)
    assert ["03-texte", "message", "(valeur du notebook)", "'au revoir'"] in changes.parameters
    [radars] = changes.data
    assert radars[0] == "radars" and radars[4:] == ["3350", str(remaining)] and remaining == 3350 - 14
    [table] = changes.tables
    rows = csv.DictReader(io.StringIO(RADARS.read_text()))
    departements = len({row["departement"].split()[0] for row in rows})  # one row is "50 – Manche"
    assert table[:3] == ["01-radars", "radars_par_departement.csv", f"{departements} → {departements - 1}"]
    added, removed, changed, largest = table[3:]
    assert added == "0" and removed == "1 (48)" and changed == "1 (13)"
    assert largest == "radars -5 (13)"
    texts = {row[0]: row[2] for row in changes.texts}
    assert texts["01-radars"] == f"-3350 radars ⏎ +{remaining} radars"
    assert texts["03-texte"] == "-BONJOUR ⏎ +AU REVOIR"
    assert "02-outils" not in texts, "a reused run has the same outputs"


@pytest.mark.slow
def test_diff_cli_prints_a_table_and_writes_markdown(two_runs, tmp_path: Path):
    _, first, second, _ = two_runs
    summary = tmp_path / "summary.md"
    result = CliRunner().invoke(main, ["diff", "--markdown", str(summary)])
    assert result.exit_code == 0, result.output
    assert f"{first.run_id} → {second.run_id}" in result.output
    assert "radars_par_departement.csv" in result.output and "1 (48)" in result.output
    markdown = summary.read_text(encoding="utf-8")
    assert markdown.startswith(f"## {TITLE}")
    assert "| 01-radars | radars_par_departement.csv |" in markdown and "### Données lues" in markdown
    same = CliRunner().invoke(main, ["diff", second.run_id, second.run_id[:15]])
    assert same.exit_code == 0 and "rien n'a changé" in same.output
    unknown = CliRunner().invoke(main, ["diff", "nope"])
    assert unknown.exit_code == 1 and "no run" in unknown.output and "Traceback" not in unknown.output


@pytest.mark.slow
def test_reports_index_carries_the_change_section(two_runs):
    root, *_ = two_runs
    index = (root / "reports" / "index.html").read_text(encoding="utf-8")
    assert TITLE in index and "radars_par_departement.csv" in index and "1 (48)" in index
    assert index.index(TITLE) < index.index("</body>")


def test_diff_with_a_single_run_says_there_is_nothing_to_compare(tmp_path, monkeypatch):
    root = make_rerun_workspace(tmp_path / "ws")
    monkeypatch.chdir(root)
    monkeypatch.delenv("EIG_WORKSPACE", raising=False)
    summary = tmp_path / "summary.md"
    result = CliRunner().invoke(main, ["diff", "--markdown", str(summary)])
    assert result.exit_code == 0 and "nothing to compare" in result.output
    assert "rien à comparer" in summary.read_text(encoding="utf-8")


def test_table_changes_find_a_two_column_key_and_the_largest_change():
    import pandas as pd

    from eigkit.runner.diff import table_changes

    before = pd.DataFrame(
        {
            "dep": ["01", "01", "2A", "59"],
            "an": ["2021", "2022", "2022", "2022"],
            "accidents": ["10", "12", "3", "40"],
            "taux": ["0.5", "0.6", "0.1", "0.9"],
        }
    )
    after = pd.DataFrame(
        {
            "dep": ["01", "01", "59", "971"],
            "an": ["2021", "2022", "2022", "2022"],
            "accidents": ["10", "15", "38", "7"],
            "taux": ["0.5", "0.6", "0.95", "0.2"],
        }
    )
    counts, added, removed, changed, largest = table_changes(before, after)
    assert (counts, added, removed, changed) == (
        "4 → 4",
        "1 (971/2022)",
        "1 (2A/2022)",
        "2 (01/2022, 59/2022)",
    )
    assert largest == "accidents +3 (01/2022); taux +0.05 (59/2022)"
    unkeyed = table_changes(before[["taux"]], after[["taux"]])
    assert unkeyed[:3] == ["4 → 4", "2", "2"]
