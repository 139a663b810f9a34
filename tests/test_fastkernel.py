"""The fast kernel start (kernels forked from a warm server) against the normal start, with real kernels."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import nbformat
import papermill
import psutil
import pytest
from papermill.exceptions import PapermillExecutionError
from traitlets.config import Config

from eigkit.runner import fastkernel, forkserver, ipc
from eigkit.runner.forkserver import ForkServer
from eigkit.runner.pool import LocalPool
from eigkit.runner.provisioner import PROVISIONER_NAME, FastKernelClient, FastKernelManager, ForkProvisioner
from eigkit.runner.worker import RunTask

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not fastkernel.available(), reason="needs Linux and EIG_FAST_KERNEL != 0"),
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


def run(
    source: Path, output: Path, env: dict[str, str] | None = None, cwd: str | None = None, **kwargs
) -> nbformat.NotebookNode:
    """Run through the kit's kernel manager: forked inside ``warm_kernels()``, normally started outside."""
    options = fastkernel.kernel_options(env=env, cwd=cwd)
    return papermill.execute_notebook(
        str(source), str(output), progress_bar=False, start_timeout=120, **options, **kwargs
    )


def probe(notebook: nbformat.NotebookNode) -> dict:
    (printed,) = [output for output in notebook.cells[-1].outputs if output.get("name") == "stdout"]
    return json.loads(printed["text"])


def only_server(warm: fastkernel.WarmServers) -> ForkServer:
    (server,) = warm.servers
    return server


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
    normal = run(notebooks["work"], tmp_path / "normal.ipynb", parameters=parameters)
    with fastkernel.warm_kernels() as warm:
        assert warm is not None
        fast = run(notebooks["work"], tmp_path / "fast.ipynb", parameters=parameters)
        assert len(warm.servers) == 1
    assert comparable_outputs(fast) == comparable_outputs(normal)
    figure_outputs = [output for output in fast.cells[-1].outputs if output["output_type"] == "display_data"]
    assert figure_outputs and "image/svg+xml" in figure_outputs[0]["data"]  # inline backend, as normally
    assert "matplotlib_inline.backend_inline" in fast.cells[-1].outputs[0]["text"]


EQUALITY_PROBE = """\
import datetime, gc, json, os, sys, time
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from threadpoolctl import threadpool_info

(line,) = plt.plot([0, 1])
plt.close("all")
report = {
    "rcParams": {key: repr(value) for key, value in sorted(matplotlib.rcParams.items())},
    "drawn_linewidth": line.get_linewidth(),
    "environ": dict(os.environ),
    "sys.path": sys.path,
    "cwd": os.getcwd(),
    "time zone": [time.tzname, time.timezone, time.altzone, time.daylight,
                  datetime.datetime(2024, 7, 1, 12).astimezone().isoformat()],
    "threadpools": sorted((pool["internal_api"], pool["num_threads"]) for pool in threadpool_info()),
    "numpy config": np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"],
    "garbage collector": [gc.isenabled(), gc.get_threshold()],  # the server turns it off while it imports
    "pid": os.getpid(),
    "ppid": os.getppid(),
}
print(json.dumps(report))"""
# Differ by design: the process that watches the kernel (the warm server for a fork), the run's own file.
PER_KERNEL_VARIABLES = {"JPY_PARENT_PID", "EIG_DATA_USAGE"}


def import_time_state(report: dict) -> dict:
    """What libraries read at import and the notebook can see, without what differs by design."""
    state = {key: value for key, value in report.items() if key not in {"pid", "ppid"}}
    state["environ"] = {k: v for k, v in report["environ"].items() if k not in PER_KERNEL_VARIABLES}
    return state


