"""Runs under faults: a cell timeout, a dead or missing kernel, read-only folders, a full disk, a report that
cannot be rendered, a driver killed with SIGKILL, a run left "running". Nothing is lost, nothing is left.

Read-only folders and the full disk are real when the tests run as root and may mount: a read-only bind
mount and a 256 KiB tmpfs (root ignores mode bits, so ``chmod`` would prove nothing). Elsewhere the same
tests patch the write that fails (``tempfile.TemporaryFile`` in the folder, ``os.replace`` of the manifest).
"""

from __future__ import annotations

import contextlib
import errno
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eigkit.runner import manifest
from eigkit.runner.execute import RunnerError, run
from processes import alive, descendants, left_alive, run_watching
from test_run_workspace import make_workspace

pytestmark = pytest.mark.slow
EIG = [sys.executable, "-c", "from eigkit.cli import main; main()"]


def _mount(*args: str) -> bool:
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@contextlib.contextmanager
def read_only(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Make ``folder`` refuse writes: a read-only bind mount when possible, else a patched write."""
    folder.mkdir(parents=True, exist_ok=True)
    if _mount("--bind", str(folder), str(folder)):
        try:
            if _mount("-o", "remount,ro,bind", str(folder)):
                yield "mount"
                return
        finally:
            subprocess.run(["umount", str(folder)], check=True)
    real = tempfile.TemporaryFile

    def refuse(*args, dir=None, **kwargs):  # tempfile's own keyword
        if dir is not None and Path(dir) == folder:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(folder))
        return real(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    yield "patched"


def _entry(result) -> dict:
    (entry,) = manifest.read(result.run_dir)["runs"]
    return entry


def test_a_cell_timeout_keeps_the_notebook_so_far_with_the_cell_numbered_as_in_the_source(
    tmp_path: Path,
) -> None:
    root = make_workspace(tmp_path, {"01-sleeps": "sleeps"})
    result = run(workspace=root, overrides={"seconds": 60.0}, timeout=2, workers=1, progress=False)
    assert result.status == "failed" and result.exit_code == 1
    entry = _entry(result)
    assert entry["status"] == "failed" and "timed out" in entry["error"]["evalue"]
    assert entry["error"]["cell_index"] == 1  # the sleeping cell; the injected parameters cell not counted
    assert "time.sleep(seconds)" in entry["error"]["source"]
    kept = json.loads((result.run_dir / entry["output"]).read_text())
    assert "seconds = 60.0" in "".join(kept["cells"][1]["source"])  # the injected cell, as executed
    assert not (result.run_dir / ".work").exists() and not list(result.run_dir.rglob("*.tmp"))


def test_a_dead_kernel_keeps_what_ran_before(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, {"01-dies": "dies"})
    result = run(workspace=root, overrides={"message": "avant la mort"}, workers=1, progress=False)
    entry = _entry(result)
    assert result.exit_code == 1 and entry["status"] == "failed"
    assert entry["error"]["ename"] == "DeadKernelError" and entry["error"]["cell_index"] == 2
    kept = json.loads((result.run_dir / entry["output"]).read_text())
    printed = ["".join(out.get("text", "")) for cell in kept["cells"] for out in cell.get("outputs", [])]
    assert "avant la mort\n" in printed  # the output of the cell before the kernel died


def test_a_missing_kernel_is_named_with_the_installed_ones_and_the_notebook_kept(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, {"01-missing": "missing_kernel"})
    result = run(workspace=root, workers=1, progress=False)
    entry = _entry(result)
    assert result.exit_code == 1 and entry["error"]["ename"] == "NoSuchKernel"
    assert "eig-no-such-kernel" in entry["error"]["evalue"] and "python3" in entry["error"]["evalue"]
    assert entry["error"]["cell_index"] is None  # no cell ran: the kernel never started
    assert (result.run_dir / entry["output"]).is_file()


@pytest.mark.parametrize("folder", ["runs", "reports"])
def test_a_read_only_folder_stops_the_run_before_any_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str
) -> None:
    root = make_workspace(tmp_path, {"01-sleeps": "sleeps"})
    with read_only(root / folder, monkeypatch), pytest.raises(RunnerError) as refused:
        run(workspace=root, overrides={"seconds": 0.0}, workers=1, progress=False)
    assert str(root / folder) in str(refused.value) and "nothing was run" in str(refused.value)
    assert refused.value.exit_code == 1
    assert not (root / "kernel.pid").exists()  # no notebook started
    assert not list((root / "runs").glob("*/manifest.json"))


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the processes")
def test_a_full_disk_fails_the_run_cleanly_without_a_truncated_notebook(tmp_path: Path) -> None:
    """A 256 KiB tmpfs as runs/: the notebook prints about 1 MB, so its executed copy cannot be written."""
    root = make_workspace(tmp_path, {"01-big": "big_output"})
    runs = root / "runs"
    runs.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=256k", "tmpfs", str(runs)):
        pytest.skip("needs root and mount for a real full disk (the patched write is tested below)")
    try:
        env = os.environ | {"EIG_WORKSPACE": str(root)}
        log = tmp_path / "stderr.txt"
        returncode, seen = run_watching([*EIG, "run", "--workers", "1"], root, env, log, timeout=180)
        stderr = log.read_text(encoding="utf-8")
        assert returncode == 1, stderr
        assert "No space left on device" in stderr and "Traceback" not in stderr
        for notebook in runs.rglob("*.ipynb"):
            json.loads(notebook.read_text())  # whatever is at a final path is complete
        assert not list(runs.rglob("*.tmp"))
        assert seen and not left_alive(seen), "processes left behind"
    finally:
        subprocess.run(["umount", str(runs)], check=True)


def test_an_unexpected_error_closes_the_pool_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifest cannot be rewritten after the first run (a patched write: disk full)."""
    root = make_workspace(tmp_path, {"01-demo": "fails"})
    real_write = manifest.write
    calls = []

    def write(run_dir: Path, record: dict) -> Path:
        calls.append(record["status"])
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(run_dir / "manifest.json"))
        return real_write(run_dir, record)

    monkeypatch.setattr(manifest, "write", write)
    with pytest.raises(RunnerError, match=r"stopped: OSError: .*No space left on device") as stopped:
        run(workspace=root, grid={"fail": [False, True]}, workers=2, progress=False)
    assert str(root / "runs") in str(stopped.value)
    assert multiprocessing.active_children() == []  # every worker stopped


