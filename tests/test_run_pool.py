"""Grids on the local process pool; Ctrl-C and SIGTERM stop cleanly (no orphan kernel, run recorded)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eigkit.runner import manifest
from processes import AS_FROM_A_TERMINAL, signal_masks
from processes import alive as _alive
from processes import descendants as _descendants
from test_run_workspace import make_workspace

pytestmark = pytest.mark.slow
EIG = [sys.executable, "-X", "faulthandler", "-c", AS_FROM_A_TERMINAL + "from eigkit.cli import main; main()"]


def _printed(notebook: Path) -> dict[str, object]:
    cells = json.loads(notebook.read_text())["cells"]
    texts = ["".join(out["text"]) for cell in cells for out in cell.get("outputs", []) if "text" in out]
    return json.loads(next(text for text in texts if '"cwd"' in text))


def _stderr_or_stacks(process: subprocess.Popen[str], below: set[int], timeout: float = 90) -> str:
    """What the stopped driver wrote; if it has not ended within ``timeout``, fail with the Python stacks
    of its threads (faulthandler, on SIGABRT) and the processes still alive below it."""
    try:
        return process.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        alive = [pid for pid in sorted(below) if _alive(pid)]
        masks = signal_masks(process.pid)
        process.send_signal(signal.SIGABRT)  # -X faulthandler: every thread's stack on stderr
        _, stderr = process.communicate(timeout=30)
        pytest.fail(
            f"the driver did not stop within {timeout} s; alive below it: {alive}\n"
            f"its signal masks (SIGINT 0x2, SIGTERM 0x4000):\n{masks}\n{stderr}"
        )


def test_a_grid_runs_every_combination_on_two_workers_with_progress_and_summary(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, {"01-demo": "params_demo"})
    (root / "params" / "grid.yaml").write_text("departement: ['01', 2A]\nannee: [2022, 2023]\n")
    env = os.environ | {"EIG_WORKSPACE": str(root)}
    done = subprocess.run(
        [*EIG, "run", "--grid", "params/grid.yaml", "--workers", "2"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "ok=4" in done.stderr and "remaining=0" in done.stderr  # the progress bar's last state
    run_dir = manifest.latest_run(root / "runs")
    record = manifest.read(run_dir)
    names = [entry["name"] for entry in record["runs"]]
    assert len(set(names)) == 4 and all(entry["status"] == "ok" for entry in record["runs"])
    for entry in record["runs"]:
        assert entry["name"] in done.stderr  # one summary row per run
        printed = _printed(run_dir / entry["output"])
        assert {k: printed[k] for k in ("departement", "annee")} == entry["parameters"]
        assert (root / "reports" / f"{entry['name']}.html").is_file()
    assert sorted((p["departement"], p["annee"]) for p in (e["parameters"] for e in record["runs"])) == [
        ("01", 2022), ("01", 2023), ("2A", 2022), ("2A", 2023),
    ]  # fmt: skip


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the kernel processes")
@pytest.mark.parametrize("how", ["sigterm", "ctrl-c"])
def test_an_interrupted_run_stops_its_kernel_and_records_it(tmp_path: Path, how: str) -> None:
    root = make_workspace(tmp_path, {"01-sleeps": "sleeps"})
    env = os.environ | {"EIG_WORKSPACE": str(root)}
    process = subprocess.Popen(
        [*EIG, "run"], cwd=root, env=env, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    pid_file = root / "kernel.pid"
    deadline = time.monotonic() + 120
    while not pid_file.exists() or not pid_file.read_text():
        assert process.poll() is None and time.monotonic() < deadline, "the notebook never started"
        time.sleep(0.2)
    kernel = int(pid_file.read_text())
    below = _descendants(process.pid)
    assert kernel in below and _alive(kernel)
    if how == "sigterm":
        process.send_signal(signal.SIGTERM)
    else:  # a terminal's Ctrl-C reaches the whole foreground process group
        os.killpg(process.pid, signal.SIGINT)
    stderr = _stderr_or_stacks(process, below)
    assert process.returncode == 128 + (signal.SIGTERM if how == "sigterm" else signal.SIGINT), stderr
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in below) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in below if _alive(pid)], "processes left behind"
    run_dir = manifest.latest_run(root / "runs")
    record = manifest.read(run_dir)
    (entry,) = record["runs"]
    assert record["status"] == "interrupted" and entry["status"] == "interrupted"
    assert entry["error"]["cell_index"] == 1 and "time.sleep" in entry["error"]["source"]
    kept = json.loads((run_dir / entry["output"]).read_text())  # the notebook executed so far, complete
    (sleeping,) = [cell for cell in kept["cells"] if "time.sleep" in "".join(cell["source"])]
    assert sleeping["metadata"]["papermill"]["start_time"]  # it was running when the run was stopped
    assert not list(run_dir.rglob("*.tmp")) and not (root / "reports" / "01-sleeps.html").exists()


def test_a_variable_set_between_two_runs_reaches_the_notebooks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool's workers fork from a long-lived server: they must still see the caller's environment now."""
    import nbformat

    from eigkit.runner.execute import run

    root = make_workspace(tmp_path, {})
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell('import os\nprint("mark=" + os.environ.get("EIG_TEST_MARK", "-"))')]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / "notebooks" / "01-env.ipynb")

    def printed_mark() -> str:  # force: nothing the kit fingerprints changed, only the environment
        result = run(workspace=root, workers=1, progress=False, force=True)
        assert result.ok, result.runs
        cells = nbformat.read(result.run_dir / "01-env.ipynb", as_version=4).cells
        return "".join(output.get("text", "") for output in cells[0].outputs).strip()

    monkeypatch.setenv("EIG_TEST_MARK", "first")
    assert printed_mark() == "mark=first"
    monkeypatch.setenv("EIG_TEST_MARK", "second")
    assert printed_mark() == "mark=second"