@pytest.mark.parametrize("rc_file", ["workspace", "user"])
def test_a_forked_kernel_reads_at_import_what_a_normal_kernel_reads(tmp_path, monkeypatch, rc_file):
    """matplotlib rc files (the workspace's matplotlibrc, else the user's), environment, sys.path
    (PYTHONPATH), cwd, time zone and BLAS threads: the same in a forked kernel as in a normal one, even
    when they change after the warm servers started (a server per folder and environment)."""
    workspace, elsewhere, extra, config = (tmp_path / name for name in ("ws", "elsewhere", "extra", "mpl"))
    for folder in (workspace, elsewhere, extra, config):
        folder.mkdir()
    rc_folder = workspace if rc_file == "workspace" else config
    (rc_folder / "matplotlibrc").write_text("lines.linewidth: 7.5\naxes.titlesize: 21\n", encoding="utf-8")
    source = write_notebook(tmp_path / "probe.ipynb", 'marker: str = ""', [EQUALITY_PROBE])
    with fastkernel.warm_kernels() as warm:
        assert warm is not None
        # a server warmed before the settings below exist: its kernels would draw 1.5 with 2 BLAS threads
        run(source, tmp_path / "before.ipynb", cwd=str(elsewhere))
        monkeypatch.setenv("TZ", "Pacific/Chatham")
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
        monkeypatch.setenv("PYTHONPATH", str(extra))
        monkeypatch.setenv("MPLCONFIGDIR", str(config))
        env = {"EIG_WORKSPACE": str(workspace)}
        forked = probe(
            run(source, tmp_path / "f.ipynb", env={**env, "EIG_DATA_USAGE": "1"}, cwd=str(workspace))
        )
        again = probe(
            run(source, tmp_path / "g.ipynb", env={**env, "EIG_DATA_USAGE": "2"}, cwd=str(workspace))
        )
        server_pids = [server.pid for server in warm.servers]
    normal = probe(run(source, tmp_path / "n.ipynb", env={**env, "EIG_DATA_USAGE": "3"}, cwd=str(workspace)))
    assert forked["ppid"] in server_pids and normal["ppid"] == os.getpid()  # forked vs started normally
    assert again["ppid"] == forked["ppid"]  # the data-usage file differs at each run: same server
    assert normal["drawn_linewidth"] == forked["drawn_linewidth"] == 7.5
    assert normal["threadpools"] == forked["threadpools"] == [["openblas", 1]]
    assert normal["time zone"][1] == forked["time zone"][1] == -(12 * 3600 + 45 * 60)  # Chatham, UTC+12:45
    assert str(extra) in forked["sys.path"] and forked["cwd"] == str(workspace)
    assert forked["environ"]["EIG_DATA_USAGE"] == "1" and again["environ"]["EIG_DATA_USAGE"] == "2"
    assert forked["environ"]["JPY_PARENT_PID"] == str(forked["ppid"])
    assert import_time_state(forked) == import_time_state(normal)


