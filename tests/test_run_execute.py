"""A real run: executed notebooks, manifest, reports; a failing notebook keeps the last good report."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import DRIVER_PID, git
from eigkit.runner import manifest
from test_run_workspace import make_workspace

pytestmark = pytest.mark.slow
EIG = [sys.executable, "-c", "from eigkit.cli import main; main()"]


def test_a_run_records_parameters_status_versions_and_data_used(shared_run: tuple[Path, Any]) -> None:
    root, result = shared_run
    assert result.ok and result.exit_code == 0
    record = manifest.read(result.run_dir)
    assert record["status"] == "ok" and record["run_id"] == result.run_id
    assert record["environment"]["packages"]["papermill"]
    assert record["environment"]["python"].count(".") == 2
    # the shared workspace is a git repository whose tracked pyproject.toml was edited after its commit
    assert record["git"] == {"commit": git(root, "rev-parse", "HEAD").strip(), "dirty": True}
    driver = int((root / DRIVER_PID).read_text())  # the test process that ran it (maybe another xdist worker)
    assert record["driver"]["pid"] == driver  # who drives it: a later run can tell it died
    (entry,) = record["runs"]
    assert entry["notebook"] == "notebooks/01-demo.ipynb"
    assert entry["parameters"] == {"departement": "01", "annee": 2023}
    assert entry["status"] == "ok" and entry["error"] is None and entry["duration_s"] > 0
    assert entry["data"] == [
        {
            "name": "demo",
            "year": 2023,
            "source": "sample",
            "path": "samples/demo.csv",
            "sha256": "0" * 64,
            "url": None,
        }
    ]
    executed = json.loads((result.run_dir / "01-demo.ipynb").read_text())
    streams = [
        "".join(out["text"]) for cell in executed["cells"] for out in cell.get("outputs", []) if "text" in out
    ]
    printed = json.loads(next(text for text in streams if '"cwd"' in text))
    assert printed["departement"] == "01" and printed["annee"] == 2023  # the code stays text
    assert printed["cwd"] == str(root)  # kernels run at the workspace root
    assert not list(result.run_dir.rglob("*.tmp")) and not list((result.run_dir / ".work").glob("*.ipynb"))


def test_git_state_is_none_outside_a_repository_and_clean_right_after_a_commit(tmp_path: Path) -> None:
    assert manifest.git_state(tmp_path) is None
    git(tmp_path, "init", "-q")
    (tmp_path / "notes.txt").write_text("à garder\n", encoding="utf-8")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "notes")
    head = git(tmp_path, "rev-parse", "HEAD").strip()
    assert manifest.git_state(tmp_path) == {"commit": head, "dirty": False}
    (tmp_path / "untracked.txt").write_text("ignoré\n", encoding="utf-8")
    assert manifest.git_state(tmp_path)["dirty"] is False  # only tracked files make the tree dirty


def test_reports_are_self_contained_with_the_figure_and_no_code(shared_run: tuple[Path, Any]) -> None:
    root, result = shared_run
    page = (root / "reports" / "01-demo.html").read_text(encoding="utf-8")
    assert "data:image/svg+xml;base64," in page  # the figure, embedded
    assert "from eigkit.notebook import setup" not in page  # code hidden by default
    assert not re.findall(r"""(?:src|href)=["']https?://""", page)  # nothing fetched from the network
    index = (root / "reports" / "index.html").read_text(encoding="utf-8")
    assert result.run_id in index and 'href="01-demo.html"' in index
    registry = json.loads((root / "reports" / "reports.json").read_text())
    assert registry["01-demo"]["run_id"] == result.run_id


def _eig(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"EIG_WORKSPACE": str(root)}
    return subprocess.run([*EIG, *args], cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_a_failing_notebook_exits_1_prints_the_cell_and_keeps_the_last_good_report(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, {"01-fails": "fails"})
    good = _eig(root, "run", "-p", "fail=false", "--with-code")
    assert good.returncode == 0, good.stderr
    good_page = (root / "reports" / "01-fails.html").read_bytes()
    assert "raise ValueError" in re.sub(r"<[^>]+>", "", good_page.decode())  # --with-code keeps the code

    bad = _eig(root, "run", "-p", "fail=true")
    assert bad.returncode == 1
    assert "ValueError" in bad.stderr and "échec voulu" in bad.stderr and "cell 2" in bad.stderr
    assert 'raise ValueError("échec voulu")' in bad.stderr  # the failing cell's source
    run_dir = manifest.latest_run(root / "runs")
    record = manifest.read(run_dir)
    (entry,) = record["runs"]
    assert record["status"] == "failed" and entry["status"] == "failed"
    assert entry["error"]["ename"] == "ValueError"
    assert entry["error"]["cell_index"] == 2  # source numbering: injected cell not counted
    kept = json.loads((run_dir / "01-fails.ipynb").read_text())
    assert any(
        output.get("ename") == "ValueError" for cell in kept["cells"] for output in cell.get("outputs", [])
    )
    assert (root / "reports" / "01-fails.html").read_bytes() == good_page  # the last good report stays
    index = (root / "reports" / "index.html").read_text(encoding="utf-8")
    assert "dernier rapport valide" in index and run_dir.name in index
