"""``eigkit.run`` / ``eig run``: validate every run's parameters, execute, record, publish.

:func:`run` is :func:`plan` (find the workspace and its notebooks, gather values from the params file, the
grid and the overrides, check them all before any kernel starts) followed by four named stages:

1. :func:`prepare_record`: check that ``runs/`` and ``reports/`` can be written, mark runs whose driver died
   as abandoned, create ``runs/<run-id>/`` and its manifest ("running");
2. :func:`run_waves`: open the pool (local processes or Dask), execute notebook after notebook in name order
   (the runs of one notebook, e.g. a grid, in parallel), record each outcome as it arrives and render the
   report of each successful run (:func:`render_report`); Ctrl-C / SIGTERM stop every worker and kernel;
3. :func:`finalise`: the overall status, the runs that did not finish, the final manifest;
4. :func:`publish`: the run's own index, then the successful reports into ``reports/``.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from eigkit.atomic import write_text
from eigkit.errors import EigError, RunnerError
from eigkit.paths import is_workspace, temporary_folder, workspace_root
from eigkit.runner import diff, report, reuse
from eigkit.runner import manifest as manifests
from eigkit.runner.grid import expand_grid
from eigkit.runner.params import (
    Parameter,
    ParameterError,
    check_kernel,
    declared_parameters,
    load_yaml_text,
    split_params_file,
    unknown_parameter_error,
    validate,
)
from eigkit.runner.progress import Progress, summary
from eigkit.runner.worker import RunTask
from eigkit.settings import report_theme

PathLike = str | os.PathLike[str]


@dataclass
class RunResult:
    """What ``run`` did: the run's id and folder, its overall status, and one manifest entry per run."""

    run_id: str
    run_dir: Path
    status: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    reports_index: Path | None = None
    signal: int | None = None

    @property
    def manifest(self) -> Path:
        """The run's ``manifest.json``."""
        return self.run_dir / manifests.MANIFEST

    @property
    def ok(self) -> bool:
        """True when every notebook ran to its end without error."""
        return self.status == "ok"

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The manifest entries of the runs that did not succeed."""
        return [entry for entry in self.runs if entry["status"] != "ok"]

    @property
    def exit_code(self) -> int:
        """0 when ok, 1 when a notebook failed, 128 + signal number (130 for Ctrl-C) when interrupted."""
        if self.status == "interrupted":
            return 128 + (self.signal or signal.SIGINT)
        return 0 if self.ok else 1


def find_workspace(workspace: PathLike | None) -> Path:
    """The défi workspace to run in: ``workspace`` if given, else the one around the current folder."""
    if workspace is not None:
        root = Path(workspace).resolve()
        if not is_workspace(root):
            raise RunnerError(f"{root}: not a défi workspace (no pyproject.toml with a [tool.eig] table).")
        return root
    root = workspace_root()
    if root is None:
        raise RunnerError(
            "Not inside a défi workspace: run this from a folder created by `eig new` (or set EIG_WORKSPACE)."
        )
    return root


def find_notebooks(root: Path, notebooks: Sequence[PathLike] | None) -> list[Path]:
    """The notebooks to run: those named (a path, or a name inside ``notebooks/``), else all, by name."""
    folder = root / "notebooks"
    if not notebooks:
        found = sorted(folder.glob("*.ipynb"))
        if not found:
            raise RunnerError(f"{folder}: no notebook (*.ipynb) to run.")
        return found
    resolved = []
    for name in notebooks:
        candidates = [Path(name), folder / name, folder / f"{name}.ipynb"]
        path = next((candidate for candidate in candidates if candidate.is_file()), None)
        if path is None:
            available = ", ".join(p.name for p in sorted(folder.glob("*.ipynb"))) or "none"
            raise RunnerError(f"Notebook '{name}' not found (notebooks in {folder}: {available}).")
        resolved.append(path.resolve())
    return resolved


def _read_mapping(value: PathLike | Mapping[str, Any] | None) -> tuple[str, Any]:
    if value is None:
        return "", None
    if isinstance(value, Mapping | list):
        return "parameters", value
    return str(value), load_yaml_text(value)


def _spread(source: str, values: Mapping[str, Any], declared: Mapping[str, Mapping[str, Parameter]]) -> None:
    """Refuse a name that no notebook declares (the error names the notebooks and the closest name)."""
    every_name = sorted({name for parameters in declared.values() for name in parameters})
    notebooks = ", ".join(f"{stem}.ipynb" for stem in declared)
    for name in values:
        if name not in every_name:
            raise unknown_parameter_error(f"{notebooks} ({source})", name, every_name)


def _label(values: Mapping[str, Any]) -> str:
    text = ",".join(f"{key}={value}" for key, value in values.items())
    return re.sub(r"[^\w=,.+-]", "_", text)[:80]


def plan(
    root: Path,
    notebooks: Sequence[Path],
    *,
    params: PathLike | Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    grid: PathLike | Mapping[str, Any] | list[Any] | None = None,
) -> list[tuple[Path, str, dict[str, Any]]]:
    """Check every run's parameters; return ``(notebook, run name, typed parameters)`` in run order.

    Values: the params file, then the grid point, then ``overrides`` (later wins). Raises
    :class:`ParameterError` (naming notebook, parameter and expected type) before anything runs.
    """
    declared = {path.stem: declared_parameters(path) for path in notebooks}
    source, content = _read_mapping(params)
    from_file = split_params_file(source or "parameters", content, declared)
    overrides = dict(overrides or {})
    _spread("-p", overrides, declared)
    grid_source, grid_content = _read_mapping(grid)
    points = expand_grid(grid_content, grid_source) if grid is not None else [{}]
    for point in points:
        _spread(grid_source, point, declared)
    planned = []
    for path in notebooks:
        mine = declared[path.stem]
        seen: list[dict[str, Any]] = []
        for point in points:
            values = from_file[path.stem] | {k: v for k, v in point.items() if k in mine}
            values |= {k: v for k, v in overrides.items() if k in mine}
            checked = validate(path.name, mine, values, workspace=root)
            if checked not in seen:
                seen.append(checked)
        for checked in seen:
            varying = {k: v for k, v in checked.items() if any(k in p for p in points) and len(seen) > 1}
            name = f"{path.stem}--{_label(varying)}" if varying else path.stem
            planned.append((path, name, checked))
    names = [name for _, name, _ in planned]
    for position, (path, name, checked) in enumerate(planned):
        if names.count(name) > 1:
            planned[position] = (path, f"{name}--{position:03d}", checked)
    return planned


@contextlib.contextmanager
def _sigterm_as_interrupt(received: list[int]) -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt like Ctrl-C does (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        received.append(signum)
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(
    notebooks: Sequence[PathLike] | None = None,
    *,
    params: PathLike | Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    grid: PathLike | Mapping[str, Any] | list[Any] | None = None,
    workers: int | None = None,
    cluster: str | None = None,
    timeout: float | None = None,
    with_code: bool = False,
    workspace: PathLike | None = None,
    progress: bool = True,
    kernel: str | None = None,
    theme: str | None = None,
    force: bool = False,
    explain: bool = False,
) -> RunResult:
    """Run a workspace's notebooks with validated parameters; record the run and publish its reports.

    - ``notebooks``: paths or names in ``notebooks/`` (default: all, in name order).
    - ``params``: a params YAML file (or the same structure as a mapping): top-level values go to every
      notebook declaring them, a ``<notebook stem>:`` section to that notebook only.
    - ``overrides``: ``name -> value`` for every notebook declaring ``name`` (text is parsed by type).
    - ``grid``: a YAML file, a mapping ``name -> [values]`` (cartesian product) or a list of mappings.
    - ``workers``: local processes (default: one per core); ``cluster``: a Dask scheduler address instead.
    - ``timeout``: seconds allowed to each cell. ``with_code``: keep code cells in the reports.
    - ``kernel``: the Jupyter kernel to run the notebooks with (default: the one each notebook names).
    - ``theme``: the reports' look, ``"neutral"`` or ``"dsfr"`` (default: ``[tool.eig] theme``, else neutral).
    - ``force``: re-execute every run (by default a run whose fingerprint did not change is reused);
      ``explain``: print why each run was reused or executed.

    Raises :class:`ParameterError` before any kernel starts when a value does not fit, and
    :class:`RunnerError` when ``runs/`` or ``reports/`` cannot be written (checked before any kernel
    starts) or when the run is stopped by an unexpected error (the pool is closed first, the manifest says
    "failed"). Returns a :class:`RunResult` otherwise (check ``result.ok``; failed or stopped notebooks
    are kept, executed as far as they went, in the run folder).
    """
    root = find_workspace(workspace)
    paths = find_notebooks(root, notebooks)
    planned = plan(root, paths, params=params, overrides=overrides, grid=grid)
    check_kernel(kernel)
    temporary_folder()  # kernels' sockets and pool need one: an EigError saying so, before any record
    theme, partner = report_theme(root, theme)
    command = {
        "notebooks": [str(p) for p in notebooks or []],
        "params": str(params) if params is not None and not isinstance(params, Mapping) else params,
        "overrides": dict(overrides or {}),
        "grid": str(grid) if isinstance(grid, str | os.PathLike) else grid,
        "workers": workers,
        "cluster": cluster,
        "timeout": timeout,
        "with_code": with_code,
        "kernel": kernel,
        "theme": theme,
    }
    state = prepare_record(
        root, planned, command, timeout=timeout, with_code=with_code, kernel=kernel, force=force
    )
    state.theme, state.partner = theme, partner
    restyle_reused(state)
    try:
        run_waves(state, workers=workers, cluster=cluster, progress=progress)
    except EigError as error:
        finalise(state, error)
        raise
    except Exception as error:  # disk full, a bug...: the pool is closed; say so plainly, exit non-zero
        with contextlib.suppress(OSError):
            finalise(state, error)
        raise RunnerError(
            f"run {state.run_id} stopped: {type(error).__name__}: {error}. "
            f"Executed notebooks so far and the manifest are in {state.run_dir}."
        ) from error
    finalise(state)
    result = RunResult(
        state.run_id, state.run_dir, state.record["status"], state.entries, signal=state.signal
    )
    try:
        result.reports_index = publish(state)
        diff.add_to_index(root, result.reports_index)  # "Ce qui a changé depuis le dernier run réussi"
    except OSError as error:
        raise RunnerError(f"run {state.run_id}: the reports could not be published: {error}.") from error
    if progress:
        print(summary(result), file=sys.stderr)
    if progress or explain:
        print(reuse.explain(state.entries) if explain else reuse.counts(state.entries), file=sys.stderr)
    return result


@dataclass
class RunState:
    """A run being carried out: its folder, tasks, manifest record (``entries`` are its ``runs``)."""

    root: Path
    run_dir: Path
    tasks: list[RunTask]
    record: dict[str, Any]
    clock: float = field(default_factory=time.perf_counter)
    received: list[int] = field(default_factory=list)
    theme: str = "neutral"  # the reports' look, and the partner named in the DSFR header
    partner: str | None = None
    reused: list[bool] = field(default_factory=list)  # per task: an earlier run's result is reused

    @property
    def run_id(self) -> str:
        """The run's id (its folder's name)."""
        return str(self.record["run_id"])

    @property
    def entries(self) -> list[dict[str, Any]]:
        """One manifest entry per run, in run order."""
        return self.record["runs"]

    @property
    def signal(self) -> int | None:
        """The signal that interrupted the run, if any."""
        return self.received[0] if self.received else None


def check_writable(folder: Path) -> None:
    """Make sure files can be created in ``folder`` (created if missing), by creating one; RunnerError if not.

    A real write, not ``os.access``: mode bits do not tell about read-only mounts, and root ignores them.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=".eig-write-check-"):
            pass
    except OSError as error:
        raise RunnerError(
            f"{folder}: cannot write there ({error.strerror or error}); make it writable (or free some "
            "space) before running: nothing was run."
        ) from error


