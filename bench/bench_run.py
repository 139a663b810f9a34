"""Benchmark: 16 runs of a workspace notebook over a parameter grid, `eig run --grid` against a sequential
loop of `papermill` CLI calls doing the same 16 runs.

    .venv/bin/python bench/bench_run.py [--workers N] [--pools]

It builds a throw-away défi workspace (pyproject.toml with [tool.eig], a small pandas + matplotlib notebook
with a parameters cell, a 16-combination grid), times both, checks that every eig run's outputs equal the
papermill run with the same parameters (volatile metadata stripped), and prints `ratio=<eig / papermill>`
last. `--pools` also times two in-process baselines: a 2-process pool over papermill's Python API with the
normal kernel start, then the same pool with the fork start (eigkit.runner.fastkernel).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat

GRID = {"departement": ["01", "2A", "13", "971"], "points": [40, 80, 120, 160]}
PARAMETERS = """\
departement: str = "01"  # code du département (texte : "01", "2A")
points: int = 50  # nombre de jours simulés"""
CELLS = [
    """\
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from eigkit.notebook import setup

setup()""",
    """\
seed = sum(map(ord, departement)) + points
rng = np.random.default_rng(seed)
jours = pd.date_range("2024-01-01", periods=points, freq="D")
appels = pd.DataFrame({"jour": jours, "appels": rng.poisson(20, size=points)})
appels["moyenne_7j"] = appels["appels"].rolling(7, min_periods=1).mean().round(2)
appels.describe()""",
    """\
par_mois = appels.groupby(appels["jour"].dt.month)["appels"].agg(["count", "sum", "mean"]).round(2)
par_mois""",
    """\
fig, ax = plt.subplots(figsize=(5, 3))
_ = ax.plot(appels["jour"], appels["appels"], label="appels")
_ = ax.plot(appels["jour"], appels["moyenne_7j"], label="moyenne sur 7 jours")
_ = ax.set_title(f"Département {departement}")
_ = ax.legend()
print(f"{departement}: {int(appels['appels'].sum())} appels sur {points} jours")""",
]
VOLATILE_OUTPUT_KEYS = {"execution_count", "transient"}
BIN = Path(sys.executable).parent


def combinations() -> list[dict[str, Any]]:
    names = list(GRID)
    return [dict(zip(names, values, strict=True)) for values in itertools.product(*GRID.values())]


def make_workspace(root: Path) -> Path:
    """A minimal défi workspace: [tool.eig] pyproject, one parameterised notebook, the grid file."""
    (root / "notebooks").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "defi-bench"\nversion = "0.1.0"\ndependencies = ["eig-kit"]\n\n'
        '[tool.eig]\nkind = "generique"\nkit_version = "0"\n',
        encoding="utf-8",
    )
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    parameters = nbformat.v4.new_code_cell(PARAMETERS)
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, *(nbformat.v4.new_code_cell(source) for source in CELLS)]
    nbformat.write(notebook, root / "notebooks" / "01-appels.ipynb")
    grid = "".join(f"{name}: [{', '.join(json.dumps(v) for v in values)}]\n" for name, values in GRID.items())
    (root / "grid.yaml").write_text(grid, encoding="utf-8")
    return root / "notebooks" / "01-appels.ipynb"


def comparable(path: Path) -> list[list[dict[str, Any]]]:
    """The outputs of each cell, without what changes from run to run (counts, ids, timings)."""
    notebook = nbformat.read(path, as_version=4)
    return [
        [
            {key: value for key, value in output.items() if key not in VOLATILE_OUTPUT_KEYS}
            for output in cell.outputs
        ]
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]


def key(parameters: dict[str, Any]) -> tuple[str, int]:
    return str(parameters["departement"]), int(parameters["points"])


def injected_parameters(path: Path) -> dict[str, Any]:
    """The parameters papermill injected into an executed notebook."""
    notebook = nbformat.read(path, as_version=4)
    return dict(notebook.metadata.get("papermill", {}).get("parameters", {}))


def workspace_env(workspace: Path) -> dict[str, str]:
    env = dict(os.environ, EIG_WORKSPACE=str(workspace), PYTHONWARNINGS="ignore")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def papermill_loop(notebook: Path, workspace: Path, out: Path) -> tuple[float, dict[tuple[str, int], Path]]:
    """The 16 runs as a sequential loop of `papermill` CLI calls; (seconds, outputs by parameters)."""
    out.mkdir()
    outputs = {}
    clock = time.perf_counter()
    for index, parameters in enumerate(combinations()):
        target = out / f"run-{index:02d}.ipynb"
        command = [
            str(BIN / "papermill"),
            str(notebook),
            str(target),
            "--cwd",
            str(workspace),
            "--no-progress-bar",
        ]
        command += ["-r", "departement", parameters["departement"], "-p", "points", str(parameters["points"])]
        subprocess.run(command, check=True, env=workspace_env(workspace), capture_output=True)
        outputs[key(parameters)] = target
    return time.perf_counter() - clock, outputs


