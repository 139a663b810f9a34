"""pytest plugin that ``eig check`` loads: nbval's kernels start in the workspace root, as in ``eig run``.

nbval starts each kernel in the folder of the notebook it checks (``runs/<run-id>/``); notebooks of a défi
workspace read and write paths relative to the workspace root, so the check must run them from there.
"""

from __future__ import annotations

import os
from typing import Any


def pytest_configure(config: Any) -> None:
    """Make nbval start its kernels with cwd = ``$EIG_WORKSPACE``."""
    root = os.environ.get("EIG_WORKSPACE")
    if not root:
        return
    from nbval import plugin

    original = plugin.RunningKernel
    if getattr(original, "eig_workspace", None) == root:
        return

    class WorkspaceKernel(original):  # type: ignore[misc, valid-type]
        eig_workspace = root

        def __init__(self, kernel_name: str, cwd: str | None = None, *args: Any, **kwargs: Any) -> None:
            super().__init__(kernel_name, root, *args, **kwargs)

    plugin.RunningKernel = WorkspaceKernel