def prepare_record(
    root: Path,
    planned: list[tuple[Path, str, dict[str, Any]]],
    command: dict[str, Any],
    *,
    timeout: float | None,
    with_code: bool,
    kernel: str | None = None,
    force: bool = False,
) -> RunState:
    """Stage 1: check that ``runs/`` and ``reports/`` are writable, mark runs whose driver died as abandoned,
    create the run folder, decide which runs an earlier run already gave (:mod:`eigkit.runner.reuse`, unless
    ``force``) and write the manifest ("running"; reused runs "ok", the others "pending")."""
    for folder in (root / "runs", root / "reports"):
        check_writable(folder)
    manifests.abandon_stale(root / "runs")
    run_id = manifests.new_run_id()
    run_dir = root / "runs" / run_id
    run_dir.mkdir(parents=True)
    tasks = [
        RunTask(index, name, str(path), str(run_dir), str(root), checked, timeout, with_code, kernel)
        for index, (path, name, checked) in enumerate(planned)
    ]
    entries = [
        {
            "name": task.name,
            "notebook": Path(task.notebook).relative_to(root).as_posix()
            if Path(task.notebook).is_relative_to(root)
            else task.notebook,
            "parameters": task.parameters,
            "status": "pending",
            "error": None,
        }
        for task in tasks
    ]
    record = {
        "run_id": run_id,
        "status": "running",
        "started_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "workspace": str(root),
        "driver": manifests.driver(),
        "command": command,
        "environment": manifests.environment(),
        "git": manifests.git_state(root),
        "runs": entries,
    }
    reused = reuse.apply(root, run_dir, tasks, entries, force=force)  # what an earlier run already gave
    manifests.write(run_dir, record)
    return RunState(root, run_dir, tasks, record, reused=reused)


