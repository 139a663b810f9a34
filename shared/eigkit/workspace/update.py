"""Keep a défi workspace in step with its template (``eig update``, ``eig update --check``), through cruft.

``.cruft.json`` records the template repository, the directory (``template``) and the commit the workspace was
baked from. ``check`` says whether what a bake reads from the kit (template, notebooks, version, nbval rules)
changed since that commit. ``update`` renders the template at both commits with the workspace's own answers
and applies the difference with a 3-way merge (``git apply -3``): the template's changes arrive (the kit
version pin too), the user's edits stay, and conflicts are reported (never left as silent ``.rej`` files).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eigkit.paths import workspace_root
from eigkit.workspace import WorkspaceError
from eigkit.workspace.bake import KIT_INPUTS
from eigkit.workspace.kit_source import ci_problem, workspace_source

CONFLICT_MARKER = "<<<<<<< "


class UpdateConflict(WorkspaceError):
    """The template's changes could not all be merged with the user's edits; ``files`` need a hand."""

    exit_code = 2

    def __init__(self, message: str, files: list[str]) -> None:
        super().__init__(message)
        self.files = files


@dataclass(frozen=True)
class TemplateStatus:
    """Where a workspace stands against its template repository."""

    workspace: Path
    template: str
    recorded_commit: str
    latest_commit: str
    changed_inputs: list[str] = field(default_factory=list)
    kit_source_problem: str | None = None  # the workspace installs eig-kit from a place its CI cannot reach

    @property
    def behind(self) -> bool:
        """True when the template (or what it ships) changed since the workspace was baked or updated."""
        return bool(self.changed_inputs)


@dataclass(frozen=True)
class UpdateResult:
    """What ``update`` did: the commits it moved between and the files it changed (to review and commit)."""

    workspace: Path
    from_commit: str
    to_commit: str
    changed_files: list[str]


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=False)


def _workspace(start: Path | str | None) -> Path:
    root = workspace_root(start)
    if root is None:
        where = Path(start or ".").resolve()
        raise WorkspaceError(f"{where} is not inside a défi workspace (no pyproject.toml with [tool.eig])")
    return root


def cruft_state(workspace: Path) -> dict[str, Any]:
    """The workspace's ``.cruft.json`` (template origin, commit, answers)."""
    path = workspace / ".cruft.json"
    if not path.is_file():
        raise WorkspaceError(
            f"{path} is missing: this workspace does not record its template; recreate it with `eig new` "
            "or link it with `cruft link <kit git URL> --directory template`"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def _clone(template: str, target: Path) -> None:
    result = subprocess.run(
        ["git", "clone", "--quiet", "--no-checkout", template, str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise WorkspaceError(f"cannot read the template repository {template}: {result.stderr.strip()}")


def _inputs(state: dict[str, Any]) -> list[str]:
    kind = state.get("context", {}).get("cookiecutter", {}).get("defi_kind")
    directory = state.get("directory") or "template"
    inputs = [directory if path == "template" else path for path in KIT_INPUTS]
    return [f"notebooks/{kind}" if path == "notebooks" and kind else path for path in inputs]


def check(workspace: Path | str | None = None, *, template: str | None = None) -> TemplateStatus:
    """Compare the workspace's recorded template commit with the template repository's latest commit.

    Only the paths a bake reads count (the template folder, the kind's notebooks, the kit version, the nbval
    rules): a kit commit that touches none of them does not make the workspace behind. ``template`` overrides
    the repository recorded in ``.cruft.json``.
    """
    root = _workspace(workspace)
    state = cruft_state(root)
    source = template or state["template"]
    recorded = state.get("commit") or ""
    with tempfile.TemporaryDirectory(prefix="eig-update-") as scratch:
        clone = Path(scratch) / "kit"
        _clone(source, clone)
        latest = _git(clone, "rev-parse", "HEAD").stdout.strip()
        if _git(clone, "cat-file", "-e", f"{recorded}^{{commit}}").returncode != 0:
            changed = [f"(commit {recorded!r} unknown to {source})"]
        else:
            diff = _git(clone, "diff", "--name-only", recorded, latest, "--", *_inputs(state))
            changed = [line for line in diff.stdout.splitlines() if line]
    kit_source = workspace_source(root)
    problem = ci_problem(kit_source) if kit_source else None
    return TemplateStatus(root, source, recorded, latest, changed, problem)


def _require_clean_git(root: Path) -> None:
    if _git(root, "rev-parse", "--is-inside-work-tree").stdout.strip() != "true":
        raise WorkspaceError(
            f"{root} is not a git repository: `eig update` merges the template's changes with yours through "
            "git. Run `git init && git add -A && git commit -m 'Espace de travail'` first."
        )
    dirty = _git(root, "status", "--porcelain").stdout.strip()
    if dirty:
        raise WorkspaceError(
            f"{root} has uncommitted changes; commit (or stash) them before `eig update`:\n{dirty}"
        )


def _conflicts(root: Path) -> list[str]:
    unmerged = _git(root, "diff", "--name-only", "--diff-filter=U").stdout.splitlines()
    rejects = _git(root, "ls-files", "--others", "--exclude-standard", "--", "*.rej").stdout.splitlines()
    changed = _git(root, "diff", "--name-only").stdout.splitlines()
    marked = [
        name
        for name in changed
        if (root / name).is_file()
        and CONFLICT_MARKER in (root / name).read_text(encoding="utf-8", errors="replace")
    ]
    return sorted({*unmerged, *rejects, *marked} - {""})


def update(workspace: Path | str | None = None, *, template: str | None = None) -> UpdateResult:
    """Bring the workspace to its template's latest commit, keeping the user's edits.

    Needs the workspace under git with a clean tree. Raises :class:`UpdateConflict` (listing the files) when
    some template changes collide with the user's edits: git conflict markers are left in those files to be
    resolved by hand; any ``.rej`` file is named. Returns what changed, to review (``git diff``) and commit.
    """
    import cruft

    root = _workspace(workspace)
    state = cruft_state(root)
    _require_clean_git(root)
    if template is not None and not Path(template).is_dir():
        raise WorkspaceError(
            f"--template {template}: give a local copy of the kit; to follow another repository for good, "
            "change `template` in .cruft.json and commit"
        )
    try:
        cruft.update(
            project_dir=root,
            template_path=Path(template).resolve() if template else None,
            skip_apply_ask=True,
            allow_untracked_files=False,
        )
    except Exception as error:  # cruft raises click/typer/git errors of many kinds; name the step
        raise WorkspaceError(f"cruft could not update {root}: {error}") from error
    new_state = cruft_state(root)
    conflicts = _conflicts(root)
    if conflicts:
        raise UpdateConflict(
            f"the template's changes collide with your edits in {len(conflicts)} file(s): "
            f"{', '.join(conflicts)}.\nResolve the <<<<<<< / >>>>>>> blocks (or apply the .rej hunks and "
            "delete the .rej files), then `git add` and `git commit`.",
            conflicts,
        )
    changed = [line[3:] for line in _git(root, "status", "--porcelain").stdout.splitlines()]
    return UpdateResult(root, state.get("commit") or "", new_state.get("commit") or "", changed)
