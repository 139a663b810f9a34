"""One notebook run, executed wherever it is sent (a local pool process or a Dask worker).

:func:`execute_task` runs one :class:`RunTask` through papermill's Python API with the kernel's cwd at the
workspace root and ``EIG_WORKSPACE`` / ``EIG_DATA_USAGE`` set, writes the executed notebook to a temporary
path then moves it into place, however the run ended (a stopped run keeps the notebook executed so far,
with the cell it stopped in), and returns a plain dict (picklable, JSON-ready) describing what happened.
Reports are rendered later, by the publishing stage (:mod:`eigkit.runner.report`).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import eigkit.runner.lean_imports  # noqa: F401  (before papermill: a Dask worker imports this module first)

START_TIMEOUT = 120  # seconds: kernels start slowly on busy machines ("Kernel didn't respond in 60 seconds")


@dataclass(frozen=True)
class RunTask:
    """Everything one notebook run needs; plain data so that it crosses process and machine boundaries."""

    index: int
    name: str
    notebook: str
    run_dir: str
    workspace: str
    parameters: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None
    with_code: bool = False
    kernel: str | None = None

    @property
    def output(self) -> Path:
        """The executed notebook's final path."""
        return Path(self.run_dir) / f"{self.name}.ipynb"

    @property
    def work_path(self) -> Path:
        """Where papermill writes while the notebook runs (moved to :attr:`output` when it ends)."""
        return Path(self.run_dir) / ".work" / f"{self.name}.ipynb"

    @property
    def log(self) -> Path:
        """The notebook's stdout and stderr."""
        return Path(self.run_dir) / "logs" / f"{self.name}.log"

    @property
    def usage(self) -> Path:
        """The JSON-lines file where ``eigkit.data`` records the data this run used."""
        return Path(self.run_dir) / ".work" / f"{self.name}.data.jsonl"

    @property
    def report(self) -> Path:
        """The HTML report inside the run folder (published into ``reports/`` afterwards)."""
        return Path(self.run_dir) / "reports" / f"{self.name}.html"


def kernel_options(ipc_prefix: str, env: dict[str, str], cwd: str) -> dict[str, Any]:
    """Keyword arguments for papermill's engine: immediate kernel shutdown, the kernel in ``cwd`` with
    ``env`` on top of this process's environment (neither changed in this process), ipc transport on
    sockets named ``<ipc_prefix>-1`` to ``-5`` (no TCP port race; TCP where the platform has no unix
    sockets), and the fast start where available.

    ``ipc_prefix`` must be absolute and unique to this kernel: jupyter_client's default, the relative
    ``kernel-ipc``, numbers sockets by the files it finds in the current folder, so kernels started at the
    same time (pool or Dask workers) pick the same socket paths, and a client whose current folder is not the
    kernel's connects to nothing: the run then hangs until "Kernel didn't respond".
    """
    from eigkit.runner import fastkernel

    return {"shutdown_kernel": "immediate", **fastkernel.kernel_options(ipc_prefix, env=env, cwd=cwd)}


def warm_kernels() -> contextlib.AbstractContextManager[Any]:
    """The fast-kernel context for a batch of runs in one process, or a no-op when it is unavailable."""
    try:
        from eigkit.runner import fastkernel
    except ImportError:
        return contextlib.nullcontext()
    return fastkernel.warm_kernels()


def execute_task_on_cluster(task: RunTask) -> dict[str, Any]:
    """:func:`execute_task` on a Dask worker: its kernels fork from warm servers kept for the worker's life
    (started by its first run), not from a fresh interpreter each."""
    from eigkit.runner import fastkernel

    fastkernel.keep_warm_for_life()
    return execute_task(task)


@contextlib.contextmanager
def ipc_folder() -> Iterator[str]:
    """A private, short-named folder for one kernel's ipc sockets and connection file (unix socket paths are
    limited to about 100 bytes, so not inside the run folder; in /tmp when the temporary folder's path is too
    long), removed with whatever the kernel left in it (:mod:`eigkit.runner.ipc`)."""
    from eigkit.runner import ipc

    folder = ipc.new_ipc_folder()
    try:
        yield folder
    finally:
        ipc.remove_ipc_folder(folder)


