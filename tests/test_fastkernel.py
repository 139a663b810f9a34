"""The fast kernel start (kernels forked from a warm server) against the normal start, with real kernels."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import nbformat
import papermill
import psutil
import pytest
from papermill.exceptions import PapermillExecutionError
from traitlets.config import Config

from eigkit.runner import fastkernel
from eigkit.runner.forkserver import ForkServer
from eigkit.runner.provisioner import READY_WAIT_SECONDS, FastKernelClient, FastKernelManager

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not fastkernel.available(), reason="needs fork (POSIX) and EIG_FAST_KERNEL != 0"),
]

WORK_CELLS = [
    """\
import numpy as np
import pandas as pd
import matplotlib
import matplotlib.pyplot as plt
from matplotlib_inline.backend_inline import set_matplotlib_formats

matplotlib.rcParams["svg.hashsalt"] = "eig"
set_matplotlib_formats("svg", metadata={"Date": None})
rng = np.random.default_rng(seed)
frame = pd.DataFrame({"x": range(points), "y": rng.normal(size=points).round(3), "label": label})""",
    "frame.describe()",
    "frame.head(3)",
    """\
fig, ax = plt.subplots(figsize=(3, 2))
_ = ax.plot(frame.x, frame.y)
print(matplotlib.get_backend(), len(frame))""",
]
VOLATILE_OUTPUT_KEYS = {"execution_count", "transient"}
PROBE_CELL = """\
import json, os, sys
import pandas as pd
report = {
    "pid": os.getpid(), "ppid": os.getppid(), "cwd": os.getcwd(),
    "workspace": os.environ.get("EIG_WORKSPACE"), "usage": os.environ.get("EIG_DATA_USAGE"),
    "leftover": getattr(sys, "_eig_marker", None), "max_rows": pd.get_option("display.max_rows"),
}
sys._eig_marker = marker
pd.set_option("display.max_rows", 3)
print(json.dumps(report))"""


def write_notebook(path: Path, parameters: str, cells: list[str]) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    parameter_cell = nbformat.v4.new_code_cell(parameters)
    parameter_cell.metadata["tags"] = ["parameters"]
    notebook.cells = [parameter_cell, *(nbformat.v4.new_code_cell(source) for source in cells)]
    nbformat.write(notebook, path)
    return path


def comparable_outputs(notebook: nbformat.NotebookNode) -> list[list[dict]]:
    """Each cell's outputs without what legitimately changes between runs (counts, transient ids)."""
    cells = []
    for cell in notebook.cells:
        outputs = []
        for output in cell.get("outputs", []):
            output = {
                key: value for key, value in output.items() if key not in {"execution_count", "transient"}
            }
            outputs.append(output)
        cells.append(outputs)
    return cells


@pytest.fixture(scope="module")
def notebooks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("fastkernel")
    return {
        "work": write_notebook(
            folder / "work.ipynb",
            'points: int = 12  # nombre de points\nlabel: str = "a"  # étiquette\nseed: int = 1  # graine',
            WORK_CELLS,
        ),
        "probe": write_notebook(
            folder / "probe.ipynb", 'marker: str = ""  # marque posée par ce run', [PROBE_CELL]
        ),
        "failing": write_notebook(folder / "failing.ipynb", "value: int = 1  # valeur", ["1 / (value - 1)"]),
    }


def run(source: Path, output: Path, fast: bool = True, **kwargs) -> nbformat.NotebookNode:
    options = fastkernel.kernel_options() if fast else {}
    return papermill.execute_notebook(
        str(source), str(output), progress_bar=False, start_timeout=120, **options, **kwargs
    )


