"""Benchmark: 16 runs of a workspace notebook over a parameter grid sent to a Dask cluster (`eig run --grid
--cluster`), with the kernels started normally on the workers (`EIG_FAST_KERNEL=0`, what every Dask run did
before) against kernels forked from the warm servers each worker keeps for its life.

    .venv/bin/python bench/bench_dask.py [--workers N]

Each side gets its own fresh LocalCluster on 127.0.0.1 (N worker processes, one thread each: a first grid
pays for its servers) and its own copy of bench_run.py's workspace. It checks that both sides give the same
outputs for every parameter set (volatile metadata stripped) and prints `ratio=<forked / normal>` last.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from bench_run import combinations, eig_run, make_workspace, matching


def grid_on_a_new_cluster(folder: Path, workers: int, fast: bool) -> tuple[float, dict]:
    """Run the grid through `eig run --cluster` on a new LocalCluster; (seconds, outputs by parameters)."""
    import distributed

    os.environ["EIG_FAST_KERNEL"] = "1" if fast else "0"  # read by the workers, which inherit it
    workspace = folder / ("forked" if fast else "normal") / "defi-bench"
    make_workspace(workspace)
    with distributed.LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        return eig_run(workspace, None, ("--cluster", cluster.scheduler_address))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes (default: 2)")
    options = parser.parse_args()
    runs = len(combinations())
    with tempfile.TemporaryDirectory(prefix="eig-bench-dask-") as folder:
        print(f"{runs} runs on a LocalCluster of {options.workers} workers x 1 thread")
        normal_s, reference = grid_on_a_new_cluster(Path(folder), options.workers, fast=False)
        print(f"kernels started normally: {normal_s:.2f} s ({normal_s / runs:.2f} s a run)")
        forked_s, outputs = grid_on_a_new_cluster(Path(folder), options.workers, fast=True)
        print(f"kernels forked from warm servers: {forked_s:.2f} s ({forked_s / runs:.2f} s a run)")
        same = matching(reference, outputs)
        print(f"outputs match: {'yes' if same else 'NO'} ({len(outputs)}/{runs} runs compared)")
        print(f"ratio={forked_s / normal_s:.3f}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
