"""The template's variables: their names and defaults (read from the template) and the rules they follow.

The rules have one home, the template's pre-generation hook (it must run wherever cookiecutter runs, even
without eigkit installed). This module loads them from there so that ``eig new`` refuses bad values before
anything is baked.
"""

from __future__ import annotations

import json
import runpy
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from eigkit.paths import kit_root
from eigkit.workspace import WorkspaceError


def template_dir(kit: Path | None = None) -> Path:
    """The cookiecutter template folder of ``kit`` (default: the installed kit)."""
    return (kit or kit_root()) / "template"


def template_defaults(kit: Path | None = None) -> dict[str, Any]:
    """The public variables of the template (not starting with ``_``) and their defaults, in prompt order."""
    config = json.loads((template_dir(kit) / "cookiecutter.json").read_text(encoding="utf-8"))
    return {name: value for name, value in config.items() if not name.startswith("_")}


@cache
def _rules(hook: Path) -> dict[str, Any]:
    return runpy.run_path(str(hook), run_name="eig_pre_gen_rules")


def problems(values: Mapping[str, Any], kit: Path | None = None) -> list[str]:
    """One message per value of ``values`` (a complete context) that the pre-generation hook refuses."""
    return _rules(template_dir(kit) / "hooks" / "pre_gen_project.py")["problems"](dict(values))


def derive_slug(project_name: str) -> str:
    """The folder name derived from a défi's name, as the template derives it ("Sécurité routière 31" ->
    "securite-routiere-31"): cookiecutter's ``slugify`` filter."""
    from slugify import slugify

    return slugify(project_name)


def parse_assignments(assignments: Iterable[str]) -> dict[str, str]:
    """Turn ``["key=value", ...]`` (``eig new --set``) into a mapping; refuse items without ``=``."""
    values: dict[str, str] = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise WorkspaceError(f"--set {item!r}: expected NAME=VALUE, e.g. --set mentor='Camille Martin'")
        values[name.strip()] = value
    return values


def refuse_unknown(values: Mapping[str, Any], kit: Path | None = None) -> None:
    """Refuse names that are not template variables (cookiecutter would silently ignore them)."""
    known = template_defaults(kit)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise WorkspaceError(
            f"unknown template variable(s): {', '.join(unknown)}. Known variables: {', '.join(known)}"
        )


def complete_context(values: Mapping[str, Any], kit: Path | None = None) -> dict[str, Any]:
    """The context a non-interactive bake would use: defaults (first choice), overridden by ``values``,
    the slug derived from the name unless given."""
    context = {
        name: default[0] if isinstance(default, list) else default
        for name, default in template_defaults(kit).items()
    }
    context.update(values)
    if "project_slug" not in values:
        context["project_slug"] = derive_slug(str(context.get("project_name", "")))
    for name, default in context.items():
        if name not in values and isinstance(default, str) and "{{" in default:
            context[name] = _render(default, context)
    return context


def _render(text: str, context: Mapping[str, Any]) -> str:
    """Render a default that refers to other variables (``{{ cookiecutter.project_slug }}``)."""
    from cookiecutter.environment import StrictEnvironment

    return (
        StrictEnvironment(context={"cookiecutter": dict(context)})
        .from_string(text)
        .render(cookiecutter=context)
    )


def validate(values: Mapping[str, Any], kit: Path | None = None) -> dict[str, Any]:
    """Check ``values`` as ``eig new --no-input`` would bake them; return the complete context or raise
    :class:`WorkspaceError` listing every problem (variable name + rule)."""
    refuse_unknown(values, kit)
    context = complete_context(values, kit)
    found = problems(context, kit)
    if found:
        raise WorkspaceError("refused, nothing was created:\n" + "\n".join(f"  - {m}" for m in found))
    return context