def test_runs_in_threads_of_one_process_give_each_kernel_its_own_environment(notebooks, tmp_path):
    """No process-wide lock: two runs at once in one process (a Dask worker's threads), each kernel with
    its own variables and folder; this process's environment and current folder untouched."""
    folders = [tmp_path / "a", tmp_path / "b"]
    reports: dict[int, dict] = {}
    folder_before = os.getcwd()

    def one_run(index: int) -> None:
        folders[index].mkdir()
        env = {"EIG_WORKSPACE": str(folders[index]), "EIG_DATA_USAGE": f"usage-{index}"}
        output = tmp_path / f"{index}.ipynb"
        reports[index] = probe(run(notebooks["probe"], output, env=env, cwd=str(folders[index])))

    with fastkernel.warm_kernels() as warm:
        threads = [threading.Thread(target=one_run, args=(index,)) for index in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        server_pids = {server.pid for server in warm.servers}
    for index in (0, 1):
        assert reports[index]["workspace"] == reports[index]["cwd"] == str(folders[index])
        assert reports[index]["usage"] == f"usage-{index}"
        assert reports[index]["ppid"] in server_pids
    assert "EIG_DATA_USAGE" not in os.environ and os.getcwd() == folder_before


def test_each_run_is_a_fresh_fork_of_the_server_of_its_folder(notebooks, tmp_path):
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    with fastkernel.warm_kernels() as warm:
        assert warm is not None
        env = {"EIG_WORKSPACE": str(workspace)}
        first, second = (
            probe(
                run(
                    notebooks["probe"],
                    tmp_path / f"{marker}.ipynb",
                    env={**env, "EIG_DATA_USAGE": f"u{marker}"},
                    parameters={"marker": marker},
                    cwd=str(workspace),
                )
            )
            for marker in ("1", "2")
        )
        elsewhere = probe(run(notebooks["probe"], tmp_path / "3.ipynb", env=env, cwd=str(tmp_path)))
        server_pids = [server.pid for server in warm.servers]
    assert first["ppid"] == second["ppid"] != elsewhere["ppid"]  # one server per folder
    assert sorted(server_pids) == sorted({first["ppid"], elsewhere["ppid"]})
    assert len({first["pid"], second["pid"], elsewhere["pid"]}) == 3
    assert first["leftover"] is None and second["leftover"] is None  # no state from the earlier run
    assert first["max_rows"] == second["max_rows"] != 3
    assert first["cwd"] == str(workspace) and elsewhere["cwd"] == str(tmp_path)
    assert first["workspace"] == str(workspace)
    assert (first["usage"], second["usage"]) == ("u1", "u2")
    assert wait_gone([first["pid"], second["pid"], elsewhere["pid"], *server_pids])


def test_servers_beyond_the_limit_stop_least_recently_used_first(notebooks, tmp_path, monkeypatch):
    monkeypatch.setattr(fastkernel, "MAX_SERVERS", 1)
    folders = [tmp_path / "a", tmp_path / "b"]
    with fastkernel.warm_kernels() as warm:
        pids = []
        for index, folder in enumerate(folders):
            folder.mkdir()
            pids.append(probe(run(notebooks["probe"], tmp_path / f"{index}.ipynb", cwd=str(folder)))["ppid"])
        assert [server.pid for server in warm.servers] == [pids[1]]
    assert wait_gone(pids)


def test_servers_left_beyond_the_limit_by_a_burst_stop_at_the_next_run(tmp_path, monkeypatch):
    """Runs at once in more folders than the limit all keep their servers while their kernels run; a
    process that lives on (a Dask worker) stops the idle ones beyond the limit at its next run."""
    monkeypatch.setattr(fastkernel, "MAX_SERVERS", 1)
    folders = [tmp_path / "a", tmp_path / "b"]
    for folder in folders:
        folder.mkdir()
    with fastkernel.warm_kernels() as warm:
        first = warm.server_for(str(folders[0]), dict(os.environ))
        first.kernels.add(-1)  # a kernel running on it: not stopped when the second server starts
        second = warm.server_for(str(folders[1]), dict(os.environ))
        assert warm.servers == [first, second]
        first.kernels.discard(-1)  # that run ended
        assert warm.server_for(str(folders[1]), dict(os.environ)) is second  # the next run
        assert warm.servers == [second]
    assert wait_gone([first.pid, second.pid])


def test_a_server_is_not_reused_once_a_file_it_read_at_import_changed(tmp_path):
    """A long-lived server (a Dask worker's) serves no kernel after the workspace's matplotlibrc changed:
    a kernel started normally would read the new one."""
    rc = tmp_path / "matplotlibrc"
    rc.write_text("lines.linewidth: 7.5\n", encoding="utf-8")
    source = write_notebook(tmp_path / "probe.ipynb", 'marker: str = ""', [EQUALITY_PROBE])
    with fastkernel.warm_kernels():
        before = probe(run(source, tmp_path / "before.ipynb", cwd=str(tmp_path)))
        rc.write_text("lines.linewidth: 11.0\n", encoding="utf-8")
        after = probe(run(source, tmp_path / "after.ipynb", cwd=str(tmp_path)))
    assert (before["drawn_linewidth"], after["drawn_linewidth"]) == (7.5, 11.0)
    assert before["ppid"] != after["ppid"]  # another server, warmed with the new file


def test_failing_cell_raises_papermill_execution_error(notebooks, tmp_path):
    with fastkernel.warm_kernels() as warm:
        assert warm is not None
        with pytest.raises(PapermillExecutionError) as raised:
            run(notebooks["failing"], tmp_path / "failed.ipynb", parameters={"value": 1})
        server = only_server(warm)
    assert raised.value.ename == "ZeroDivisionError"
    assert wait_gone([server.pid])


def test_nested_warm_kernels_share_the_servers_and_leave_nothing_behind(notebooks, tmp_path):
    with fastkernel.warm_kernels() as outer:
        with fastkernel.warm_kernels() as inner:
            assert inner is outer is not None
            probe(run(notebooks["probe"], tmp_path / "inner.ipynb"))
        server = only_server(outer)
        assert server.alive  # the inner exit does not stop it
        report = probe(run(notebooks["probe"], tmp_path / "p.ipynb"))
        assert report["ppid"] == server.pid
    assert fastkernel.server_for(str(tmp_path), dict(os.environ)) is None
    assert wait_gone([server.pid, report["pid"]])


def test_fallback_to_the_normal_start(notebooks, tmp_path, monkeypatch):
    # outside warm_kernels(): the kit's kernel manager starts the kernel normally
    outside = probe(run(notebooks["probe"], tmp_path / "outside.ipynb"))
    assert outside["ppid"] == os.getpid()
    monkeypatch.setenv("EIG_FAST_KERNEL", "0")
    assert not fastkernel.available()
    with fastkernel.warm_kernels() as warm:
        assert warm is None
        report = probe(run(notebooks["probe"], tmp_path / "disabled.ipynb", cwd=str(tmp_path)))
    assert report["ppid"] == os.getpid() and report["cwd"] == str(tmp_path)


def test_the_provisioner_is_registered_and_chosen_through_its_entry_point():
    from jupyter_client.provisioning import KernelProvisionerFactory

    manager = FastKernelManager(kernel_name="python3")
    assert manager.kernel_spec.metadata["kernel_provisioner"]["provisioner_name"] == PROVISIONER_NAME
    factory = KernelProvisionerFactory.instance()
    provisioner = factory.create_provisioner_instance("k", manager.kernel_spec, parent=manager)
    assert type(provisioner) is ForkProvisioner
    assert "_async_pre_start_kernel" not in vars(FastKernelManager)  # no private jupyter_client override


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

    with fastkernel.warm_kernels() as warm:
        ename, pid, parent = asyncio.run(scenario())
        server = only_server(warm)
    assert parent == server.pid  # it was a forked kernel
    assert ename == "KeyboardInterrupt"
    assert wait_gone([pid])


OWNER_SCRIPT = textwrap.dedent(
    """
    import asyncio, time
    from eigkit.runner.fastkernel import warm_kernels
    from eigkit.runner.provisioner import FastKernelManager

    with warm_kernels() as warm:
        manager = FastKernelManager(kernel_name="python3")
        asyncio.run(manager.start_kernel())
        (server,) = warm.servers
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

    with fastkernel.warm_kernels() as warm:
        assert warm is not None
        managers, pids = asyncio.run(scenario())
    prefixes = [manager.ip for manager in managers]
    assert all(os.path.isabs(prefix) for prefix in prefixes) and prefixes[0] != prefixes[1]
    assert [started for started, _ in pids] == [answered for _, answered in pids]  # each its own kernel
    assert not list(tmp_path.iterdir())  # no socket file left in the working folder


def test_a_fork_that_never_binds_falls_back_to_the_normal_start(notebooks, tmp_path, monkeypatch):
    monkeypatch.setattr("eigkit.runner.provisioner.READY_WAIT_SECONDS", 0.0)  # the fork is never "ready"
    with fastkernel.warm_kernels() as warm:
        assert warm is not None
        report = probe(run(notebooks["probe"], tmp_path / "fallback.ipynb", cwd=str(tmp_path)))
        assert only_server(warm).alive
    assert report["ppid"] == os.getpid() and report["cwd"] == str(tmp_path)


def test_a_fork_that_dies_before_binding_falls_back_to_the_normal_start(
    notebooks, tmp_path, monkeypatch, caplog
):
    spawn = ForkServer.spawn

    def spawn_into_a_missing_folder(self, args, cwd, env, **options):  # the fork's chdir fails
        return spawn(self, args, str(tmp_path / "missing"), env, **options)

    monkeypatch.setattr(ForkServer, "spawn", spawn_into_a_missing_folder)
    with caplog.at_level(logging.WARNING), fastkernel.warm_kernels() as warm:
        assert warm is not None
        report = probe(run(notebooks["probe"], tmp_path / "fallback.ipynb", cwd=str(tmp_path)))
        assert only_server(warm).alive
    assert report["ppid"] == os.getpid() and report["cwd"] == str(tmp_path)
    # noticed by its exit, not by waiting out the bind delay (that warning says "did not bind within")
    (warning,) = [record.getMessage() for record in caplog.records if "Forked kernel" in record.getMessage()]
    assert "exited with code 1 before binding its sockets" in warning


def test_a_stuck_fork_server_is_dropped_and_the_kernel_starts_normally(notebooks, tmp_path, monkeypatch):
    monkeypatch.setattr("eigkit.runner.forkserver.REPLY_TIMEOUT", 1.0)
    with fastkernel.warm_kernels() as warm:
        assert warm is not None
        probe(run(notebooks["probe"], tmp_path / "warm.ipynb", cwd=str(tmp_path)))
        server = only_server(warm)
        os.kill(server.pid, signal.SIGSTOP)  # alive, but answers nothing
        report = probe(run(notebooks["probe"], tmp_path / "stuck.ipynb", cwd=str(tmp_path)))
        assert not server.alive
    assert report["ppid"] == os.getpid()
    assert wait_gone([server.pid])


def test_a_fork_server_slow_to_start_is_not_waited_for(notebooks, tmp_path, monkeypatch):
    monkeypatch.setattr("eigkit.runner.fastkernel.SERVER_START_SECONDS", 0.0)
    with fastkernel.warm_kernels() as warm:
        assert warm is not None
        report = probe(run(notebooks["probe"], tmp_path / "slow.ipynb", cwd=str(tmp_path)))
        assert warm.servers == []
    assert report["ppid"] == os.getpid()


def test_the_server_forks_with_one_os_thread_and_refuses_with_more(notebooks, tmp_path, monkeypatch, caplog):
    """Counted from /proc/self/task: OpenBLAS's threads (started when numpy loads) are stopped before each
    fork; a native thread the server cannot stop (here Arrow's jemalloc purger, left on) refuses the fork."""
    with fastkernel.warm_kernels() as warm:
        probe(run(notebooks["probe"], tmp_path / "one.ipynb", cwd=str(tmp_path)))
        assert psutil.Process(only_server(warm).pid).num_threads() == 1
    monkeypatch.setattr(fastkernel, "_SERVER_ONLY", {})
    with caplog.at_level(logging.WARNING), fastkernel.warm_kernels() as warm:
        report = probe(run(notebooks["probe"], tmp_path / "two.ipynb", cwd=str(tmp_path)))
        assert warm.servers == []  # refused as soon as it had imported, never forked
    assert report["ppid"] == os.getpid()  # started normally
    (warning,) = [record.getMessage() for record in caplog.records if "fork server" in record.getMessage()]
    assert "threads that cannot be stopped (jemalloc_bg_thd, python)" in warning


def test_os_threads_names_native_threads_python_does_not_see():
    import pyarrow

    pyarrow.default_memory_pool()  # jemalloc starts its background thread, unknown to threading
    names = forkserver.os_threads()
    assert "jemalloc_bg_thd" in names
    assert len(names) > threading.active_count()


ENDING_THREAD = """\
import sys, threading, time
from eigkit.runner import forkserver

threading.Thread(target=time.sleep, args=(float(sys.argv[1]),)).start()
print(repr(forkserver.extra_threads()))"""


@pytest.mark.parametrize(("lifetime", "refused"), [(0.05, False), (5.0, True)])
def test_a_thread_that_is_ending_is_waited_for_and_one_that_lives_on_is_named(lifetime, refused):
    """A server whose extra thread ends at once (OpenBLAS's, just stopped, still listed on a loaded machine)
    forks; one whose thread lives on is refused, naming the threads."""
    done = subprocess.run(
        [sys.executable, "-c", ENDING_THREAD, str(lifetime)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert (done.stdout.strip() != "''") is refused, done.stdout


NO_FORK_PROBE = """\
import json, os
from ipykernel.kernelapp import IPKernelApp
print(json.dumps({"pid": os.getpid(), "ppid": os.getppid(), "transport": IPKernelApp.instance().transport,
                  "workspace": os.environ.get("EIG_WORKSPACE")}))"""


def test_without_fork_a_spawned_pool_starts_kernels_normally_over_tcp(tmp_path, monkeypatch):
    """The path of platforms without a safe fork (macOS, Windows), forced on Linux: spawn pool, no fork
    server, TCP sockets."""
    monkeypatch.setattr(fastkernel, "fork_supported", lambda: False)  # the driver: the pool's start method
    monkeypatch.setenv("EIG_FAST_KERNEL", "0")  # the workers (spawned: they re-import, so by environment)
    monkeypatch.setenv("EIG_KERNEL_TRANSPORT", "tcp")
    start_method, worker_pid, worker_parent, report = probe_on_a_new_pool(tmp_path / "ws")
    assert start_method == "spawn" and worker_parent == os.getpid()  # spawned by us, not by a fork server
    assert report["ppid"] == worker_pid  # a normal start, no fork server
    assert report["transport"] == "tcp" and report["workspace"] == str(tmp_path / "ws")


def probe_on_a_new_pool(workspace: Path) -> tuple[str, int, int, dict]:
    """Run NO_FORK_PROBE on a new one-worker LocalPool: its start method, its worker's pid and parent pid,
    and what the probe printed."""
    (workspace / "runs" / "r").mkdir(parents=True)
    source = write_notebook(workspace / "probe.ipynb", 'marker: str = ""', [NO_FORK_PROBE])
    task = RunTask(0, "probe", str(source), str(workspace / "runs" / "r"), str(workspace), {"marker": "x"})
    pool = LocalPool(1)
    try:
        (outcome,) = list(pool.run_wave([task]))
        worker_pid = pool._processes[0].pid
        worker_parent = psutil.Process(worker_pid).ppid()
    finally:
        pool.close()
    assert outcome["status"] == "ok", outcome
    return pool.start_method, worker_pid, worker_parent, probe(nbformat.read(task.output, as_version=4))


def test_a_temporary_folder_too_long_for_socket_paths_is_not_used_for_sockets(tmp_path, monkeypatch, request):
    """A TMPDIR whose path leaves no room for a unix socket's name: multiprocessing's fork server would fail
    with ``AF_UNIX path too long`` (before Python 3.14), so the pool is spawned; the kernels' ipc sockets go
    to /tmp, as Python 3.14's multiprocessing does. The run works and leaves nothing in that TMPDIR."""
    long_tmp = tempfile.mkdtemp(prefix="eig-" + "t" * 80)
    request.addfinalizer(lambda: shutil.rmtree(long_tmp, ignore_errors=True))
    assert not ipc.fits_socket_paths(long_tmp)
    monkeypatch.setenv("TMPDIR", long_tmp)  # the spawned worker's
    monkeypatch.setattr(tempfile, "tempdir", long_tmp)  # this process's
    assert ipc.socket_base() == "/tmp"
    start_method, worker_pid, worker_parent, report = probe_on_a_new_pool(tmp_path / "ws")
    assert start_method == "spawn" and worker_parent == os.getpid()
    assert report["transport"] == "ipc" and report["ppid"] != worker_pid  # forked from a warm server
    assert os.listdir(long_tmp) == []


QUIET_SCRIPT = textwrap.dedent(
    """
    import sys
    import papermill
    from eigkit.runner import fastkernel

    source, folder = sys.argv[1:]
    options = dict(progress_bar=False, **fastkernel.kernel_options())
    papermill.execute_notebook(source, folder + "/normal.ipynb", **options)
    with fastkernel.warm_kernels():
        papermill.execute_notebook(source, folder + "/fork.ipynb", **options)
    """
)


def test_no_debugger_warning_from_normal_or_forked_kernels_nor_the_server(notebooks, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYDEVD_DISABLE_FILE_VALIDATION"}
    done = subprocess.run(
        [sys.executable, "-c", QUIET_SCRIPT, str(notebooks["probe"]), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "normal.ipynb").exists() and (tmp_path / "fork.ipynb").exists()
    assert "Debugger warning" not in done.stderr + done.stdout
    assert "frozen modules" not in done.stderr + done.stdout


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