def _now() -> str:
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def execute_task(task: RunTask) -> dict[str, Any]:
    """Run one notebook; return ``index``, ``name``, ``status`` (ok / failed / interrupted), ``error``
    (ename, evalue, and the cell index in the source notebook, execution count and source), timings,
    ``data`` (usage records) and ``output`` (the executed notebook's name in the run folder).

    The run's folder and variables (workspace, data-usage file) reach its kernel through the kernel manager,
    never through this process's ``os.environ`` or current folder: runs in threads of one process (a Dask
    worker with several threads) keep their own.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from eigkit import secrets
    from eigkit.runner.engine import ENGINE
    from eigkit.runner.params import use_kit_injection

    use_kit_injection()
    for path in (task.work_path, task.log):
        path.parent.mkdir(parents=True, exist_ok=True)
    task.usage.unlink(missing_ok=True)
    outcome: dict[str, Any] = {"index": task.index, "name": task.name, "started_at": _now(), "error": None}
    clock = time.perf_counter()
    env = {"EIG_WORKSPACE": task.workspace, "EIG_DATA_USAGE": str(task.usage)}
    try:
        with ipc_folder() as ipc, open(task.log, "w", encoding="utf-8") as log:
            papermill.execute_notebook(
                task.notebook,
                str(task.work_path),
                parameters=task.parameters,
                engine_name=ENGINE,
                keep_partial_at=str(task.work_path),
                progress_bar=False,
                request_save_on_cell_execute=False,
                stdout_file=log,
                stderr_file=log,
                start_timeout=START_TIMEOUT,
                execution_timeout=task.timeout,
                kernel_name=task.kernel,
                **kernel_options(f"{ipc}/kernel", env, cwd=task.workspace),
            )
        outcome["status"] = "ok"
    except PapermillExecutionError as error:
        outcome["status"] = "failed"
        outcome["error"] = {"ename": error.ename, "evalue": error.evalue}
    except KeyboardInterrupt:
        outcome["status"] = "interrupted"
        outcome["error"] = {"ename": "Interrupted", "evalue": "stopped by Ctrl-C or SIGTERM"}
    except Exception as error:  # a kernel that died, timed out or is not installed, an unreadable notebook...
        outcome["status"] = "failed"
        outcome["error"] = {"ename": type(error).__name__, "evalue": describe_failure(error)}
    outcome["duration_s"] = round(time.perf_counter() - clock, 3)
    outcome["finished_at"] = _now()
    outcome["data"] = read_usage(task.usage)
    secrets.scrub_run(task.parameters, task.workspace, [task.work_path, task.log], outcome)
    try:
        outcome.update(keep_executed(task, outcome["error"]))
    except OSError as error:  # e.g. a full disk: the run failed, the worker goes on
        outcome["status"] = "failed"
        outcome["error"] = {"cell_index": None, "ename": type(error).__name__, "evalue": str(error)}
    return outcome


def keep_executed(task: RunTask, error: dict[str, Any] | None) -> dict[str, Any]:
    """Move the executed notebook (complete or stopped) to its final path, atomically; return the outcome's
    ``output`` and, for a stopped run, its ``error`` completed with the cell it stopped in."""
    from eigkit.atomic import copy_file
    from eigkit.runner.partial import read_notebook, stopped_cell

    kept: dict[str, Any] = {}
    notebook = read_notebook(task.work_path)  # None: never written, or cut mid-write by a signal
    if error is not None:
        cell = stopped_cell(notebook) if notebook is not None else None
        kept["error"] = error | {
            "cell_index": cell.cell_index if cell else None,
            "execution_count": cell.execution_count if cell else None,
            "source": cell.source if cell else None,
        }
    if notebook is not None:
        copy_file(task.work_path, task.output)
        kept["output"] = task.output.name
    task.work_path.unlink(missing_ok=True)
    return kept


def describe_failure(error: BaseException) -> str:
    """The message of a failure outside any cell, with what to do for a kernel that is not installed."""
    text = str(error) or type(error).__name__
    if type(error).__name__ == "NoSuchKernel":
        from jupyter_client.kernelspec import find_kernel_specs

        installed = ", ".join(sorted(find_kernel_specs())) or "none"
        text += f" (kernels installed here: {installed}; the notebook's metadata.kernelspec names the kernel)"
    return text


def read_usage(path: Path) -> list[dict[str, Any]]:
    """Read the data-usage JSON lines a run wrote (each dataset once, in first-use order)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    entries: list[dict[str, Any]] = []
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if entry not in entries:
            entries.append(entry)
    return entries
