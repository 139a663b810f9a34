"""``eig demo``: bake a workspace and do in it what its CI does (run on the embedded samples, check, report).

The demo calls the same ``eig run --params params/ci.yaml`` and ``eig check`` commands as the workspace's CI,
in a child process with the workspace as current folder, so that what the demo shows is what CI will do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eigkit.workspace import WorkspaceError
from eigkit.workspace.bake import new
from eigkit.workspace.variables import derive_slug

CI_STEPS = (("run", "--params", "params/ci.yaml"), ("check",))
DEMO_NAME = "Démo eig-kit"


@dataclass(frozen=True)
class DemoResult:
    """The demo workspace and where its HTML reports are."""

    workspace: Path
    reports: Path


def eig_command(*args: str) -> list[str]:
    """The ``eig`` command of the running interpreter (the one this kit is installed in)."""
    return [sys.executable, "-c", "from eigkit.cli import main; main()", *args]


def run_ci_steps(workspace: Path, say: Callable[[str], None] = print) -> None:
    """Run the workspace's CI steps (``eig run --params params/ci.yaml``, ``eig check``) in ``workspace``."""
    env = {**os.environ, "EIG_WORKSPACE": str(workspace)}
    for step in CI_STEPS:
        say(f"$ eig {' '.join(step)}")
        result = subprocess.run(eig_command(*step), cwd=workspace, env=env, check=False)
        if result.returncode != 0:
            raise WorkspaceError(f"`eig {' '.join(step)}` failed in {workspace} (exit {result.returncode})")


def demo(
    directory: Path | str = "eig-demo",
    *,
    kind: str = "securite-routiere",
    template: str | Path | None = None,
    say: Callable[[str], None] = print,
) -> DemoResult:
    """Bake a demo workspace of ``kind`` at ``directory``, run and check its notebooks on the embedded
    samples, and return where the HTML reports are.

    When ``directory`` already holds a demo workspace (an earlier ``eig demo``), it is run and checked again
    as it is; any other existing folder is refused.
    """
    target = Path(directory).expanduser().resolve()
    if target.exists():
        found = _demo_kind(target)
        if found != kind:
            what = "is not a demo workspace" if found is None else f"holds a {found!r} demo, not {kind!r}"
            raise WorkspaceError(f"{target} already exists and {what}: give `eig demo` a new folder")
        say(f"Espace de travail de démonstration existant, relancé : {target}")
        return _run_demo(target, say)
    if derive_slug(target.name) != target.name:
        raise WorkspaceError(
            f"{target.name!r}: the demo folder's name must be lowercase ASCII letters, digits and hyphens "
            f"(e.g. {derive_slug(target.name) or 'eig-demo'!r})"
        )
    workspace = new(
        DEMO_NAME,
        kind=kind,
        output_dir=target.parent,
        values={"project_slug": target.name},
        template=template,
        git_init=False,
        say=say,
    )
    say(f"Espace de travail de démonstration : {workspace}")
    return _run_demo(workspace, say)


def _demo_kind(folder: Path) -> str | None:
    """The kind of the demo workspace baked at ``folder`` by ``eig demo``, or ``None`` if it is not one."""
    try:
        context = json.loads((folder / ".cruft.json").read_text(encoding="utf-8"))["context"]["cookiecutter"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return context.get("defi_kind") if context.get("project_name") == DEMO_NAME else None


def _run_demo(workspace: Path, say: Callable[[str], None]) -> DemoResult:
    run_ci_steps(workspace, say)
    reports = workspace / "reports"
    index = reports / "index.html"
    say(f"Rapports HTML : {index if index.is_file() else reports}")
    return DemoResult(workspace, reports)