def test_a_report_that_cannot_be_rendered_fails_that_run_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eigkit.runner import report

    root = make_workspace(tmp_path, {"01-demo": "params_demo"})
    real = report.render_html

    def render(notebook: Path, **options: Any) -> str:
        if "detail=True" in notebook.name:
            raise ValueError("gabarit cassé")
        return real(notebook, **options)

    monkeypatch.setattr(report, "render_html", render)
    result = run(workspace=root, grid={"detail": [False, True]}, workers=2, progress=False)
    by_value = {entry["parameters"]["detail"]: entry for entry in manifest.read(result.run_dir)["runs"]}
    assert (
        by_value[False]["status"] == "ok" and (root / "reports" / f"{by_value[False]['name']}.html").is_file()
    )
    broken = by_value[True]
    assert broken["status"] == "failed" and broken["error"]["ename"] == "ReportError"
    assert "gabarit cassé" in broken["error"]["evalue"] and broken["output"]  # the notebook itself is kept
    assert result.status == "failed" and result.exit_code == 1


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_later_run_marks_a_run_whose_driver_died_as_abandoned(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, {"01-demo": "fails"})
    me = manifest.driver()
    drivers = {
        "dead": me | {"pid": _dead_pid(), "start_time": None},
        "reused": me | {"start_time": me["start_time"] - 1},  # a live pid, but not the process that ran
        "live": me,  # this very process: still running
        "elsewhere": {"host": "another-machine", "pid": _dead_pid(), "start_time": None},  # cannot tell
    }
    for label, driver in drivers.items():
        runs = [{"name": "01-demo", "status": "ok"}, {"name": "01-demo--2", "status": "pending"}]
        record = {"run_id": f"20200101-000000-{label}", "status": "running", "driver": driver, "runs": runs}
        manifest.write(root / "runs" / record["run_id"], record)
    run(workspace=root, overrides={"fail": False}, workers=1, progress=False)
    status = {label: manifest.read(root / "runs" / f"20200101-000000-{label}") for label in drivers}
    assert {label: record["status"] for label, record in status.items()} == {
        "dead": "abandoned",
        "reused": "abandoned",
        "live": "running",
        "elsewhere": "running",
    }
    assert status["dead"]["abandoned_at"]
    assert [entry["status"] for entry in status["dead"]["runs"]] == ["ok", "abandoned"]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the processes")
@pytest.mark.parametrize("start", ["fork", "normal"])
def test_sigkill_of_the_driver_leaves_no_worker_and_no_kernel(
    tmp_path: Path, start: str, request: pytest.FixtureRequest
) -> None:
    """Kernels forked from the warm server, or started the normal way (EIG_FAST_KERNEL=0)."""
    root = make_workspace(tmp_path, {"01-sleeps": "sleeps"})
    (root / "params" / "grid.yaml").write_text("seconds: [100.0, 101.0, 102.0, 103.0]\n")
    # The driver's own temporary folder, beside this process's: short, as unix socket paths must be
    system_tmp = Path(tempfile.mkdtemp(prefix="eig-kill-"))
    request.addfinalizer(lambda: shutil.rmtree(system_tmp, ignore_errors=True))
    env = os.environ | {"EIG_WORKSPACE": str(root), "EIG_FAST_KERNEL": "1" if start == "fork" else "0"}
    env["TMPDIR"] = str(system_tmp)
    command = [*EIG, "run", "--grid", "params/grid.yaml", "--workers", "2"]
    driver = subprocess.Popen(command, cwd=root, env=env, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while not (root / "kernel.pid").exists() or not (root / "kernel.pid").read_text():
        assert driver.poll() is None and time.monotonic() < deadline, "no notebook started"
        time.sleep(0.2)
    time.sleep(1)  # the second worker's kernel too
    below = descendants(driver.pid)
    kernel = int((root / "kernel.pid").read_text())
    assert kernel in below and len(below) >= 4  # workers, kernels (and multiprocessing's helpers)
    driver.kill()
    driver.wait()
    deadline = time.monotonic() + 15
    while [pid for pid in below if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.2)
    left = {pid: Path(f"/proc/{pid}/cmdline").read_bytes()[:80] for pid in below if alive(pid)}
    assert not left, f"processes left behind: {left}"
    # Only what no SIGKILLed process can remove: the folder of multiprocessing's fork server socket (the
    # kernels' socket folders are removed by the workers as they stop)
    in_tmp = sorted(path.relative_to(system_tmp).as_posix() for path in system_tmp.rglob("*"))
    assert [re.sub(r"-[^-/]+", "-*", name) for name in in_tmp] == ["pymp-*", "pymp-*/listener-*"], in_tmp
    (run_dir,) = [path.parent for path in (root / "runs").glob("*/manifest.json")]
    assert manifest.read(run_dir)["status"] == "running"  # nobody could record the end...
    assert manifest.abandon_stale(root / "runs") == [run_dir]  # ...so the next run marks it abandoned
    assert manifest.read(run_dir)["status"] == "abandoned"
