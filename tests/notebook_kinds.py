"""Run a défi kind's notebooks the way a baked workspace's CI does, for the kinds' tests.

Given a kind, :func:`make_workspace` lays out a minimal défi workspace in a folder (``pyproject.toml`` with
``[tool.eig]``, the kind's notebooks in ``notebooks/``, its params files in ``params/``), :func:`run_kind`
executes every notebook with the CI parameters and :func:`nbval_check` re-runs the executed notebooks under
nbval (real kernels) and compares their outputs.

The kit's runner (``eigkit.run``, ``eigkit.runner.check``) is used when importable; otherwise papermill's
Python API and a ``pytest --nbval`` subprocess do the same job, so that the kinds can be tested on their own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import eigkit
from eigkit.paths import kit_root

IMAGE_TYPES = ("image/svg+xml", "image/png")


@dataclass
class KindRun:
    """The outcome of running one kind's notebooks in a workspace."""

    kind: str
    workspace: Path
    executed: dict[str, Path] = field(default_factory=dict)  # notebook stem -> executed notebook
    seconds: float = 0.0

    def notebook(self, stem: str) -> dict[str, Any]:
        """The executed notebook ``stem`` as JSON."""
        return json.loads(self.executed[stem].read_text(encoding="utf-8"))


def kind_folder(kind: str) -> Path:
    """The kit's folder of ``kind`` (``notebooks/<kind>``); fails clearly when the kind has none."""
    folder = kit_root() / "notebooks" / kind
    if not any(folder.glob("*.ipynb")):
        raise FileNotFoundError(f"{folder}: no notebook for kind {kind!r}")
    return folder


def make_workspace(kind: str, folder: Path) -> Path:
    """Lay out a minimal défi workspace of ``kind`` in ``folder`` and return it."""
    source = kind_folder(kind)
    (folder / "notebooks").mkdir(parents=True, exist_ok=True)
    (folder / "params").mkdir(exist_ok=True)
    (folder / "pyproject.toml").write_text(
        f'[project]\nname = "test-{kind}"\nversion = "0"\n\n'
        f'[tool.eig]\nkind = "{kind}"\nkit_version = "{eigkit.__version__}"\n',
        encoding="utf-8",
    )
    for notebook in sorted(source.glob("*.ipynb")):
        shutil.copy2(notebook, folder / "notebooks" / notebook.name)
    for params in sorted((source / "params").glob("*.yaml")):
        shutil.copy2(params, folder / "params" / params.name)
    return folder


def notebook_stems(workspace: Path) -> list[str]:
    """The workspace's notebooks in run order."""
    return [path.stem for path in sorted((workspace / "notebooks").glob("*.ipynb"))]


def run_kind(
    kind: str, workspace: Path, params: str = "params/ci.yaml", overrides: dict[str, Any] | None = None
) -> KindRun:
    """Execute every notebook of ``workspace`` with ``params`` (and ``overrides``); raise when one fails."""
    started = time.perf_counter()
    run = KindRun(kind, workspace)
    if _kit_runner_available():
        run.executed = _run_with_kit(workspace, params, overrides or {})
    elif overrides:
        raise RuntimeError("overrides need the kit's runner (eigkit.run)")
    else:
        run.executed = _run_with_papermill(workspace, params)
    run.seconds = time.perf_counter() - started
    return run


def nbval_check(run: KindRun) -> int:
    """Re-run the executed notebooks under nbval (``--nbval``, kit sanitize file); return pytest's code."""
    if _kit_runner_available():
        from eigkit.runner.check import check

        return check(
            [str(path) for path in run.executed.values()], workspace=run.workspace, current_env=True
        ).returncode
    sanitize = kit_root() / "shared" / "eigkit" / "runner" / "nbval_sanitize.cfg"
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--nbval",
        "--nbval-current-env",
    ]
    if sanitize.is_file():
        command += ["--nbval-sanitize-with", str(sanitize)]
    command += [str(path) for path in run.executed.values()]
    env = {**os.environ, "EIG_WORKSPACE": str(run.workspace)}
    return subprocess.run(command, cwd=run.workspace, env=env, timeout=300, check=False).returncode


def figures(notebook: dict[str, Any]) -> list[str]:
    """The image outputs (their MIME types) of an executed notebook, in order."""
    found = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            found += [mime for mime in IMAGE_TYPES if mime in output.get("data", {})]
    return found


def text_outputs(notebook: dict[str, Any]) -> str:
    """Every text, HTML and stream output of an executed notebook, joined (for consistency checks)."""
    parts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                parts.append("".join(output.get("text", "")))
            for mime in ("text/plain", "text/html"):
                value = output.get("data", {}).get(mime)
                if value:
                    parts.append("".join(value))
    return "\n".join(parts)


