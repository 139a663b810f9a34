"""pytest plugin that ``eig check`` loads: nbval's kernels start as ``eig run``'s do.

- In the workspace root: nbval starts each kernel in the folder of the notebook it checks
  (``runs/<run-id>/``); notebooks of a défi workspace read and write paths relative to the workspace root.
- Forked from a warm server where ``eig run`` forks them (Linux, ``EIG_FAST_KERNEL`` not ``0``): the
  kernels' kernel spec names the kit's fork provisioner, and the warm servers live as long as the check.
  ipykernel, pandas and matplotlib are then imported once per check instead of once per notebook.
- Without ``PYTEST_CURRENT_TEST`` (``fastkernel.HIDDEN_FROM_KERNELS``), as ``eig run``'s kernels: ipykernel
  does not capture what is written straight to file descriptors 1 and 2 (a C library's warning, a
  subprocess's stderr) in a kernel that sees it, and the check would disagree with the run.
- Their connection files (the kernels' keys) in the kit's private folder (:mod:`eigkit.runner.ipc`), not loose
  in TMPDIR where nbval's jupyter_client puts them: removed at exit, swept if this process is killed.
- A kernel that dies while a cell runs (killed for lack of memory, a crash in a C library) fails that cell
  within seconds, saying so: nbval alone waits for its reply until the cell timeout (2,000 s by default).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from queue import Empty
from typing import Any

from eigkit.runner.provisioner import draining_streams, naming_fork_provisioner, private_ipc_prefix

_warm: contextlib.ExitStack | None = None
POLL_SECONDS = 1.0  # how often a cell's wait for its reply checks that the kernel still lives
KERNEL_DIED = (
    "the kernel died while this cell ran (killed for lack of memory? a crash in a C library?): "
    "the cells after it cannot be checked"
)


def pytest_configure(config: Any) -> None:
    """Make nbval start its kernels in ``$EIG_WORKSPACE``, through the fork provisioner, and notice a kernel
    that died while a cell ran."""
    global _warm
    from nbval import kernel, plugin

    from eigkit.runner import fastkernel

    root = os.environ.get("EIG_WORKSPACE")
    original = plugin.RunningKernel
    if getattr(original, "eig_workspace", False) != root:  # once per workspace (None: nbval's folders)

        class WorkspaceKernel(original):  # type: ignore[misc, valid-type]
            eig_workspace = root

            def __init__(self, kernel_name: str, cwd: str | None = None, *args: Any, **kwargs: Any) -> None:
                with _not_seen_by_the_kernel(fastkernel.HIDDEN_FROM_KERNELS):
                    super().__init__(kernel_name, root or cwd, *args, **kwargs)

            def await_reply(self, msg_id: str, timeout: float | None = None) -> None:
                """nbval's wait for a cell's reply, in slices of POLL_SECONDS between which the kernel must
                still be alive (Empty at the cell timeout, as nbval expects)."""
                deadline = None if timeout is None else time.monotonic() + float(timeout)
                while True:
                    left = POLL_SECONDS if deadline is None else deadline - time.monotonic()
                    try:
                        return super().await_reply(msg_id, timeout=max(0.0, min(POLL_SECONDS, left)))
                    except Empty:
                        if deadline is not None and time.monotonic() >= deadline:
                            raise
                        if not self.is_alive():
                            raise RuntimeError(KERNEL_DIED) from None

        plugin.RunningKernel = WorkspaceKernel

    if not getattr(kernel.KernelManager, "eig_kernel_files", False):
        forked = fastkernel.available()

        class KitKernelManager(kernel.KernelManager):  # type: ignore[misc, valid-type, name-defined]
            """nbval's kernel manager: its connection file (the kernel's key) in the kit's private folder,
            swept if this process is killed, not loose in TMPDIR; its kernel spec (the current-environment
            one included) naming the fork provisioner as ``eig run``'s do, where kernels are forked; its
            kernels pass on what a cell writes to its descriptors before the cell ends, as ``eig run``'s."""

            eig_kernel_files = True

            def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
                return draining_streams(super().format_kernel_cmd(extra_arguments))

            def start_kernel(self, **kw: Any) -> None:
                if not self.connection_file:
                    self.connection_file = f"{private_ipc_prefix()}.json"
                super().start_kernel(**kw)

            @property
            def kernel_spec(self) -> Any:
                spec = super().kernel_spec
                return spec if spec is None or not forked else naming_fork_provisioner(spec, self)

        kernel.KernelManager = KitKernelManager
        if forked:
            _warm = contextlib.ExitStack()
            _warm.enter_context(fastkernel.warm_kernels())


@contextlib.contextmanager
def _not_seen_by_the_kernel(names: tuple[str, ...]) -> Iterator[None]:
    """``names`` out of this process's environment while a kernel starts (it copies the environment), back
    after (pytest sets and removes PYTEST_CURRENT_TEST around each test)."""
    values = {name: os.environ.pop(name) for name in names if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(values)


def pytest_unconfigure(config: Any) -> None:
    """Stop the warm servers (and any kernel still forked from them)."""
    global _warm
    if _warm is not None:
        _warm.close()
        _warm = None
