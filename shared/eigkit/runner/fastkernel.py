"""Fast kernel start for batches of notebook runs: kernels forked from a warm process.

Usage, in the process that executes notebooks (one pool worker)::

    with warm_kernels():
        for params in grid:
            papermill.execute_notebook(src, dst, parameters=params, **kernel_options())

``warm_kernels()`` starts one fork server (an interpreter that has already imported ipykernel, IPython,
pandas and matplotlib) for the duration of the batch; ``kernel_options()`` makes papermill start each
kernel as a fresh fork of it, in its own process, with the run's cwd and environment. Outside
``warm_kernels()``, on non-POSIX systems, or with ``EIG_FAST_KERNEL=0``, kernels start the normal way.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

from eigkit.runner.forkserver import ForkServer, ForkServerError

DISABLE_ENV = "EIG_FAST_KERNEL"
SERVER_START_SECONDS = 30.0  # its imports take 1-4 s; past this, runs start kernels normally instead
log = logging.getLogger(__name__)

_lock = threading.RLock()
_server: ForkServer | None = None
_depth = 0


def available() -> bool:
    """True when kernels can be forked here: POSIX with ``fork``, and ``EIG_FAST_KERNEL`` is not ``0``."""
    disabled = os.environ.get(DISABLE_ENV, "1").strip().lower() in {"0", "false", "no", "off"}
    return os.name == "posix" and hasattr(os, "fork") and not disabled


def kernel_options() -> dict[str, Any]:
    """Extra keyword arguments for ``papermill.execute_notebook`` that select the fast start ({} if none).

    papermill passes them on to nbclient's ``NotebookClient``; the kernel manager class they name forks
    the kernel when a fork server runs in this process (``warm_kernels()``) and starts it normally otherwise.
    """
    if not available():
        return {}
    from eigkit.runner.provisioner import FastKernelManager

    return {"kernel_manager_class": FastKernelManager}


def current_server() -> ForkServer | None:
    """The running fork server owned by this process, if any."""
    with _lock:
        server = _server
    if server is None or server.owner_pid != os.getpid() or not server.alive:
        return None  # e.g. a process forked from the owner inherits the handle, not the server
    return server


@contextlib.contextmanager
def warm_kernels() -> Iterator[ForkServer | None]:
    """Keep a fork server running for a batch of runs in this process; stop it (and its kernels) after.

    Nested or repeated use shares one server; the outermost exit stops it. If the fast start is not
    available or the server cannot start, runs simply use the normal kernel start (yields None).
    """
    global _depth
    with _lock:
        _depth += 1
        if _depth == 1:
            _start_server()
        server = _server
    try:
        yield server
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _stop_server()


def _start_server() -> None:
    global _server
    if not available():
        return
    server = ForkServer()
    try:
        server.start(timeout=SERVER_START_SECONDS)
    except (ForkServerError, OSError) as exc:
        log.warning("Kernel fork server unavailable (%s); kernels will start normally.", exc)
        return
    _server = server


def _stop_server() -> None:
    global _server
    server, _server = _server, None
    if server is not None and server.owner_pid == os.getpid():
        server.stop()


atexit.register(_stop_server)  # a process that never left warm_kernels() still leaves no server behind
