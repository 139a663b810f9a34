"""Défi workspaces: bake one from the kit's template (``new``), try the kit on one (``demo``), keep one
in step with its template (``update``, ``check``).

The template itself lives in the kit's ``template/`` folder; the kinds' notebooks in ``notebooks/<kind>/``.
"""

from __future__ import annotations

from eigkit.errors import WorkspaceError

__all__ = ["WorkspaceError"]
