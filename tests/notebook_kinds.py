"""Run a défi kind's notebooks the way a baked workspace's CI does, for the kinds' tests.

Each kind is run ONCE per test session (``kind_run`` in ``conftest.py``): :func:`bake_run_check` bakes it with
``eig new``, runs ``eig run --params params/ci.yaml`` and ``eig check`` in the workspace, and
:meth:`Acceptance.kind_run` hands the outcome to the kind's tests (``ran``) and to the acceptance test, with
the recorded ``eig check`` result that :func:`nbval_check` returns. A run with other parameters (a changed
result to check) lays out its own workspace with :func:`make_workspace` and runs it with :func:`run_kind`.
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
from eigkit.runner import manifest
from eigkit.runner.check import check

IMAGE_TYPES = ("image/svg+xml", "image/png")


@dataclass
class KindRun:
    """The outcome of running one kind's notebooks in a workspace."""

    kind: str
    workspace: Path
    executed: dict[str, Path] = field(default_factory=dict)  # notebook stem -> executed notebook
    seconds: float = 0.0
    checked: int | None = None  # return code of the `eig check` already run on these notebooks, if any
    check_report: str = ""  # what that `eig check` printed

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


def run_kind(
    kind: str,
    workspace: Path,
    params: str = "params/ci.yaml",
    overrides: dict[str, Any] | None = None,
    notebooks: list[str] | None = None,
) -> KindRun:
    """Execute the notebooks of ``workspace`` (``notebooks``: these names only; default: every one) through
    ``eigkit.run`` with ``params`` (and ``overrides``); raise with each failed notebook's error when one
    fails."""
    started = time.perf_counter()
    result = eigkit.run(
        notebooks, params=workspace / params, overrides=overrides or {}, workspace=workspace, progress=False
    )
    if not result.ok:
        failures = "\n".join(
            f"{entry['name']}: {entry['status']} {entry.get('error')}" for entry in result.failed
        )
        raise AssertionError(f"eig run failed in {workspace}:\n{failures}")
    executed = {Path(entry["output"]).stem: result.run_dir / entry["output"] for entry in result.runs}
    return KindRun(kind, workspace, executed, time.perf_counter() - started)


def nbval_check(run: KindRun) -> int:
    """``eig check``'s return code for ``run``: the one recorded when the session's ``eig check`` already
    re-ran these notebooks under nbval, else a fresh check (nbval, kit sanitize file) of its notebooks."""
    if run.checked is not None:
        if run.checked != 0:
            print(run.check_report)  # shown by pytest with the failing test
        return run.checked
    return check(
        [str(path) for path in run.executed.values()], workspace=run.workspace, current_env=True
    ).returncode


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


@dataclass
class Acceptance:
    """A workspace baked by ``eig new`` whose ``eig run`` and ``eig check`` were run, with their outcome."""

    kind: str
    workspace: Path
    steps: dict[str, subprocess.CompletedProcess[str]]
    seconds: dict[str, float]

    def failures(self) -> list[str]:
        """Each step that failed, with the end of its output."""
        return [
            f"eig {name} exited {outcome.returncode}:\n{outcome.stdout[-3000:]}\n{outcome.stderr[-3000:]}"
            for name, outcome in self.steps.items()
            if outcome.returncode != 0
        ]

    def kind_run(self) -> KindRun:
        """The notebooks ``eig run`` executed (its manifest's outputs) and ``eig check``'s return code;
        raise with the steps' output when ``eig run`` did not succeed."""
        if "run" not in self.steps or self.steps["run"].returncode != 0:
            raise AssertionError(f"{self.kind}: eig new/run failed:\n" + "\n".join(self.failures()))
        run_dir = manifest.latest_run(self.workspace / "runs")
        executed = {
            Path(entry["output"]).stem: run_dir / entry["output"] for entry in manifest.read(run_dir)["runs"]
        }
        checking = self.steps.get("check")
        return KindRun(
            self.kind,
            self.workspace,
            executed,
            self.seconds["run"],
            None if checking is None else checking.returncode,
            "" if checking is None else f"{checking.stdout}\n{checking.stderr}",
        )


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
    return Acceptance(kind, workspace, steps, seconds)


def figure_counts(run: KindRun) -> dict[str, int]:
    """How many figures each executed notebook of ``run`` shows."""
    return {stem: len(figures(run.notebook(stem))) for stem in run.executed}
