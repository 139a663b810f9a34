"""``--cluster``: the same runs sent to a real Dask distributed scheduler (a LocalCluster on 127.0.0.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eigkit.runner import fastkernel, manifest
from eigkit.runner.execute import RunnerError, run
from test_fastkernel import wait_gone
from test_run_workspace import make_workspace

distributed = pytest.importorskip("distributed", reason="the dask extra (eig-kit[dask]) is not installed")
pytestmark = pytest.mark.slow


def warm_servers_of_this_process() -> list[tuple[int, int]]:
    """(pid, kernels forked) of each warm server of the process it runs in (a Dask worker, here)."""
    servers = fastkernel.keep_warm_for_life()
    return [(server.pid, server.forked) for server in servers.servers] if servers else []


def test_a_grid_runs_on_a_dask_cluster(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, {"01-demo": "params_demo"})
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://127.0.0.1:")
        grid = {"departement": ["01", "2A", "971"]}
        result = run(grid=grid, cluster=address, workspace=root, progress=False)
        with distributed.Client(cluster) as client:
            by_worker = client.run(warm_servers_of_this_process)
    servers = [server for found in by_worker.values() for server in found]
    assert result.ok, result.runs
    if fastkernel.available():  # Linux: each worker forked the kernels of its runs from its warm server
        assert sum(forked for _, forked in servers) == 3, servers
        assert wait_gone([pid for pid, _ in servers])  # and its servers ended with it
    record = manifest.read(result.run_dir)
    assert record["command"]["cluster"] == address
    assert sorted(entry["parameters"]["departement"] for entry in record["runs"]) == ["01", "2A", "971"]
    for entry in record["runs"]:
        assert (result.run_dir / entry["output"]).is_file() and entry["data"][0]["name"] == "demo"
        assert (root / "reports" / f"{entry['name']}.html").is_file()


def test_runs_in_threads_of_one_dask_worker_keep_their_own_environment(tmp_path: Path) -> None:
    """One worker process with 3 threads: each run's kernel must record its data use in its own file."""
    root = make_workspace(tmp_path, {"01-demo": "params_demo"})
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=3, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        result = run(grid={"annee": [2021, 2022, 2023]}, cluster=cluster.scheduler_address, workspace=root,
                     progress=False)  # fmt: skip
    assert result.ok, result.runs
    for entry in manifest.read(result.run_dir)["runs"]:
        assert [record["year"] for record in entry["data"]] == [entry["parameters"]["annee"]]


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("eigkit.runner.pool.CONNECT_TIMEOUT", "2s")
    root = make_workspace(tmp_path, {"01-demo": "params_demo"})
    with pytest.raises(RunnerError, match=r"cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        run(cluster="tcp://127.0.0.1:9", workspace=root, progress=False)
    record = manifest.read(manifest.latest_run(root / "runs"))
    assert record["status"] == "failed" and "cannot reach" in record["error"]["evalue"]  # never started
    assert [entry["status"] for entry in record["runs"]] == ["skipped"]