def probe(notebook: nbformat.NotebookNode) -> dict:
    return json.loads(notebook.cells[-1].outputs[-1]["text"])


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(pids: list[int], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(gone(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


def test_fast_start_gives_the_outputs_of_the_normal_start(notebooks, tmp_path):
    parameters = {"points": 9, "label": "département 2A", "seed": 7}
    normal = run(notebooks["work"], tmp_path / "normal.ipynb", fast=False, parameters=parameters)
    with fastkernel.warm_kernels() as server:
        assert server is not None
        fast = run(notebooks["work"], tmp_path / "fast.ipynb", parameters=parameters)
    assert comparable_outputs(fast) == comparable_outputs(normal)
    figure_outputs = [output for output in fast.cells[-1].outputs if output["output_type"] == "display_data"]
    assert figure_outputs and "image/svg+xml" in figure_outputs[0]["data"]  # inline backend, as normally
    assert "matplotlib_inline.backend_inline" in fast.cells[-1].outputs[0]["text"]


def test_each_run_is_a_fresh_fork_with_its_own_cwd_and_environment(notebooks, tmp_path, monkeypatch):
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    with fastkernel.warm_kernels() as server:
        assert server is not None
        # set after the server started: the kernel must see the run's environment, not the warm parent's
        monkeypatch.setenv("EIG_WORKSPACE", str(workspace))
        monkeypatch.setenv("EIG_DATA_USAGE", str(workspace / "usage.jsonl"))
        first = probe(
            run(notebooks["probe"], tmp_path / "1.ipynb", parameters={"marker": "1"}, cwd=str(workspace))
        )
        second = probe(
            run(notebooks["probe"], tmp_path / "2.ipynb", parameters={"marker": "2"}, cwd=str(tmp_path))
        )
        server_pid = server.pid
    assert first["ppid"] == second["ppid"] == server_pid  # both forked from the warm server
    assert first["pid"] != second["pid"]
    assert first["leftover"] is None and second["leftover"] is None  # no state from the earlier run
    assert first["max_rows"] == second["max_rows"] != 3
    assert first["cwd"] == str(workspace) and second["cwd"] == str(tmp_path)
    assert first["workspace"] == str(workspace)
    assert first["usage"] == str(workspace / "usage.jsonl")
    assert wait_gone([first["pid"], second["pid"], server_pid])


def test_failing_cell_raises_papermill_execution_error(notebooks, tmp_path):
    with fastkernel.warm_kernels() as server:
        assert server is not None
        with pytest.raises(PapermillExecutionError) as raised:
            run(notebooks["failing"], tmp_path / "failed.ipynb", parameters={"value": 1})
    assert raised.value.ename == "ZeroDivisionError"
    assert wait_gone([server.pid])


def test_nested_warm_kernels_share_one_server_and_leave_nothing_behind(notebooks, tmp_path):
    with fastkernel.warm_kernels() as outer:
        with fastkernel.warm_kernels() as inner:
            assert inner is outer is fastkernel.current_server()
        assert outer is not None and outer.alive  # the inner exit does not stop it
        report = probe(run(notebooks["probe"], tmp_path / "p.ipynb"))
        assert report["ppid"] == outer.pid
    assert fastkernel.current_server() is None
    assert wait_gone([outer.pid, report["pid"]])


def test_fallback_to_the_normal_start(notebooks, tmp_path, monkeypatch):
    # outside warm_kernels(): kernel_options() still works, the kernel starts normally
    outside = probe(run(notebooks["probe"], tmp_path / "outside.ipynb"))
    assert outside["ppid"] == os.getpid()
    monkeypatch.setenv("EIG_FAST_KERNEL", "0")
    assert not fastkernel.available() and fastkernel.kernel_options() == {}
    with fastkernel.warm_kernels() as server:
        assert server is None
        report = probe(run(notebooks["probe"], tmp_path / "disabled.ipynb", cwd=str(tmp_path)))
    assert report["ppid"] == os.getpid() and report["cwd"] == str(tmp_path)


def test_interrupt_and_kill_reach_a_forked_kernel():
    async def scenario() -> tuple[str, int, int]:
        manager = FastKernelManager(kernel_name="python3")
        await manager.start_kernel()
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            pid = manager.provisioner.pid
            parent = psutil.Process(pid).ppid()
            msg_id = client.execute("import time; time.sleep(60)")
            await asyncio.sleep(0.5)
            await manager.interrupt_kernel()
            while True:
                reply = await client.get_shell_msg(timeout=20)
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
            await manager.shutdown_kernel(now=True)
            assert not await manager.is_alive()
            return reply["content"].get("ename"), pid, parent
        finally:
            client.stop_channels()

    with fastkernel.warm_kernels() as server:
        ename, pid, parent = asyncio.run(scenario())
    assert parent == server.pid  # it was a forked kernel
    assert ename == "KeyboardInterrupt"
    assert wait_gone([pid])


OWNER_SCRIPT = textwrap.dedent(
    """
    import asyncio, time
    from eigkit.runner.fastkernel import warm_kernels
    from eigkit.runner.provisioner import FastKernelManager

    with warm_kernels() as server:
        manager = FastKernelManager(kernel_name="python3")
        asyncio.run(manager.start_kernel())
        print(server.pid, manager.provisioner.pid, flush=True)
        time.sleep(300)
    """
)


def test_a_killed_owner_takes_its_fork_server_and_kernels_with_it():
    owner = subprocess.Popen([sys.executable, "-c", OWNER_SCRIPT], stdout=subprocess.PIPE, text=True)
    try:
        server_pid, kernel_pid = (int(pid) for pid in owner.stdout.readline().split())
        assert psutil.Process(kernel_pid).ppid() == server_pid
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=10)
        assert wait_gone([server_pid, kernel_pid])
    finally:
        owner.kill()
        owner.wait()


def test_kernels_started_at_once_in_one_folder_get_their_own_ipc_sockets(tmp_path, monkeypatch):
    # jupyter_client's default ipc prefix is the relative "kernel-ipc": both kernels would pick the same
    # sockets in the shared cwd, and one client would then wait forever on the other kernel.
    monkeypatch.chdir(tmp_path)
    config = Config({"KernelManager": {"transport": "ipc"}})

    async def start_and_ask_pid(manager: FastKernelManager) -> tuple[int, int]:
        await manager.start_kernel()
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=60)
            msg_id = client.execute("import os; print(os.getpid())")
            while True:
                message = await client.get_iopub_msg(timeout=30)
                if message["parent_header"].get("msg_id") == msg_id and message["msg_type"] == "stream":
                    return manager.provisioner.pid, int(message["content"]["text"])
        finally:
            client.stop_channels()
            await manager.shutdown_kernel(now=True)

    async def scenario() -> tuple[list[FastKernelManager], list[tuple[int, int]]]:
        managers = [FastKernelManager(kernel_name="python3", config=config) for _ in range(2)]
        return managers, list(await asyncio.gather(*(start_and_ask_pid(m) for m in managers)))

    with fastkernel.warm_kernels() as server:
        assert server is not None
        managers, pids = asyncio.run(scenario())
    prefixes = [manager.ip for manager in managers]
    assert all(os.path.isabs(prefix) for prefix in prefixes) and prefixes[0] != prefixes[1]
    assert [started for started, _ in pids] == [answered for _, answered in pids]  # each its own kernel
    assert not list(tmp_path.iterdir())  # no socket file left in the working folder


def test_a_fork_that_never_binds_falls_back_to_the_normal_start(notebooks, tmp_path, monkeypatch):
    monkeypatch.setattr("eigkit.runner.provisioner.READY_WAIT_SECONDS", 0.0)  # the fork is never "ready"
    with fastkernel.warm_kernels() as server:
        assert server is not None
        report = probe(run(notebooks["probe"], tmp_path / "fallback.ipynb", cwd=str(tmp_path)))
        assert server.alive
    assert report["ppid"] == os.getpid() and report["cwd"] == str(tmp_path)


def test_a_fork_that_dies_before_binding_falls_back_to_the_normal_start(notebooks, tmp_path, monkeypatch):
    spawn = ForkServer.spawn

    def spawn_into_a_missing_folder(self, args, cwd, env, ready_path=None):  # the fork's chdir fails
        return spawn(self, args, str(tmp_path / "missing"), env, ready_path)

    monkeypatch.setattr(ForkServer, "spawn", spawn_into_a_missing_folder)
    with fastkernel.warm_kernels() as server:
        assert server is not None
        started = time.monotonic()
        report = probe(run(notebooks["probe"], tmp_path / "fallback.ipynb", cwd=str(tmp_path)))
        assert server.alive
    assert report["ppid"] == os.getpid() and report["cwd"] == str(tmp_path)
    assert time.monotonic() - started < READY_WAIT_SECONDS  # noticed at once, not after the bind wait


def test_a_stuck_fork_server_is_dropped_and_the_kernel_starts_normally(notebooks, tmp_path, monkeypatch):
    monkeypatch.setattr("eigkit.runner.forkserver.REPLY_TIMEOUT", 1.0)
    with fastkernel.warm_kernels() as server:
        assert server is not None
        os.kill(server.pid, signal.SIGSTOP)  # alive, but answers nothing
        report = probe(run(notebooks["probe"], tmp_path / "stuck.ipynb", cwd=str(tmp_path)))
        assert not server.alive and fastkernel.current_server() is None
    assert report["ppid"] == os.getpid()
    assert wait_gone([server.pid])


def test_a_fork_server_slow_to_start_is_not_waited_for(notebooks, tmp_path, monkeypatch):
    monkeypatch.setattr("eigkit.runner.fastkernel.SERVER_START_SECONDS", 0.0)
    with fastkernel.warm_kernels() as server:
        assert server is None
        report = probe(run(notebooks["probe"], tmp_path / "slow.ipynb", cwd=str(tmp_path)))
    assert report["ppid"] == os.getpid()


def test_a_start_timeout_says_what_is_wrong_with_the_kernel_sockets(tmp_path):
    ports = {"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "control_port": 4, "hb_port": 5}
    prefix = str(tmp_path / "kernel")
    relative = FastKernelClient(transport="ipc", ip="kernel-ipc", **ports)
    assert "relative path 'kernel-ipc'" in relative._endpoint_state()
    client = FastKernelClient(transport="ipc", ip=prefix, **ports)
    for port in (1, 2, 3):
        Path(f"{prefix}-{port}").touch()
    missing = f"{prefix}-4, {prefix}-5 missing"
    assert client._endpoint_state() == f"the kernel never bound its ipc sockets ({missing})"
    for port in (4, 5):
        Path(f"{prefix}-{port}").touch()
    assert client._endpoint_state() == f"its ipc sockets exist at {prefix}-*"
