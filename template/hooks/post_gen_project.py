#!/usr/bin/env python
"""Finish a baked défi workspace: ship the kind's notebooks and params, pin the kit version, keep one CI.

Runs with the new workspace as current folder. Safe to run again on a fresh render (cruft re-runs it on update).
The kit (``notebooks/<kind>/``, ``shared/eigkit/``) is found, in this order, through:
1. ``cookiecutter._repo_dir`` (the template folder; set by ``cookiecutter`` itself, local path or git URL);
2. the folder cookiecutter runs the hooks from (it is the template folder; read from ``/proc``, Linux);
3. ``cookiecutter._template`` + ``_commit`` when the template is a local git repository (``cruft create/update``);
4. the installed ``eigkit`` package (with a warning: its notebooks may differ from the template's commit).
"""
# {% raw %}
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

if __name__ == "__main__":  # first thing after the imports:
    signal.signal(signal.SIGINT, lambda signum, frame: sys.exit(130))  # Ctrl-C: quiet (`eig new` says it)
    # cookiecutter runs a copy rendered with the answers from a temporary file it never removes (its #886)
    if os.path.basename(__file__).startswith("tmp"):
        os.remove(__file__)

VERSION_TOKEN = "@EIG_KIT_VERSION@"
FILES_WITH_VERSION = ("pyproject.toml", "README.md", "docs/PERENNISATION.md")
CI_FILES = {
    "github": [".github/workflows/notebooks.yml", ".github/pull_request_template.md"],
    "gitlab": [".gitlab-ci.yml", ".gitlab/merge_request_templates/Default.md"],
}
VERSION_LINE = re.compile(r"""^__version__\s*=\s*["']([^"']+)["']""", re.MULTILINE)
SANITIZE_FALLBACK = """\
# nbval sanitize rules (eig check): pairs of regex/replace lines.
# The kit's own copy (eigkit/runner/nbval_sanitize.cfg) was not found when this workspace was baked.
regex: 0x[0-9a-fA-F]+
replace: 0xADDRESS
"""


class HookError(Exception):
    """A problem that stops the bake, with a message for the user."""


def _is_kit(folder):
    return folder is not None and (folder / "notebooks").is_dir() and (folder / "template").is_dir()


def _kit_from_repo_dir(context):
    repo_dir = context.get("_repo_dir") or ""
    if repo_dir and Path(repo_dir).is_absolute():
        kit = Path(repo_dir).resolve().parent
        return kit if _is_kit(kit) else None
    return None


def _kit_from_parent_cwd():
    proc = Path(f"/proc/{os.getppid()}/cwd")
    try:
        template_dir = proc.resolve(strict=True)
    except OSError:
        return None
    if (template_dir / "cookiecutter.json").is_file() and (template_dir / "hooks").is_dir():
        kit = template_dir.parent
        return kit if _is_kit(kit) else None
    return None


