"""Kernels' socket and connection files (eigkit.runner.ipc): in a private folder per process, never loose
in TMPDIR, and the folder of a process killed with SIGKILL is swept by the next one (it holds the kernel's
key)."""

from __future__ import annotations

import contextlib
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
    zero = private_tmp / "eig-ipc-0-x"  # pid 0 would signal this process group: not a process of its own
    other = private_tmp / "eig-ipc-results"  # not a kit folder: no owner pid in its name
    for folder in (stale, answering, live, being_made, huge, zero, other):
        folder.mkdir()
        (folder / "kernel.json").write_text("{}")
    for folder in (stale, answering, live, huge, zero, other):
        _aged(folder)
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listening.bind(str(answering / "kernel-1"))
    listening.listen()
    try:
        assert sorted(ipc.sweep_stale(str(private_tmp))) == sorted([str(stale), str(huge), str(zero)])
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


def test_a_lock_file_that_is_a_fifo_keeps_the_folder_without_blocking_the_sweep(private_tmp: Path) -> None:
    folder = private_tmp / f"eig-ipc-{_dead_pid()}-fifo"
    folder.mkdir()
    os.mkfifo(folder / ipc.OWNER_FILE)  # opening it for reading would wait for a writer for ever
    _aged(folder)
    sweep = f"from eigkit.runner import ipc; print(ipc.sweep_stale({str(private_tmp)!r}))"
    swept = subprocess.run([sys.executable, "-c", sweep], capture_output=True, text=True, timeout=60)
    assert swept.returncode == 0 and swept.stdout.strip() == "[]", swept.stderr
    assert folder.is_dir()


def test_a_folder_being_made_is_never_swept(private_tmp: Path) -> None:
    """Its lock is taken under another name, then renamed: a folder never shows an unlocked .owner."""
    folder = private_tmp / f"eig-ipc-{_dead_pid()}-making"
    folder.mkdir()
    (folder / f"{ipc.OWNER_FILE}-making").write_text("")  # between locking and renaming
    assert ipc.sweep_stale(str(private_tmp)) == []
    assert folder.is_dir()


FORK_THEN_EXIT = """
import os, sys
from eigkit.runner import ipc, provisioner
prefix = provisioner.private_ipc_prefix()
folder = os.path.dirname(prefix)
child = os.fork()
if child == 0:  # a library's plain fork, whose child exits normally (atexit handlers run)
    sys.exit(0)
os.waitpid(child, 0)
print(folder, os.path.isdir(folder), flush=True)
"""


def test_a_forked_child_neither_removes_its_parents_folder_nor_keeps_it_alive(private_tmp: Path) -> None:
    env = os.environ | {"TMPDIR": str(private_tmp)}
    ran = subprocess.run([sys.executable, "-c", FORK_THEN_EXIT], capture_output=True, text=True, env=env)
    folder, exists = ran.stdout.split()
    assert ran.returncode == 0 and exists == "True", ran.stderr  # the child's exit left it
    assert not Path(folder).exists()  # the parent's exit removed it

    # The parent killed, its forked child living on: the folder (its kernel keys) is swept all the same.
    parent = subprocess.Popen(
        [sys.executable, "-c", FORK_AND_STAY], stdout=subprocess.PIPE, text=True, env=env
    )
    folder, child = parent.stdout.readline().split()  # type: ignore[union-attr]
    try:
        parent.kill()
        parent.wait()
        assert ipc.sweep_stale(str(private_tmp)) == [folder]
    finally:
        os.kill(int(child), signal.SIGKILL)


FORK_AND_STAY = """
import os, time
from eigkit.runner import provisioner
folder = os.path.dirname(provisioner.private_ipc_prefix())
started, up = os.pipe()
child = os.fork()
if child == 0:  # its at-fork handlers have run by now
    os.write(up, b"1")
    time.sleep(60)
    os._exit(0)
os.read(started, 1)
print(folder, child, flush=True)
time.sleep(60)
"""


def test_a_folder_without_a_lock_whose_socket_backlog_is_full_is_kept(private_tmp: Path) -> None:
    folder = private_tmp / f"eig-ipc-{_dead_pid()}-busy"
    folder.mkdir()
    listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listening.bind(str(folder / "kernel-1"))
    listening.listen(0)
    waiting = []
    try:
        for _ in range(3):  # fill the backlog: the next connection is refused at once (EAGAIN)
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                client.connect(str(folder / "kernel-1"))
            waiting.append(client)
        _aged(folder)
        assert ipc.sweep_stale(str(private_tmp)) == []
    finally:
        for client in waiting:
            client.close()
        listening.close()
    assert folder.is_dir()
