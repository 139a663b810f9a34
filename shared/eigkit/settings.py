"""A workspace's own settings: the ``[tool.eig]`` table of its ``pyproject.toml``.

``kind`` and ``kit_version`` (written by the template), ``administration`` (named in the DSFR report header),
``theme`` (``"neutral"`` or ``"dsfr"``) and ``secret_statistique`` (the disclosure threshold, default 11).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from eigkit.errors import RunnerError

THEMES = ("neutral", "dsfr")


def eig_settings(root: Path) -> dict[str, Any]:
    """The ``[tool.eig]`` table of ``root/pyproject.toml`` (empty when there is none)."""
    try:
        document = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    table = document.get("tool", {}).get("eig", {})
    return table if isinstance(table, dict) else {}


def report_theme(root: Path, chosen: str | None = None) -> tuple[str, str | None]:
    """The reports' theme (``chosen``, else ``[tool.eig] theme``, else neutral) and the partner's name."""
    settings = eig_settings(root)
    theme = chosen or settings.get("theme") or "neutral"
    if theme not in THEMES:
        where = "--theme" if chosen else f"{root / 'pyproject.toml'}: [tool.eig] theme"
        raise RunnerError(f"{where} is {theme!r}: choose one of {', '.join(THEMES)}.")
    partner = settings.get("administration")
    return theme, partner if isinstance(partner, str) and partner.strip() else None
