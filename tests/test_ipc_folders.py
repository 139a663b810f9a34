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
    ipc.remove_ipc_folder(str(made))


def _aged(folder: Path) -> Path:
    """``folder`` dated two minutes ago: past the grace a folder without its lock file gets."""
    past = time.time() - 2 * ipc.UNLOCKED_GRACE_SECONDS
    os.utime(folder, (past, past))
    return folder


def _dead_pid() -> int:
    dead = subprocess.Popen(["true"])
    dead.wait()
    return dead.pid


def test_a_folder_goes_when_its_owner_lock_is_free_whatever_its_pid_says(
    private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    monkeypatch.setattr(ipc, "_swept", {str(private_tmp)})
    dead = _dead_pid()
    # A live process of another PID namespace (a container sharing /tmp): its pid means nothing here, and it
    # has made no socket yet (TCP kernels, or between making the folder and binding). Its lock says it lives.
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_OWNER_LOCK, str(private_tmp), str(dead)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        theirs = Path(holder.stdout.readline().strip())  # type: ignore[union-attr]
        ours = Path(ipc.new_ipc_folder())  # this process's own, live: never swept, by itself neither
        (theirs / "kernel.json").write_text("{}")
        assert ipc.sweep_stale(str(private_tmp)) == []
        assert theirs.is_dir() and ours.is_dir()
        holder.kill()  # as the OOM killer does: the kernel releases the lock
        holder.wait()
        assert ipc.sweep_stale(str(private_tmp)) == [str(theirs)]
        assert not theirs.exists() and ours.is_dir()
        ipc.remove_ipc_folder(str(ours))
        assert not ours.exists() and str(ours) not in ipc._locks
    finally:
        holder.kill()
        holder.wait()


HOLD_OWNER_LOCK = """
import fcntl, os, sys, tempfile, time
folder = tempfile.mkdtemp(prefix=f"eig-ipc-{sys.argv[2]}-", dir=sys.argv[1])
descriptor = os.open(os.path.join(folder, ".owner"), os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(descriptor, fcntl.LOCK_EX)
print(folder, flush=True)
time.sleep(120)
"""


def test_a_folder_without_a_lock_goes_only_when_old_its_process_gone_and_its_sockets_silent(
    private_tmp: Path,
) -> None:
    dead = _dead_pid()
    stale = private_tmp / f"eig-ipc-{dead}-stale"  # as an earlier kit left them
    answering = private_tmp / f"eig-ipc-{dead}-shared"
    live = private_tmp / f"eig-ipc-{os.getpid()}-live"
    being_made = private_tmp / f"eig-ipc-{dead}-new"  # made a moment ago, its lock not taken yet
    huge = private_tmp / "eig-ipc-99999999999999999999999-x"  # no process can have that number
    other = private_tmp / "eig-ipc-results"  # not a kit folder: no owner pid in its name
    for folder in (stale, answering, live, being_made, huge, other):
        folder.mkdir()
        (folder / "kernel.json").write_text("{}")
    for folder in (stale, answering, live, huge, other):
        _aged(folder)
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listening.bind(str(answering / "kernel-1"))
    listening.listen()
    try:
        assert sorted(ipc.sweep_stale(str(private_tmp))) == sorted([str(stale), str(huge)])
    finally:
        listening.close()
    assert sorted(path.name for path in private_tmp.iterdir()) == sorted(
        folder.name for folder in (answering, live, being_made, other)
    )
    if os.geteuid() == 0:  # another user's folder is never touched
        theirs = private_tmp / f"eig-ipc-{dead}-theirs"
        theirs.mkdir()
        os.chown(_aged(theirs), 65534, 65534)
        _aged(answering)
        assert ipc.sweep_stale(str(private_tmp)) == [str(answering)]  # its socket no longer answers
        assert theirs.is_dir()


def test_a_lock_file_that_is_a_symbolic_link_keeps_the_folder(private_tmp: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("")
    folder = private_tmp / f"eig-ipc-{_dead_pid()}-odd"
    folder.mkdir()
    (folder / ipc.OWNER_FILE).symlink_to(target)
    _aged(folder)
    assert ipc.sweep_stale(str(private_tmp)) == []
    assert folder.is_dir() and target.is_file()
