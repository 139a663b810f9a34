"""Bake a défi workspace from the kit's template (``eig new``), recording its origin (``.cruft.json``).

Two routes, both offline for a local kit:
- the template is a git repository (the kit's checkout, ``--template PATH_OR_GIT_URL``): ``cruft create``,
  which records the repository and commit so that ``eig update`` can bring later template changes;
- the template is a plain folder (the kit installed from a wheel): cookiecutter bakes it, and ``.cruft.json``
  records the kit's public git URL at the tag of the installed version (``v<version>``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eigkit import __version__
from eigkit.paths import kit_checkout, kit_root, temporary_folder
from eigkit.workspace import WorkspaceError
from eigkit.workspace.kit_source import ci_problem
from eigkit.workspace.variables import refuse_unknown, template_defaults, validate

TEMPLATE_DIRECTORY = "template"
# what a bake reads from the kit besides the template (the post-generation hook copies them)
KIT_INPUTS = (
    "cookiecutter.json",
    TEMPLATE_DIRECTORY,
    "notebooks",
    "shared/eigkit/__init__.py",
    "shared/eigkit/runner/nbval_sanitize.cfg",
)
PRIVATE_KEYS_NOT_RECORDED = ("_repo_dir", "_output_dir", "_checkout")


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


@dataclass(frozen=True)
class TemplateSource:
    """Where a bake takes its template from and what the new workspace records."""

    location: str  # git URL or path given to cruft, or the template folder given to cookiecutter
    is_git: bool
    kit: Path | None  # a local copy of the kit (for validation), when there is one
    kit_source: str  # default of the ``kit_source`` variable (where the workspace installs eig-kit from)
    recorded_template: str | None = None  # folder route only: what .cruft.json records
    recorded_commit: str | None = None
    note: str | None = None


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=False)


def _as_pip_url(url: str) -> str:
    return (
        url
        if url.startswith("git+") or not url.startswith(("https://", "ssh://", "http://"))
        else f"git+{url}"
    )


def installed_origin() -> tuple[str, str] | None:
    """The git URL and commit the installed eig-kit was installed from (``pip install git+URL``), if known.

    Read from the distribution's ``direct_url.json`` (PEP 610); ``None`` for an index or local install.
    """
    from importlib import metadata

    try:
        record = json.loads(metadata.distribution("eig-kit").read_text("direct_url.json") or "null")
    except (metadata.PackageNotFoundError, json.JSONDecodeError):
        return None
    vcs = (record or {}).get("vcs_info") or {}
    if vcs.get("vcs") != "git" or not record.get("url") or not vcs.get("commit_id"):
        return None
    return record["url"], vcs["commit_id"]


def _checkout_source(checkout: Path) -> TemplateSource:
    origin = _git(checkout, "remote", "get-url", "origin")
    kit_source = _as_pip_url(origin.stdout.strip()) if origin.returncode == 0 else str(checkout)
    dirty = _git(checkout, "status", "--porcelain", "--", *KIT_INPUTS).stdout.strip()
    note = (
        f"note: baking from the last commit of {checkout}; uncommitted changes to the template or notebooks "
        "are not included (commit them first)."
        if dirty
        else None
    )
    return TemplateSource(str(checkout), True, checkout, kit_source, note=note)


def resolve_source(template: str | Path | None = None) -> TemplateSource:
    """Find the template to bake: ``template`` (kit checkout path or git URL), else the installed kit."""
    if template is None:
        checkout = kit_checkout()
        if checkout is not None:
            return _checkout_source(checkout)
        kit = kit_root()
        url, commit = installed_origin() or (
            str(template_defaults(kit)["kit_source"]).removeprefix("git+"),
            f"v{__version__}",
        )
        return TemplateSource(
            str(kit / TEMPLATE_DIRECTORY),
            False,
            kit,
            f"git+{url}",
            recorded_template=url,
            recorded_commit=commit,
            note=f"note: the installed kit is not a git checkout; the workspace records {url} at {commit} "
            "as its template, for `eig update`.",
        )
    path = Path(template).expanduser()
    if path.exists():
        path = path.resolve()
        if not (path / TEMPLATE_DIRECTORY / "cookiecutter.json").is_file():
            raise WorkspaceError(
                f"--template {path}: not a copy of eig-kit (no {TEMPLATE_DIRECTORY}/cookiecutter.json)"
            )
        if (path / ".git").exists():
            return _checkout_source(path)
        return TemplateSource(
            str(path / TEMPLATE_DIRECTORY),
            False,
            path,
            str(path),
            recorded_template=str(path),
            note=f"note: {path} is not a git repository: `eig update` will not be able to follow it.",
        )
    return TemplateSource(str(template), True, None, _as_pip_url(str(template)))


def _bake_with_cruft(
    source: TemplateSource, values: dict[str, Any], output_dir: Path, no_input: bool, config_file: Path | None
) -> Path:
    import cruft

    return Path(
        cruft.create(
            source.location,
            output_dir=output_dir,
            config_file=config_file,
            extra_context=values,
            no_input=no_input,
            directory=TEMPLATE_DIRECTORY,
        )
    )


def _bake_from_folder(
    source: TemplateSource, values: dict[str, Any], output_dir: Path, no_input: bool, config_file: Path | None
) -> Path:
    from cookiecutter.config import get_user_config
    from cookiecutter.main import cookiecutter

    project = Path(
        cookiecutter(
            source.location,
            no_input=no_input,
            extra_context=values,
            output_dir=str(output_dir),
            config_file=str(config_file) if config_file else None,
        )
    )
    replay_dir = Path(get_user_config(config_file=str(config_file) if config_file else None)["replay_dir"])
    context = json.loads((replay_dir / f"{Path(source.location).name}.json").read_text(encoding="utf-8"))
    recorded = {
        key: value for key, value in context["cookiecutter"].items() if key not in PRIVATE_KEYS_NOT_RECORDED
    }
    recorded.update(_template=source.recorded_template, _commit=source.recorded_commit)
    state = {
        "template": source.recorded_template,
        "commit": source.recorded_commit,
        "checkout": None,
        "context": {"cookiecutter": recorded},
        "directory": TEMPLATE_DIRECTORY,
    }
    (project / ".cruft.json").write_text(
        json.dumps(state, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return project


def _git_init(project: Path, say: Callable[[str], None], shown: Path) -> None:
    steps = (
        ("init", "-q"),
        ("add", "-A"),
        ("commit", "-q", "-m", f"Espace de travail créé par eig new (eig-kit {__version__})"),
    )
    for step in steps:
        result = _git(project, *step)
        if result.returncode != 0:
            say(
                f"note: `git {step[0]}` failed in {shown} ({result.stderr.strip()}); commit the workspace "
                "yourself: `eig update` needs it under git."
            )
            return


def _move_into_place(staged: Path, target: Path) -> None:
    """Move the baked workspace from its staging folder to ``target``, which must not exist: claimed with an
    exclusive ``mkdir`` first, then replaced by the rename, so that a folder someone else made meanwhile is
    never overwritten nor removed."""
    try:
        target.mkdir()
    except FileExistsError:
        raise WorkspaceError(
            f"{target} already exists (made while this workspace was baked): choose another --output-dir or "
            "project_slug"
        ) from None
    try:
        os.rename(staged, target)
    except OSError as error:  # someone wrote into the claimed folder meanwhile: theirs now, left as is
        with contextlib.suppress(OSError):
            target.rmdir()  # only while still empty
        raise WorkspaceError(
            f"{target} could not be created ({error.strerror}): the workspace was not created"
        ) from error


def new(
    project_name: str | None = None,
    *,
    kind: str | None = None,
    output_dir: Path | str = ".",
    no_input: bool = True,
    values: Mapping[str, Any] | None = None,
    template: str | Path | None = None,
    git_init: bool = True,
    config_file: Path | str | None = None,
    say: Callable[[str], None] = _stderr,
) -> Path:
    """Bake a défi workspace and return its folder.

    - ``project_name``, ``kind`` (``defi_kind``) and ``values`` (any other template variable: ``mentor``,
      ``ci_provider``, ``licence``...) set the template's variables; unknown names and bad values are refused
      before anything is written (:class:`~eigkit.workspace.WorkspaceError`).
    - ``no_input=False`` asks for the variables not given (cookiecutter prompts).
    - ``template``: a copy of the kit (path or git URL) to bake from; default: the installed kit. The origin
      is recorded in ``.cruft.json`` for ``eig update``.
    - ``git_init``: make the new folder a git repository with a first commit (``eig update`` needs git).
    - ``config_file``: a cookiecutter user config (default: ``$COOKIECUTTER_CONFIG``, ``~/.cookiecutterrc``).
    """
    from cookiecutter.exceptions import CookiecutterException
    from cruft.exceptions import CruftError

    chosen: dict[str, Any] = dict(values or {})
    if project_name is not None:
        chosen["project_name"] = project_name
    if kind is not None:
        chosen["defi_kind"] = kind
    source = resolve_source(template)
    chosen.setdefault("kit_source", source.kit_source)
    output = Path(output_dir).expanduser().resolve()
    if no_input:
        context = validate(chosen, source.kit)
        target = output / context["project_slug"]
        if target.exists():
            raise WorkspaceError(f"{target} already exists: choose another --output-dir or project_slug")
    else:
        refuse_unknown(chosen, source.kit)
    if source.note:
        say(source.note)
    temporary_folder()  # cookiecutter writes its hooks there: an EigError saying so when there is none
    bake = _bake_with_cruft if source.is_git else _bake_from_folder
    config = Path(config_file) if config_file else None
    # Baked in a private folder beside the target, moved into place once complete: an interrupted or failed
    # bake leaves nothing, and a bake never removes a folder it did not make (two `eig new` at once).
    try:
        output.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".eig-new-", dir=output))
    except OSError as error:
        raise WorkspaceError(
            f"{output}: cannot create the workspace there ({error.strerror}); choose a folder you can write "
            "to with --output-dir"
        ) from error
    try:
        try:
            staged = bake(source, chosen, staging, no_input, config)
        except (CookiecutterException, CruftError, ValueError) as error:
            raise WorkspaceError(f"the workspace was not created: {error}") from error
        project = output / staged.name
        if git_init:
            _git_init(staged, say, shown=project)
        _move_into_place(staged, project)
    finally:  # Ctrl-C included
        shutil.rmtree(staging, ignore_errors=True)
    problem = ci_problem(str(chosen.get("kit_source") or source.kit_source))
    if problem:
        say(f"warning: {problem}")
    return project
