"""The EIG analysis kit: défi workspaces, verified open-data loaders, parameterised notebooks and reports.

Public entry points (imported lazily so that ``import eigkit`` stays cheap in kernels):

- :func:`eigkit.new` bakes a défi workspace from the kit's template;
- :func:`eigkit.run` runs a workspace's notebooks with validated parameters;
- :mod:`eigkit.data` loads the défis' open data.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "new", "run", "update"]


def new(*args: Any, **kwargs: Any) -> Any:
    """Bake a défi workspace; see :func:`eigkit.workspace.bake.new`."""
    from eigkit.workspace.bake import new as _new

    return _new(*args, **kwargs)


def update(*args: Any, **kwargs: Any) -> Any:
    """Bring a workspace up to date with its template; see :func:`eigkit.workspace.update.update`."""
    from eigkit.workspace.update import update as _update

    return _update(*args, **kwargs)


def run(*args: Any, **kwargs: Any) -> Any:
    """Run notebooks with validated parameters; see :func:`eigkit.runner.execute.run`."""
    from eigkit.runner.execute import run as _run

    return _run(*args, **kwargs)