def run_waves(state: RunState, *, workers: int | None, cluster: str | None, progress: bool) -> None:
    """Stage 2: execute the runs wave after wave (a wave: the runs of one notebook, in parallel), recording
    and rendering each outcome as it arrives; after a failed wave the later ones are skipped.

    Ctrl-C or SIGTERM stops every worker (each stops its kernel) and marks the runs not finished as
    interrupted. Any other exception stops the pool too, then propagates.
    """
    reused = state.reused or [False] * len(state.tasks)
    waves = _waves([task for task in state.tasks if not reused[task.index]])  # only what changed
    workers = max(1, min(workers or os.cpu_count() or 1, max((len(wave) for wave in waves), default=1)))
    bar = Progress(len(state.tasks) - sum(reused), enabled=progress)

    def settle(outcome: dict[str, Any]) -> None:
        entry = state.entries[outcome["index"]]
        entry.update({key: value for key, value in outcome.items() if key not in {"index", "name"}})
        if entry["status"] == "ok":
            render_report(state.tasks[outcome["index"]], entry, state.theme, state.partner)
        bar.update(entry["status"])
        manifests.write(state.run_dir, state.record)

    try:
        with _sigterm_as_interrupt(state.received):
            pool = _open_pool(workers, cluster) if waves else reuse.NoPool()
            try:
                for position, wave in enumerate(waves):
                    for outcome in pool.run_wave(wave):
                        settle(outcome)
                    if any(state.entries[task.index]["status"] != "ok" for task in wave):
                        for later in waves[position + 1 :]:
                            for task in later:
                                state.entries[task.index]["status"] = "skipped"
                        break
            except KeyboardInterrupt:
                state.received.append(signal.SIGINT) if not state.received else None
                with _ignoring_signals():
                    for outcome in pool.interrupt():
                        settle(outcome)
            except BaseException:
                with _ignoring_signals(), contextlib.suppress(Exception):
                    pool.interrupt()
                raise
            else:
                pool.close()
    finally:
        bar.close()


