"""Load: a grid of 100 runs, 10 of which fail, through ``eig run`` on the local pool."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from eigkit.runner import manifest
from processes import left_alive, run_watching
from test_run_workspace import make_workspace

pytestmark = pytest.mark.slow
EIG = [sys.executable, "-c", "from eigkit.cli import main; main()"]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the processes")
def test_a_grid_of_100_runs_with_10_failures_records_them_publishes_90_and_leaves_no_process(
    tmp_path: Path,
) -> None:
    root = make_workspace(tmp_path, {"01-grid": "one_in_ten_fails"})
    (root / "params" / "grid.yaml").write_text(f"n: {list(range(100))}\n")
    env = os.environ | {"EIG_WORKSPACE": str(root)}
    command = [*EIG, "run", "--grid", "params/grid.yaml", "--workers", "2"]
    log = tmp_path / "stderr.txt"
    returncode, seen = run_watching(command, root, env, log, timeout=600)
    stderr = log.read_text(encoding="utf-8")
    assert returncode == 1, stderr[-2000:]

    record = manifest.read(manifest.latest_run(root / "runs"))
    assert record["status"] == "failed" and len(record["runs"]) == 100
    failed = [entry for entry in record["runs"] if entry["status"] != "ok"]
    assert sorted(entry["parameters"]["n"] for entry in failed) == list(range(7, 100, 10))
    for entry in failed:
        assert entry["status"] == "failed" and entry["error"]["ename"] == "ValueError"
        assert (
            entry["error"]["cell_index"] == 1
            and f"run {entry['parameters']['n']}" in entry["error"]["evalue"]
        )
        assert entry["name"] in stderr  # the summary names every failure
    registry = json.loads((root / "reports" / "reports.json").read_text())
    assert len(registry) == 90 and len(list((root / "reports").glob("01-grid*.html"))) == 90
    assert not set(registry) & {entry["name"] for entry in failed}

    assert seen and not left_alive(seen), "a worker or kernel outlived the run"
