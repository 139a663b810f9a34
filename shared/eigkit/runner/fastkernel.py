"""Fast kernel start for batches of notebook runs: kernels forked from a warm process, on Linux.

Usage, in a process that executes notebooks (one pool worker)::

    with warm_kernels():
        for params in grid:
            papermill.execute_notebook(
                src, dst, parameters=params, **kernel_options(ipc_prefix, env=run_env, cwd=workspace)
            )

``kernel_options()`` makes papermill start each kernel through :class:`FastKernelManager` in ``cwd`` with
``env`` on top of this process's environment (runs in threads of one process share neither ``os.environ``
nor the current folder), on ipc
sockets where the platform has them (TCP otherwise). Inside ``warm_kernels()`` on Linux, each kernel is a
fresh fork of a warm server (an interpreter that has already imported ipykernel, IPython, pandas and
matplotlib); anywhere else, or with ``EIG_FAST_KERNEL=0``, kernels start the normal way.

A forked kernel must be indistinguishable from a normal one, and what libraries read when they are
imported (matplotlib's rc files in the kernel's folder and the user's, ``TZ``, BLAS thread counts,
``PYTHONPATH``...) is fixed in the server when it imports them. So there is one warm server per (kernel
folder, kernel environment, state of the rc files and package folders): the server is started in that
folder with that environment, and a kernel with another folder or environment, or after one of those files
changed, gets its own server. Only variables that change at every run and that
no library reads at import (:data:`RUN_SCOPED_VARIABLES`) are left out of that key; the fork sets them.
tests/test_fastkernel.py compares rcParams, os.environ, sys.path, cwd, time zone and BLAS threads of a
forked and a normal kernel. What still differs, by nature of a fork: ``JPY_PARENT_PID`` names the server,
the kernels of one server share its ``str`` hash seed (each normal kernel draws its own, unless
``PYTHONHASHSEED`` is set), modules the server imported are already in ``sys.modules``, and Arrow's jemalloc
purges memory without its background thread.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import socket
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from traitlets.config import Config

from eigkit.runner import ipc
from eigkit.runner.forkserver import ForkServer, ForkServerError

DISABLE_ENV = "EIG_FAST_KERNEL"
TRANSPORT_ENV = "EIG_KERNEL_TRANSPORT"  # "ipc" or "tcp"; default: ipc where the platform has unix sockets
SERVER_START_SECONDS = 30.0  # its imports take 1-4 s; past this, runs start kernels normally instead
MAX_SERVERS = 2  # warm servers kept per process (least recently used one stopped first); ~150 MB each
# Set per run by the kit, jupyter_client or pytest (nbval under ``eig check``: one value per notebook),
# read by nothing at import: not part of a server's identity.
RUN_SCOPED_VARIABLES = frozenset(
    {
        "EIG_DATA_USAGE",
        "JPY_PARENT_PID",
        "JPY_SESSION_NAME",
        "JPY_INTERRUPT_EVENT",
        "IPY_INTERRUPT_EVENT",
        "PYTEST_CURRENT_TEST",
    }
)
# pytest's per-test marker: ipykernel does not capture file descriptors 1 and 2 in a kernel that sees it, so a
# kernel started from within pytest (eig check's nbval, eigkit.run in a défi's own tests) would record less
# output than one started from a terminal. No kernel the kit starts gets it.
HIDDEN_FROM_KERNELS = ("PYTEST_CURRENT_TEST",)
# Every kernel the kit starts: pydevd (imported by ipykernel's debugger) otherwise prints "Debugger
# warning: It seems that frozen modules are being used..." on the terminal from every kernel.
QUIET_DEBUGGER = {"PYDEVD_DISABLE_FILE_VALIDATION": "1"}
# The server alone (never its kernels, whose environment is the run's): no jemalloc background thread in
# Arrow, a thread the server could not fork with (jemalloc turns it off in any forked child anyway).
_SERVER_ONLY = {"JE_ARROW_MALLOC_CONF": "background_thread:false"}
log = logging.getLogger(__name__)

ServerKey = tuple[str, tuple[tuple[str, str], ...], tuple[tuple[str, int, int] | None, ...]]


def fork_supported() -> bool:
    """True on Linux, the one platform where forking a process that imported numpy/matplotlib is safe.

    (macOS system libraries are not fork-safe after such imports; Windows has no fork.)
    """
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def available() -> bool:
    """True when kernels can be forked here: Linux, and ``EIG_FAST_KERNEL`` is not ``0``."""
    disabled = os.environ.get(DISABLE_ENV, "1").strip().lower() in {"0", "false", "no", "off"}
    return fork_supported() and not disabled


def kernel_transport() -> str:
    """``ipc`` (unix sockets: no TCP port race between parallel kernels) where the platform has them and
    a folder short enough for their paths exists (:func:`~eigkit.runner.ipc.socket_base`), else ``tcp``;
    ``EIG_KERNEL_TRANSPORT=tcp`` or ``ipc`` chooses explicitly."""
    wanted = os.environ.get(TRANSPORT_ENV, "").strip().lower()
    if wanted in {"ipc", "tcp"}:
        return wanted
    unix = hasattr(socket, "AF_UNIX") and os.name == "posix"
    return "ipc" if unix and ipc.socket_base() is not None else "tcp"


def kernel_options(
    ipc_prefix: str | None = None, env: Mapping[str, str] | None = None, cwd: str | None = None
) -> dict[str, Any]:
    """Keyword arguments for ``papermill.execute_notebook`` that start the kernel through
    :class:`~eigkit.runner.provisioner.FastKernelManager`.

    ``env``: variables the kernel gets on top of this process's environment. ``cwd``: the kernel's
    folder, handed to nbclient (``resources.metadata.path``); papermill's own ``cwd=`` changes the folder
    of this whole process while the notebook runs, which concurrent runs in threads must not do.
    ``ipc_prefix``: an absolute path unique to this kernel for its ipc socket files and its connection file
    (``<prefix>.json``; default: one in a private folder of this process). The kernel is forked when a warm
    server can serve it (inside ``warm_kernels()`` on Linux) and started normally otherwise.
    """
    manager: dict[str, Any] = {"transport": kernel_transport()}
    if ipc_prefix:
        manager["connection_file"] = f"{ipc_prefix}.json"  # the kernel's keys, removed with its folder
        if manager["transport"] == "ipc":
            manager["ip"] = ipc_prefix
    config = Config({"KernelManager": manager, "FastKernelManager": {"kernel_env": dict(env or {})}})
    # By name: nbclient's Type trait imports it (provisioner.py imports this module, not the reverse).
    options = {"kernel_manager_class": "eigkit.runner.provisioner.FastKernelManager", "config": config}
    if cwd is not None:
        options["resources"] = {"metadata": {"path": os.fspath(cwd)}}
    return options


def server_key(cwd: str, env: Mapping[str, str]) -> ServerKey:
    """What makes two kernels share a warm server: the same folder, the same environment (run-scoped
    variables aside) and unchanged files read at import (:func:`import_files_state`)."""
    kept = tuple(sorted((k, v) for k, v in env.items() if k not in RUN_SCOPED_VARIABLES))
    return os.path.realpath(cwd), kept, import_files_state(cwd, env)


def import_files_state(cwd: str, env: Mapping[str, str]) -> tuple[tuple[str, int, int] | None, ...]:
    """Modification time and size of what the warm imports read from files: matplotlib's rc files (the
    folder's, ``$MATPLOTLIBRC``, the user's) and the package folders (an install or upgrade changes them).

    A server that lives long (a Dask worker's) must not keep serving kernels after one of them changed: a
    kernel started normally would read the new version.
    """
    home = env.get("HOME") or os.path.expanduser("~")
    config = env.get("MPLCONFIGDIR") or os.path.join(
        env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"), "matplotlib"
    )
    rc_files = [os.path.join(cwd, "matplotlibrc"), os.path.join(config, "matplotlibrc")]
    if env.get("MATPLOTLIBRC"):
        rc_files += [env["MATPLOTLIBRC"], os.path.join(env["MATPLOTLIBRC"], "matplotlibrc")]
    packages = [path for path in sys.path if os.path.basename(path) in {"site-packages", "dist-packages"}]
    extra = [path for path in env.get("PYTHONPATH", "").split(os.pathsep) if path]
    return tuple(_stamp(os.path.join(cwd, path)) for path in [*rc_files, *packages, *extra])


def _stamp(path: str) -> tuple[str, int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return path, found.st_mtime_ns, found.st_size


def server_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The environment a warm server starts with: the kernels' own, run-scoped variables aside, with the
    debugger kept quiet and the server-only settings (which its kernels do not inherit)."""
    server_env = {k: v for k, v in env.items() if k not in RUN_SCOPED_VARIABLES}
    server_env.update(QUIET_DEBUGGER)
    for name, value in _SERVER_ONLY.items():
        server_env[name] = f"{server_env[name]},{value}" if server_env.get(name) else value
    return server_env


class WarmServers:
    """The warm servers of this process, one per :func:`server_key`, started on first use."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = MAX_SERVERS if limit is None else limit
        self.owner_pid = os.getpid()
        self._servers: OrderedDict[ServerKey, ForkServer] = OrderedDict()
        self._failed: set[ServerKey] = set()
        self._lock = threading.RLock()

    @property
    def servers(self) -> list[ForkServer]:
        """The servers running now, least recently used first."""
        with self._lock:
            return [server for server in self._servers.values() if server.alive]

    def server_for(self, cwd: str, env: Mapping[str, str]) -> ForkServer | None:
        """The running server for kernels in ``cwd`` with ``env``, started now if needed; None if it
        cannot start (the kernel then starts normally; a key that failed once is not retried)."""
        if os.getpid() != self.owner_pid:
            return None  # a process forked from the owner inherits the handles, not the servers
        key = server_key(cwd, env)
        with self._lock:
            server = self._servers.get(key)
            if server is not None and server.alive:
                self._servers.move_to_end(key)
                self._stop_idle_beyond_limit(keep=key)  # servers a burst of runs left beyond the limit
                return server
            self._servers.pop(key, None)
            if key in self._failed:
                return None
            server = self._start(cwd, env)
            if server is None:
                self._failed.add(key)
                return None
            self._servers[key] = server
            self._stop_idle_beyond_limit(keep=key)
            return server

    def _stop_idle_beyond_limit(self, keep: ServerKey) -> None:
        """Stop least recently used servers beyond the limit, never ``keep`` nor one whose kernels run."""
        idle = [key for key, server in self._servers.items() if key != keep and not server.kernels]
        for key in idle[: max(0, len(self._servers) - self.limit)]:
            self._servers.pop(key).stop()

    @staticmethod
    def _start(cwd: str, env: Mapping[str, str]) -> ForkServer | None:
        server = ForkServer()
        try:
            server.start(timeout=SERVER_START_SECONDS, cwd=cwd, env=server_environment(env))
        except (ForkServerError, OSError) as exc:
            log.warning("Kernel fork server unavailable in %s (%s); kernels will start normally.", cwd, exc)
            return None
        return server

    def stop(self) -> None:
        """Stop every server (and the kernels still running on them)."""
        with self._lock:
            servers, self._servers = list(self._servers.values()), OrderedDict()
        if os.getpid() == self.owner_pid:
            for server in servers:
                server.stop()


_lock = threading.RLock()
_warm: WarmServers | None = None
_depth = 0
_kept_for_life = False


def server_for(cwd: str, env: Mapping[str, str]) -> ForkServer | None:
    """The warm server that forks kernels in ``cwd`` with ``env``: None outside ``warm_kernels()``, where
    the fast start is unavailable, or when no server can start."""
    with _lock:
        warm = _warm
    return warm.server_for(cwd, env) if warm is not None else None


@contextlib.contextmanager
def warm_kernels() -> Iterator[WarmServers | None]:
    """Fork kernels from warm servers during a batch of runs in this process; stop the servers (and
    their kernels) after.

    Nested or repeated use shares the servers; the outermost exit stops them. Yields None when the fast
    start is not available here (runs then use the normal kernel start).
    """
    global _depth
    warm = _enter()
    try:
        yield warm
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _stop_servers()


def keep_warm_for_life() -> WarmServers | None:
    """Fork kernels from warm servers for the rest of this process's life; idempotent.

    For a process that runs notebooks until it is stopped, with no batch to scope the servers to: a Dask
    worker runs the tasks of one ``eig run --cluster`` after another. Its servers (at most ``MAX_SERVERS``
    idle ones) end with it: stopped at exit, and a server whose owner dies, however it dies, sees its stdin
    close and stops with its kernels. Dask workers that are threads of the driver (``LocalCluster(
    processes=False)``) keep them as long as the driver, a Jupyter session for instance.
    """
    global _kept_for_life
    with _lock:
        if not _kept_for_life:
            _kept_for_life = True
            _enter()
        return _warm


def _enter() -> WarmServers | None:
    """One more user of this process's warm servers (made by the first); the servers, or None."""
    global _depth, _warm
    with _lock:
        _depth += 1
        if _depth == 1 and available():
            _warm = WarmServers()
        return _warm


def _stop_servers() -> None:
    global _warm
    warm, _warm = _warm, None
    if warm is not None:
        warm.stop()


atexit.register(_stop_servers)  # a process that never left warm_kernels() still leaves no server behind
