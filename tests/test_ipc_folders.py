"""Kernels' socket and connection files (eigkit.runner.ipc): in a private folder per process, never loose
in TMPDIR, and the folder of a process killed with SIGKILL is swept by the next one (it holds the kernel's
key)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from eigkit.runner import ipc
from test_run_workspace import make_workspace

PROBE = (
    "import os, time\nfrom ipykernel import get_connection_file\n"
    "open('connection.txt', 'w').write(get_connection_file())\ntime.sleep(120)"
)


@pytest.fixture
def private_tmp(request: pytest.FixtureRequest) -> Path:
    """A short temporary folder of this test's own (socket paths must fit), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="eig-t-"))
    request.addfinalizer(lambda: shutil.rmtree(folder, ignore_errors=True))
    return folder


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ipc sockets and /proc: Linux")
def test_a_worker_killed_mid_run_leaves_its_kernel_key_in_a_folder_the_next_process_sweeps(
    tmp_path: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make_workspace(tmp_path / "ws", {})
    notebook = new_notebook(cells=[new_code_cell(PROBE)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / "notebooks" / "01-dort.ipynb")
    env = os.environ | {"TMPDIR": str(private_tmp), "EIG_WORKSPACE": str(root)}
    eig = [sys.executable, "-c", "from eigkit.cli import main; main()", "run"]
    driver = subprocess.Popen(eig, cwd=root, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (root / "connection.txt").exists() or not (root / "connection.txt").read_text():
        assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()
        time.sleep(0.1)
    connection = Path((root / "connection.txt").read_text())
    folder = connection.parent
    assert folder.parent == private_tmp and folder.name.startswith("eig-ipc-")  # not loose in TMPDIR
    worker = int(folder.name.split("-")[2])  # the folder is named after the worker that made it
    os.kill(worker, signal.SIGKILL)  # as the OOM killer does
    _, stderr = driver.communicate(timeout=120)
    assert driver.returncode == 1 and "WorkerLost" in stderr, stderr
    assert [path.name for path in private_tmp.glob("*.json")] == []
    assert connection.is_file()  # the dead worker could not remove it: the next process does

    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    monkeypatch.setattr(ipc, "_swept", set())
    made = Path(ipc.new_ipc_folder())
    assert not folder.exists()
    assert sorted(path.name for path in private_tmp.glob("eig-ipc-*")) == [made.name]
    made.rmdir()


def test_the_sweep_keeps_the_folders_of_a_live_process_or_whose_socket_answers(private_tmp: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid names the folders of a process that is gone
    stale = private_tmp / f"eig-ipc-{dead.pid}-stale"
    answering = private_tmp / f"eig-ipc-{dead.pid}-shared"
    live = private_tmp / f"eig-ipc-{os.getpid()}-live"
    other = private_tmp / "eig-ipc-results"  # not a kit folder: no owner pid in its name
    for folder in (stale, answering, live, other):
        folder.mkdir()
        (folder / "kernel.json").write_text("{}")
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listening.bind(str(answering / "kernel-1"))
    listening.listen()
    try:
        assert ipc.sweep_stale(str(private_tmp)) == [str(stale)]
    finally:
        listening.close()
    assert sorted(path.name for path in private_tmp.iterdir()) == sorted(
        folder.name for folder in (answering, live, other)
    )
    if os.geteuid() == 0:  # another user's folder is never touched
        theirs = private_tmp / f"eig-ipc-{dead.pid}-theirs"
        theirs.mkdir()
        os.chown(theirs, 65534, 65534)
        assert ipc.sweep_stale(str(private_tmp)) == [str(answering)]  # its socket no longer answers
        assert theirs.is_dir()