def eig_run(
    workspace: Path, workers: int | None, extra: tuple[str, ...] = ()
) -> tuple[float, dict[tuple[str, int], Path]]:
    """The same runs through `eig run --grid` (plus ``extra`` options); (seconds, outputs by parameters)."""
    command = [str(BIN / "eig"), "run", "notebooks/01-appels.ipynb", "--grid", "grid.yaml", *extra]
    if workers:
        command += ["--workers", str(workers)]
    clock = time.perf_counter()
    done = subprocess.run(
        command, cwd=workspace, env=workspace_env(workspace), capture_output=True, text=True
    )
    seconds = time.perf_counter() - clock
    if done.returncode != 0:
        sys.exit(f"eig run failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    (run_dir,) = (workspace / "runs").iterdir()
    outputs = {key(injected_parameters(path)): path for path in run_dir.glob("*.ipynb")}
    return seconds, outputs


def _pool_worker(jobs: list[tuple[str, str, dict[str, Any], str]], fast: bool) -> None:
    import papermill

    from eigkit.runner import fastkernel

    with fastkernel.warm_kernels() if fast else contextlib.nullcontext():
        for notebook, target, parameters, cwd in jobs:
            options = fastkernel.kernel_options() if fast else {}
            papermill.execute_notebook(
                notebook, target, parameters=parameters, cwd=cwd, progress_bar=False, **options
            )


def pool_run(notebook: Path, workspace: Path, out: Path, fast: bool, workers: int = 2) -> float:
    """The 16 runs in a ``workers``-process pool over papermill's Python API (each process: one batch)."""
    out.mkdir()
    jobs = [
        (str(notebook), str(out / f"run-{i:02d}.ipynb"), p, str(workspace))
        for i, p in enumerate(combinations())
    ]
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["papermill"])
    os.environ["EIG_WORKSPACE"] = str(workspace)
    processes = [context.Process(target=_pool_worker, args=(jobs[i::workers], fast)) for i in range(workers)]
    clock = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    seconds = time.perf_counter() - clock
    if any(process.exitcode for process in processes):
        sys.exit("a pool worker failed")
    return seconds


def matching(reference: dict[tuple[str, int], Path], candidate: dict[tuple[str, int], Path]) -> bool:
    if set(reference) != set(candidate):
        print(f"  runs differ: {sorted(set(reference) ^ set(candidate))}")
        return False
    different = [name for name in reference if comparable(reference[name]) != comparable(candidate[name])]
    for name in different:
        print(f"  outputs differ for {name}")
    return not different


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=None, help="eig run --workers (default: eig's own)")
    parser.add_argument("--pools", action="store_true", help="also time plain / fork-start Python API pools")
    options = parser.parse_args()
    runs = len(combinations())
    with tempfile.TemporaryDirectory(prefix="eig-bench-") as folder:
        workspace = Path(folder) / "defi-bench"
        notebook = make_workspace(workspace)
        print(f"{runs} runs of {notebook.name} over {', '.join(GRID)}; workspace {workspace}")
        papermill_s, reference = papermill_loop(notebook, workspace, Path(folder) / "papermill")
        print(f"papermill CLI loop: {papermill_s:.2f} s ({papermill_s / runs:.2f} s a run)")
        if options.pools:
            for fast in (False, True):
                label = "pool + fork start" if fast else "plain pool"
                seconds = pool_run(notebook, workspace, Path(folder) / label.replace(" ", "-"), fast)
                print(f"{label} (2 processes, papermill API): {seconds:.2f} s ({seconds / runs:.2f} s a run)")
        eig_s, outputs = eig_run(workspace, options.workers)
        print(f"eig run --grid: {eig_s:.2f} s ({eig_s / runs:.2f} s a run)")
        same = matching(reference, outputs)
        print(f"outputs match papermill: {'yes' if same else 'NO'} ({len(outputs)}/{runs} runs compared)")
        print(f"ratio={eig_s / papermill_s:.3f}")
    if not same:
        sys.exit(1)  # a faster run that computes something else is no result


if __name__ == "__main__":
    main()
