"""``eig check``: re-run the executed notebooks with nbval and compare every output; refuse committed outputs.

The notebooks checked are the executed ones of the latest run (``runs/<run-id>/*.ipynb``), or the paths
given. nbval re-executes each in a fresh kernel started at the workspace root and compares its outputs with
the recorded ones, through the workspace's ``tests/nbval_sanitize.cfg`` (else the kit's copy). The check
also fails when a notebook under ``notebooks/`` carries outputs or execution counts: committed notebooks
must be clean (``nbstripout notebooks/*.ipynb``).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eigkit.runner import manifest as manifests
from eigkit.runner.execute import PathLike, RunnerError, find_workspace
from eigkit.runner.fastkernel import QUIET_DEBUGGER
from eigkit.runner.lean_imports import run_module_code

NOTICE_SECONDS = 2.0  # after Ctrl-C, how long pytest gets to notice it (the terminal sent it too)
STOP_SECONDS = 20.0  # then how long it gets to stop its kernels, once told
KIT_SANITIZE = Path(__file__).resolve().parent / "nbval_sanitize.cfg"


class CheckError(RunnerError):
    """Nothing to check: no run yet, or a path that is not an executed notebook."""


@dataclass
class CheckResult:
    """The outcome of ``check``: pytest's return code, what was checked, and the problems found before."""

    returncode: int
    notebooks: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    command: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every output matched and no committed notebook carries outputs."""
        return self.returncode == 0


def notebooks_with_outputs(folder: Path) -> list[str]:
    """Describe each notebook in ``folder`` (recursively) that carries outputs or execution counts."""
    found = []
    for path in sorted(folder.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        try:
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
        except (OSError, json.JSONDecodeError) as error:
            found.append(f"{path}: unreadable notebook ({error})")
            continue
        with_outputs = [i for i, cell in enumerate(cells) if cell.get("outputs")]
        with_counts = [i for i, cell in enumerate(cells) if cell.get("execution_count") is not None]
        if with_outputs or with_counts:
            found.append(
                f"{path}: committed notebook carries outputs (cells {with_outputs}) or execution counts "
                f"(cells {with_counts}); clean it with `nbstripout {path}`."
            )
    return found


def sanitize_file(root: Path) -> Path:
    """The workspace's ``tests/nbval_sanitize.cfg`` when present, else the kit's."""
    own = root / "tests" / "nbval_sanitize.cfg"
    return own if own.is_file() else KIT_SANITIZE


def latest_executed(root: Path) -> tuple[list[Path], list[str]]:
    """The executed notebooks of the latest run that succeeded, and a line per run that did not."""
    run_dir = manifests.latest_run(root / "runs")
    if run_dir is None:
        raise CheckError(f"{root / 'runs'}: no run yet; run `eig run --params params/ci.yaml` first.")
    record = manifests.read(run_dir)
    notebooks, problems = [], []
    for entry in record.get("runs", []):
        if entry.get("status") == "ok" and entry.get("output"):
            notebooks.append(run_dir / entry["output"])
        else:
            problems.append(f"{run_dir.name}/{entry['name']}: {entry.get('status')} in the latest run")
    return notebooks, problems


def check(
    paths: Sequence[PathLike] | None = None,
    *,
    workspace: PathLike | None = None,
    current_env: bool = False,
    lax: bool = False,
    extra_args: Sequence[str] = (),
) -> CheckResult:
    """Validate executed notebooks with nbval (``--nbval``, or ``--nbval-lax`` when ``lax``).

    ``paths``: executed notebooks or run folders (default: the latest run). ``current_env``: run the
    kernels with this Python (``--nbval-current-env``). Prints pytest's report; returns a
    :class:`CheckResult` whose ``returncode`` is 0 only when every check passed.
    """
    root = find_workspace(workspace)
    problems = notebooks_with_outputs(root / "notebooks")
    if paths:
        notebooks = []
        for path in map(Path, paths):
            found = sorted(path.glob("*.ipynb")) if path.is_dir() else [path]
            if not found or not all(p.is_file() for p in found):
                raise CheckError(f"{path}: no executed notebook there.")
            notebooks.extend(p.resolve() for p in found)
    else:
        notebooks, run_problems = latest_executed(root)
        problems += run_problems
    for problem in problems:
        print(f"✗ {problem}", file=sys.stderr)
    if not notebooks:
        return CheckResult(1, [], problems or ["no executed notebook to check"])
    command = [
        sys.executable,
        "-c",
        run_module_code("pytest"),
        "--nbval-lax" if lax else "--nbval",
        "--nbval-sanitize-with",
        str(sanitize_file(root)),
        "-p",
        "eigkit.runner.nbval_kernels",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:anyio",  # anyio's plugin serves async tests, never notebooks: 0.25 s of CPU at each check
        "--rootdir",
        str(root),
        "-c",
        os.devnull,
        *(["--nbval-current-env"] if current_env else []),
        *extra_args,
        *map(str, notebooks),
    ]
    with tempfile.TemporaryDirectory(prefix="eig-check-") as scratch:
        env = os.environ | QUIET_DEBUGGER | {"EIG_WORKSPACE": str(root)}
        env["EIG_DATA_USAGE"] = str(Path(scratch) / "data.jsonl")
        returncode = _run_pytest(command, root, env)
    if problems and returncode == 0:
        returncode = 1
    return CheckResult(returncode, notebooks, problems, command)


def _run_pytest(command: list[str], root: Path, env: dict[str, str]) -> int:
    """Run nbval's pytest and return its exit code. On Ctrl-C, pytest stops its kernels itself before this
    process goes on (``subprocess.run`` would kill it after 0.25 s, its kernels' files left behind): it is
    told (SIGINT) if it did not hear it, and killed only if it does not stop in time."""
    process = subprocess.Popen(command, cwd=root, env=env)
    try:
        return process.wait()
    except KeyboardInterrupt:
        try:
            process.wait(timeout=NOTICE_SECONDS)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=STOP_SECONDS)
        raise
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
