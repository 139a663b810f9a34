"""``eigkit.run`` / ``eig run``: validate every run's parameters, execute, record, publish.

The stages, in order: find the workspace and its notebooks -> read what each notebook declares -> gather
values (params file, grid, overrides) and check them all, before any kernel starts -> execute the runs,
notebook after notebook in name order (the runs of one notebook, e.g. a grid, in parallel) -> record each
outcome in ``runs/<run-id>/manifest.json`` -> publish the successful runs' reports into ``reports/``.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from eigkit.errors import RunnerError
from eigkit.runner import diff, report, reuse  # reruns: reuse of unchanged runs, change section
from eigkit.runner import manifest as manifests
from eigkit.runner.grid import expand_grid
from eigkit.runner.params import (
    Parameter,
    ParameterError,
    declared_parameters,
    load_yaml_text,
    split_params_file,
    unknown_parameter_error,
    validate,
)
from eigkit.runner.progress import Progress, summary
from eigkit.runner.worker import RunTask

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
    from eigkit.paths import is_workspace, workspace_root

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
            checked = validate(path.name, mine, values)
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
    - ``force``: re-execute every run (by default a run whose fingerprint did not change is reused);
      ``explain``: print why each run was reused or executed.

    Raises :class:`ParameterError` before any kernel starts when a value does not fit; returns a
    :class:`RunResult` otherwise (check ``result.ok``; failed notebooks are kept in the run folder).
    """
    root = find_workspace(workspace)
    paths = find_notebooks(root, notebooks)
    planned = plan(root, paths, params=params, overrides=overrides, grid=grid)
    run_id = manifests.new_run_id()
    run_dir = root / "runs" / run_id
    run_dir.mkdir(parents=True)
    tasks = [
        RunTask(index, name, str(path), str(run_dir), str(root), checked, timeout, with_code)
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
        "command": {
            "notebooks": [str(p) for p in notebooks or []],
            "params": str(params) if params is not None and not isinstance(params, Mapping) else params,
            "overrides": dict(overrides or {}),
            "grid": str(grid) if isinstance(grid, str | os.PathLike) else grid,
            "workers": workers,
            "cluster": cluster,
            "timeout": timeout,
            "with_code": with_code,
        },
        "environment": manifests.environment(),
        "git": manifests.git_state(root),
        "runs": entries,
    }
    reused = reuse.apply(root, run_dir, tasks, entries, force=force)  # reruns
    manifests.write(run_dir, record)
    clock = time.perf_counter()
    received: list[int] = []
    waves = _waves([task for task in tasks if not reused[task.index]])  # reruns: only what changed
    workers = max(1, min(workers or os.cpu_count() or 1, max((len(wave) for wave in waves), default=1)))
    bar = Progress(len(tasks) - sum(reused), enabled=progress)  # reruns: reused runs are done

    def settle(outcome: dict[str, Any]) -> None:
        entry = entries[outcome["index"]]
        entry.update({key: value for key, value in outcome.items() if key not in {"index", "name"}})
        bar.update(entry["status"])
        manifests.write(run_dir, record)

    try:
        with _sigterm_as_interrupt(received):
            from eigkit.runner.pool import make_pool

            try:
                pool = make_pool(workers, cluster) if waves else reuse.NoPool()  # reruns
            except RuntimeError as error:
                raise RunnerError(str(error)) from error
            try:
                for position, wave in enumerate(waves):
                    for outcome in pool.run_wave(wave):
                        settle(outcome)
                    if any(entries[task.index]["status"] != "ok" for task in wave):
                        for later in waves[position + 1 :]:
                            for task in later:
                                entries[task.index]["status"] = "skipped"
                        break
            except KeyboardInterrupt:
                received.append(signal.SIGINT) if not received else None
                with _ignoring_signals():
                    for outcome in pool.interrupt():
                        settle(outcome)
                    for entry in entries:
                        if entry["status"] == "pending":
                            entry["status"] = "interrupted"
            else:
                pool.close()
    finally:
        bar.close()
        statuses = [entry["status"] for entry in entries]
        record["status"] = "interrupted" if received else manifests.overall_status(statuses)
        if record["status"] == "running":
            record["status"] = "interrupted"
        for entry in entries:
            if entry["status"] == "pending":
                entry["status"] = "interrupted"
        reuse.finalize(root, run_dir, entries)  # reruns: fingerprints and tables of the runs that executed
        record["finished_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
        record["duration_s"] = round(time.perf_counter() - clock, 3)
        manifests.write(run_dir, record)
    with contextlib.suppress(OSError):
        (run_dir / ".work").rmdir()  # empty once every notebook moved to its final path
    result = RunResult(run_id, run_dir, record["status"], entries, signal=received[0] if received else None)
    result.reports_index = _publish(root, run_dir, run_id, entries)
    diff.add_to_index(root, result.reports_index)  # reruns: "Ce qui a changé depuis le dernier run réussi"
    if progress:
        print(summary(result), file=sys.stderr)
    if progress or explain:  # reruns
        print(reuse.explain(entries) if explain else reuse.counts(entries), file=sys.stderr)
    return result


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


def _publish(root: Path, run_dir: Path, run_id: str, entries: list[dict[str, Any]]) -> Path | None:
    """Write the run's index and publish its successful reports into the workspace's ``reports/``."""
    for entry in entries:
        entry.setdefault("report", None)
    run_reports = run_dir / "reports"
    from eigkit.atomic import write_text

    write_text(run_reports / "index.html", report.index_html(run_id, entries, {}, link_prefix=""))
    return report.publish(root / "reports", run_id, entries, run_reports.parent)


__all__ = ["ParameterError", "RunResult", "RunnerError", "plan", "run"]
