"""Where a workspace installs eig-kit from, and whether its CI (GitHub, GitLab) can reach that place.

A workspace baked from a local checkout without a git remote depends on ``eig-kit @ file:///...``: it installs
on the machine that baked it and nowhere else, so its CI fails at the install step. ``eig new`` and
``eig update --check`` say so, with the fix.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

KIT_REQUIREMENT = re.compile(r"^\s*eig-kit\s*(?:\[[^\]]*\])?\s*@\s*(?P<url>\S+)")


def is_local(source: str) -> bool:
    """True for a source only this machine can read: a ``file://`` URL or a filesystem path."""
    url = source.removeprefix("git+")
    return url.startswith("file:") or not re.match(r"^[a-z][a-z0-9+.-]*://", url)


def ci_problem(source: str) -> str | None:
    """A message when a CI runner cannot install eig-kit from ``source``; ``None`` when it can."""
    if not is_local(source):
        return None
    return (
        f"eig-kit is installed from {source}, a place only this machine can read: the workspace's CI "
        "(GitHub Actions, GitLab CI) will fail at `pip install`. Point it at a place the CI can reach: "
        "bake with `eig new ... --set kit_source=git+https://<forge>/<group>/eig-kit.git` (a kit "
        "checkout with a git remote does this by itself), or edit the `eig-kit @ ...` line of the "
        "workspace's pyproject.toml (a git URL, or `eig-kit==<version>` from a package index the team "
        "can reach)."
    )


def workspace_source(workspace: Path) -> str | None:
    """The place the workspace's ``pyproject.toml`` installs eig-kit from (``None`` for an index version)."""
    project = tomllib.loads((workspace / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    for requirement in project.get("dependencies", []):
        match = KIT_REQUIREMENT.match(requirement)
        if match:
            return match.group("url")
    return None
