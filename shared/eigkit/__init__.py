"""The EIG analysis kit: défi workspaces, verified open-data loaders, parameterised notebooks and reports.

Public entry points, imported on first use so that ``import eigkit`` stays cheap in kernels (each name *is*
the function below, with its own signature and docstring: ``help(eigkit.run)``):

- :func:`eigkit.new` (:func:`eigkit.workspace.bake.new`) bakes a défi workspace from the kit's template;
- :func:`eigkit.run` (:func:`eigkit.runner.execute.run`) runs a workspace's notebooks with validated
  parameters, records the run and publishes its reports;
- :func:`eigkit.update` (:func:`eigkit.workspace.update.update`) brings a workspace up to date with its
  template, keeping the user's edits;
- :mod:`eigkit.data` loads the défis' open data; :mod:`eigkit.notebook` prepares a notebook
  (``eigkit.notebook.setup()``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "data", "new", "notebook", "run", "update"]

_FUNCTIONS = {
    "new": "eigkit.workspace.bake",
    "run": "eigkit.runner.execute",
    "update": "eigkit.workspace.update",
}
_MODULES = {"data", "notebook"}

if TYPE_CHECKING:  # what static tools and readers see; at run time __getattr__ imports them on first use
    from eigkit import data, notebook
    from eigkit.runner.execute import run
    from eigkit.workspace.bake import new
    from eigkit.workspace.update import update


def __getattr__(name: str) -> Any:
    """Import a public entry point the first time it is used (PEP 562)."""
    if name in _FUNCTIONS:
        value = getattr(importlib.import_module(_FUNCTIONS[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(f"eigkit.{name}")
    else:
        raise AttributeError(f"module 'eigkit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
