"""Défi workspaces: bake one from the kit's template (``new``), try the kit on one (``demo``), keep one
in step with its template (``update``, ``check``).

The template itself lives in the kit's ``template/`` folder; the kinds' notebooks in ``notebooks/<kind>/``.
"""

from __future__ import annotations


class WorkspaceError(Exception):
    """A workspace cannot be baked, checked or updated; the message says why and what to do next."""