def _kit_runner_available() -> bool:
    try:
        import eigkit.runner.check
        import eigkit.runner.execute  # noqa: F401
    except ImportError:
        return False
    return True


def _run_with_kit(workspace: Path, params: str, overrides: dict[str, Any]) -> dict[str, Path]:
    """Run through ``eigkit.run`` and return the executed notebooks it recorded; fail with the errors."""
    result = eigkit.run(params=workspace / params, overrides=overrides, workspace=workspace, progress=False)
    if not result.ok:
        failures = "\n".join(
            f"{entry['name']}: {entry['status']} {entry.get('error')}" for entry in result.failed
        )
        raise AssertionError(f"eig run failed in {workspace}:\n{failures}")
    return {Path(entry["output"]).stem: result.run_dir / entry["output"] for entry in result.runs}


def _run_with_papermill(workspace: Path, params: str) -> dict[str, Path]:
    """Fallback while the kit's runner is not there: papermill's Python API, one notebook after another."""
    import papermill

    values = _split_params(workspace, workspace / params)
    out_dir = workspace / "runs" / "test"
    out_dir.mkdir(parents=True, exist_ok=True)
    executed = {}
    previous = os.environ.get("EIG_WORKSPACE")
    os.environ["EIG_WORKSPACE"] = str(workspace)
    try:
        for stem in notebook_stems(workspace):
            output = out_dir / f"{stem}.ipynb"
            papermill.execute_notebook(
                str(workspace / "notebooks" / f"{stem}.ipynb"),
                str(output),
                parameters=values[stem],
                cwd=str(workspace),
                kernel_name="python3",
                progress_bar=False,
                start_timeout=120,
            )
            executed[stem] = output
    finally:
        if previous is None:
            os.environ.pop("EIG_WORKSPACE", None)
        else:
            os.environ["EIG_WORKSPACE"] = previous
    return executed


def _split_params(workspace: Path, params_file: Path) -> dict[str, dict[str, Any]]:
    """Notebook stem -> typed values, with the kit's params-file rule."""
    from eigkit.runner.params import declared_parameters, load_yaml_text, split_params_file, validate

    declared = {
        stem: declared_parameters(workspace / "notebooks" / f"{stem}.ipynb")
        for stem in notebook_stems(workspace)
    }
    raw = split_params_file(str(params_file), load_yaml_text(params_file), declared)
    return {stem: validate(stem, declared[stem], raw[stem]) for stem in declared}


@dataclass
class Acceptance:
    """A workspace baked by ``eig new`` whose ``eig run`` and ``eig check`` were run, with their outcome."""

    workspace: Path
    steps: dict[str, subprocess.CompletedProcess[str]]
    seconds: dict[str, float]


def bake_run_check(kind: str, folder: Path, cookiecutter_config: Path) -> Acceptance:
    """The issue's acceptance, through the ``eig`` command as an entrepreneur types it.

    ``eig new "Test" --kind KIND --no-input`` (kit_source: this checkout, no git, temporary cookiecutter
    config), then in the workspace ``eig run --params params/ci.yaml`` and ``eig check``.
    """
    eig = str(Path(sys.executable).parent / "eig")
    env = {k: v for k, v in os.environ.items() if k != "EIG_WORKSPACE"}
    env["COOKIECUTTER_CONFIG"] = str(cookiecutter_config)
    steps, seconds = {}, {}

    def step(name: str, argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        started = time.perf_counter()
        steps[name] = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
        seconds[name] = time.perf_counter() - started
        return steps[name]

    baked = step(
        "new",
        [eig, "new", "Test", "--kind", kind, "--no-input", "--no-git", "--output-dir", str(folder),
         "--set", f"kit_source={kit_root()}"],
        folder,
    )  # fmt: skip
    workspaces = [path.parent for path in folder.glob("*/pyproject.toml")]
    if baked.returncode != 0 or len(workspaces) != 1:
        raise AssertionError(f"eig new failed:\n{baked.stdout}\n{baked.stderr}")
    workspace = workspaces[0]
    if step("run", [eig, "run", "--params", "params/ci.yaml"], workspace).returncode == 0:
        step("check", [eig, "check"], workspace)
    return Acceptance(workspace, steps, seconds)


def figure_counts(run: KindRun) -> dict[str, int]:
    """How many figures each executed notebook of ``run`` shows."""
    return {stem: len(figures(run.notebook(stem))) for stem in run.executed}
