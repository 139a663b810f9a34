"""pytest plugin that ``eig check`` loads: nbval's kernels start as ``eig run``'s do.

- In the workspace root: nbval starts each kernel in the folder of the notebook it checks
  (``runs/<run-id>/``); notebooks of a défi workspace read and write paths relative to the workspace root.
- Forked from a warm server where ``eig run`` forks them (Linux, ``EIG_FAST_KERNEL`` not ``0``): the
  kernels' kernel spec names the kit's fork provisioner, and the warm servers live as long as the check.
  ipykernel, pandas and matplotlib are then imported once per check instead of once per notebook.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from eigkit.runner.provisioner import naming_fork_provisioner

_warm: contextlib.ExitStack | None = None


def pytest_configure(config: Any) -> None:
    """Make nbval start its kernels in ``$EIG_WORKSPACE``, through the fork provisioner."""
    global _warm
    from nbval import kernel, plugin

    from eigkit.runner import fastkernel

    root = os.environ.get("EIG_WORKSPACE")
    original = plugin.RunningKernel
    if root and getattr(original, "eig_workspace", None) != root:

        class WorkspaceKernel(original):  # type: ignore[misc, valid-type]
            eig_workspace = root

            def __init__(self, kernel_name: str, cwd: str | None = None, *args: Any, **kwargs: Any) -> None:
                super().__init__(kernel_name, root, *args, **kwargs)

        plugin.RunningKernel = WorkspaceKernel

    if fastkernel.available() and not getattr(kernel.KernelManager, "eig_forked", False):

        class ForkedKernelManager(kernel.KernelManager):  # type: ignore[misc, valid-type, name-defined]
            """nbval's kernel manager, its kernel spec (the current-environment one included) naming the fork
            provisioner as ``eig run``'s do."""

            eig_forked = True

            @property
            def kernel_spec(self) -> Any:
                spec = super().kernel_spec
                return None if spec is None else naming_fork_provisioner(spec, self)

        kernel.KernelManager = ForkedKernelManager
        _warm = contextlib.ExitStack()
        _warm.enter_context(fastkernel.warm_kernels())


def pytest_unconfigure(config: Any) -> None:
    """Stop the warm servers (and any kernel still forked from them)."""
    global _warm
    if _warm is not None:
        _warm.close()
        _warm = None