def _kit_from_git_template(context, scratch):
    template, commit = context.get("_template") or "", context.get("_commit") or ""
    if not template or not commit or not Path(template).is_dir():
        return None
    result = subprocess.run(
        ["git", "-C", template, "archive", "--format=tar", commit, "template", "notebooks", "shared/eigkit"],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        return None
    with tarfile.open(fileobj=io.BytesIO(result.stdout)) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(scratch, filter="data")
        else:  # Python < 3.11.4
            archive.extractall(scratch)
    return scratch if _is_kit(scratch) else None


def _kit_from_installed_package():
    try:
        from eigkit.paths import kit_root
    except ImportError:
        return None
    kit = kit_root()
    print(
        f"warning: using the installed eig-kit's notebooks ({kit}); they may differ from the template's commit.",
        file=sys.stderr,
    )
    return kit


def find_kit(context, scratch):
    """Return the kit folder that holds ``notebooks/`` next to the template being baked."""
    finders = (
        lambda: _kit_from_repo_dir(context),
        _kit_from_parent_cwd,
        lambda: _kit_from_git_template(context, scratch),
        _kit_from_installed_package,
    )
    for finder in finders:
        kit = finder()
        if _is_kit(kit):
            return kit
    raise HookError(
        "the kit's notebooks/ folder was not found next to the template "
        f"(_repo_dir={context.get('_repo_dir')!r}, _template={context.get('_template')!r}): "
        "bake from a full copy of eig-kit (cookiecutter <kit>, cruft create <kit> --directory template, eig new)."
    )


def package_dir(kit):
    """The ``eigkit`` package of ``kit``: ``shared/eigkit`` in a checkout, the folder above ``_kit`` in a wheel."""
    for candidate in (kit / "shared" / "eigkit", kit.parent):
        if (candidate / "__init__.py").is_file():
            return candidate
    raise HookError(f"eigkit's __init__.py was not found next to the kit folder {kit}")


def kit_version(kit):
    init = package_dir(kit) / "__init__.py"
    match = VERSION_LINE.search(init.read_text(encoding="utf-8"))
    if not match:
        raise HookError(f"no __version__ line in {init}")
    return match.group(1)


def strip_outputs(source, target):
    """Copy a notebook without outputs nor execution counts (a committed notebook carries none)."""
    notebook = json.loads(source.read_text(encoding="utf-8"))
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    target.write_text(json.dumps(notebook, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def ship_kind(kit, kind, workspace):
    """Copy ``notebooks/<kind>/*.ipynb`` into ``notebooks/`` and ``notebooks/<kind>/params/*.yaml`` into ``params/``."""
    source = kit / "notebooks" / kind
    notebooks = sorted(source.glob("*.ipynb"))
    params = sorted((source / "params").glob("*.yaml"))
    missing = {"ci.yaml", "default.yaml"} - {path.name for path in params}
    if not notebooks or missing:
        raise HookError(
            f"defi_kind: the kind {kind!r} is incomplete in {source} (needs at least one .ipynb and "
            f"params/ci.yaml + params/default.yaml; missing: {', '.join(sorted(missing)) or 'notebooks'})"
        )
    (workspace / "notebooks").mkdir(exist_ok=True)
    (workspace / "params").mkdir(exist_ok=True)
    for notebook in notebooks:
        strip_outputs(notebook, workspace / "notebooks" / notebook.name)
    for param_file in params:
        shutil.copyfile(param_file, workspace / "params" / param_file.name)


def ship_sanitize_file(kit, workspace):
    """Copy the kit's nbval sanitize rules into ``tests/`` (the runner's single source)."""
    target = workspace / "tests" / "nbval_sanitize.cfg"
    target.parent.mkdir(exist_ok=True)
    source = package_dir(kit) / "runner" / "nbval_sanitize.cfg"
    if source.is_file():
        shutil.copyfile(source, target)
    else:
        target.write_text(SANITIZE_FALLBACK, encoding="utf-8")


def pin_version(version, workspace):
    for name in FILES_WITH_VERSION:
        path = workspace / name
        if path.is_file():
            path.write_text(path.read_text(encoding="utf-8").replace(VERSION_TOKEN, version), encoding="utf-8")


def keep_one_ci(provider, workspace):
    unwanted = [path for name, paths in CI_FILES.items() if provider not in (name, "both") for path in paths]
    for relative in unwanted:
        (workspace / relative).unlink(missing_ok=True)
    for folder in (".github/workflows", ".github", ".gitlab/merge_request_templates", ".gitlab"):
        path = workspace / folder
        if path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def main(context_json):
    context = json.loads(context_json)
    workspace = Path.cwd()
    try:
        with tempfile.TemporaryDirectory(prefix="eig-kit-") as scratch:
            kit = find_kit(context, Path(scratch))
            ship_kind(kit, context["defi_kind"], workspace)
            ship_sanitize_file(kit, workspace)
            pin_version(kit_version(kit), workspace)
    except HookError as error:
        print(f"Refused: the défi workspace was not created: {error}", file=sys.stderr)
        return 1
    keep_one_ci(context["ci_provider"], workspace)
    return 0


# {% endraw %}
if __name__ == "__main__":
    sys.exit(main({{ cookiecutter | tojson | tojson }}))