def _open_pool(workers: int, cluster: str | None) -> Any:
    from eigkit.runner.pool import make_pool

    try:
        return make_pool(workers, cluster)
    except RuntimeError as error:
        raise RunnerError(str(error)) from error


def finalise(state: RunState, error: BaseException | None = None) -> None:
    """Stage 3: settle the overall status and every run not finished, then write the final manifest.

    Interrupted when a signal stopped the run (unfinished runs: interrupted); failed when an error stopped
    it, even before any notebook started (unfinished runs: skipped); else from the runs' statuses.
    """
    record = state.record
    unfinished = "interrupted" if state.received else "skipped"
    for entry in state.entries:
        if entry["status"] in {"pending", "running"}:
            entry["status"] = unfinished
    if state.received:
        record["status"] = "interrupted"
    elif error is not None:
        record["status"] = "failed"
        record["error"] = {"ename": type(error).__name__, "evalue": str(error)}
    else:
        record["status"] = manifests.overall_status([entry["status"] for entry in state.entries])
    if error is None and not state.received:
        reuse.finalize(state.root, state.run_dir, state.entries)  # fingerprints and tables of what ran
    record["finished_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
    record["duration_s"] = round(time.perf_counter() - state.clock, 3)
    manifests.write(state.run_dir, record)
    with contextlib.suppress(OSError):
        (state.run_dir / ".work").rmdir()  # empty once every notebook moved to its final path


def restyle_reused(state: RunState) -> None:
    """A reused run keeps its executed notebook, but its page takes the look asked for now: rendered again
    (no kernel) when its theme, partner or code display differs from the earlier run's."""
    for task in state.tasks:
        entry = state.entries[task.index]
        reused = bool(state.reused) and state.reused[task.index]
        if reused and entry.get("report_look") != report_look(task, state.theme, state.partner):
            render_report(task, entry, state.theme, state.partner)


def report_look(task: RunTask, theme: str = "neutral", partner: str | None = None) -> dict[str, Any]:
    """What a run's page looks like besides its notebook: the theme, the partner named, the code shown."""
    return {"theme": theme, "partner": partner, "with_code": task.with_code}


def render_report(
    task: RunTask, entry: dict[str, Any], theme: str = "neutral", partner: str | None = None
) -> None:
    """Stage 4, for one successful run as soon as it ends: render its report into the run folder. A report
    that cannot be rendered fails that run (the error is recorded), never the others."""
    try:
        report.write_report(task.output, task.report, with_code=task.with_code, theme=theme, partner=partner)
        entry["report_look"] = report_look(task, theme, partner)
    except Exception as error:
        entry["status"] = "failed"
        entry["error"] = {
            "cell_index": None,
            "ename": "ReportError",
            "evalue": f"the HTML report could not be rendered: {type(error).__name__}: {error}",
        }
        return
    entry["report"] = f"reports/{task.report.name}"


def publish(state: RunState) -> Path | None:
    """Stage 4: write the run's own index, then publish its successful reports into ``reports/``."""
    for entry in state.entries:
        entry.setdefault("report", None)
    run_reports = state.run_dir / "reports"
    write_text(run_reports / "index.html", report.index_html(state.run_id, state.entries, {}, link_prefix=""))
    return report.publish(state.root / "reports", state.run_id, state.entries, state.run_dir)


@contextlib.contextmanager
def _ignoring_signals() -> Iterator[None]:
    """While stopping, a second Ctrl-C or SIGTERM must not cut the clean-up short."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _waves(tasks: list[RunTask]) -> list[list[RunTask]]:
    """Group consecutive runs of the same notebook: a wave runs in parallel, waves run in order."""
    waves: list[list[RunTask]] = []
    for task in tasks:
        if waves and waves[-1][0].notebook == task.notebook:
            waves[-1].append(task)
        else:
            waves.append([task])
    return waves


__all__ = [
    "ParameterError",
    "RunResult",
    "RunState",
    "RunnerError",
    "finalise",
    "plan",
    "prepare_record",
    "publish",
    "run",
    "run_waves",
]
