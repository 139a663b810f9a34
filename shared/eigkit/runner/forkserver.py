"""A warm process that forks fresh ipykernel kernels, and the client that talks to it.

The server is a separate interpreter (never the caller: the caller holds ZMQ contexts and threads, which
must not be forked). It is started in the folder and with the environment its kernels will have, so that
what libraries read when they are imported (``./matplotlibrc`` and the user's rc file, ``TZ``, BLAS thread
counts, ``PYTHONPATH``...) is what a kernel started normally there would read. It imports ipykernel,
IPython, pandas and matplotlib once, keeps a single OS thread and no ZMQ context, then waits for requests
on its stdin. Each ``spawn`` request forks a child from this pristine parent; the child becomes one
brand-new kernel bound to the given connection file, with the environment of that request. A kernel is
never reused: every run gets its own fork.

Before each fork the server counts its OS threads (``/proc/self/task``, not only Python's threads): a
process with a second thread is not forked, the request is refused and the kernel starts normally.
OpenBLAS's worker threads are stopped first (``blas_thread_shutdown_``, the very call OpenBLAS makes
before a fork; a kernel restarts them with the same count at its first BLAS call), and Arrow's jemalloc
runs without its background purging thread in the server (jemalloc turns it off in any forked child).

Lifetime: the server exits (killing its kernels) on a ``stop`` request or when its stdin reaches EOF, which
happens as soon as the owning process dies. On Linux each kernel also gets ``PR_SET_PDEATHSIG`` = SIGKILL,
so it dies with the server; elsewhere ipykernel's parent poller notices the orphaning within a second.

Protocol: both ways, a 4-byte big-endian length then a JSON object. This file runs as a script in the
server (see ``ForkServer.start``), so it imports nothing from eigkit.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
# Heavy third-party modules every notebook kernel needs; importing them once is the whole point.
WARM_MODULES = (
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "ipykernel.debugger",  # imports debugpy: the largest part of a kernel's own start
    "IPython",
    "IPython.core.history",
    "sqlite3",
    "pdb",
    "psutil",
    "numpy",
    "pandas",
    "matplotlib",
    "matplotlib.pyplot",
    "matplotlib.backends.backend_agg",
    "matplotlib.backends.backend_svg",
    "pyarrow",
    "eigkit.runner.kernel_streams",  # the extension every kit kernel loads (provisioner.draining_streams)
)
# Never warm: importing matplotlib_inline.backend_inline hooks figures into the IPython shell that exists
# at import time; imported in the server (no shell yet), forked kernels would display no figure.
_NEVER_WARM = ("matplotlib_inline",)
_TASKS = "/proc/self/task"
_HEADER = struct.Struct(">I")
THREAD_EXIT_WAIT = 0.5  # seconds an ending thread is waited for before a fork is refused
REPLY_TIMEOUT = 30.0  # seconds: a request (fork, poll) is answered at once; silence means a stuck server
_PR_SET_PDEATHSIG = 1


class ForkServerError(RuntimeError):
    """The fork server could not start or answer; callers fall back to the normal kernel start."""


# --------------------------------------------------------------------------------------------------
# wire format
# --------------------------------------------------------------------------------------------------
def _read_exact(fd: int, size: int) -> bytes:
    chunks = b""
    while len(chunks) < size:
        chunk = os.read(fd, size - len(chunks))
        if not chunk:
            raise EOFError("fork server pipe closed")
        chunks += chunk
    return chunks


def _send(fd: int, message: dict[str, Any]) -> None:
    payload = json.dumps(message).encode()
    data = _HEADER.pack(len(payload)) + payload
    while data:
        data = data[os.write(fd, data) :]


def _receive(fd: int) -> dict[str, Any]:
    (size,) = _HEADER.unpack(_read_exact(fd, _HEADER.size))
    return json.loads(_read_exact(fd, size))


# --------------------------------------------------------------------------------------------------
# server side (runs in the warm process)
# --------------------------------------------------------------------------------------------------
def _returncode(status: int) -> int:
    """Popen-style return code: the exit status, or minus the signal that killed the process."""
    return os.waitstatus_to_exitcode(status)


class _Server:
    def __init__(self, request_fd: int, reply_fd: int, import_env: dict[str, str]) -> None:
        self.request_fd = request_fd
        self.reply_fd = reply_fd
        self.import_env = import_env  # what the warm imports set in os.environ (a kernel's imports would too)
        self.children: dict[int, int | None] = {}  # pid -> return code once reaped

    def reap(self) -> None:
        """Collect every exited child without blocking."""
        for pid, code in list(self.children.items()):
            if code is not None:
                continue
            with contextlib.suppress(ChildProcessError):
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    self.children[pid] = _returncode(status)

    def serve(self) -> None:
        while True:
            try:
                request = _receive(self.request_fd)
            except EOFError:
                return
            self.reap()
            op = request.get("op")
            if op == "stop":
                _send(self.reply_fd, {"ok": True})
                return
            _send(self.reply_fd, self.handle(op, request))

    def handle(self, op: str | None, request: dict[str, Any]) -> dict[str, Any]:
        if op == "spawn":
            if extra := extra_threads():
                return {"error": f"the fork server runs other threads ({extra}); refusing to fork"}
            pid = os.fork()
            if pid == 0:
                _become_kernel(request, self.import_env, server_pid=os.getppid())  # never returns
            self.children[pid] = None
            return {"pid": pid}
        if op == "poll":
            pid = int(request["pid"])
            if pid not in self.children:
                return {"error": f"process {pid} is not a kernel of this fork server"}
            return {"returncode": self.children[pid]}
        if op == "forget":
            self.children.pop(int(request["pid"]), None)
            return {"ok": True}
        return {"error": f"unknown request {op!r}"}

    def kill_children(self) -> None:
        """Kill every kernel still alive (their whole process groups) and reap them."""
        self.reap()
        living = [pid for pid, code in self.children.items() if code is None]
        for pid in living:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
        for pid in living:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def os_threads() -> list[str]:
    """The names of this process's OS threads (every native thread, not only Python's)."""
    names = []
    for task in os.listdir(_TASKS):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            names.append(Path(_TASKS, task, "comm").read_text().strip())
    return names


def extra_threads(wait: float = THREAD_EXIT_WAIT) -> str:
    """'' when this process has a single OS thread, else the names of its threads, for a message.

    A thread that is ending (OpenBLAS's, just stopped) is waited for up to ``wait`` seconds: a joined thread
    stays listed in /proc for a moment, longer on a loaded or traced machine, and the server would refuse.
    """
    stop_blas_threads()
    deadline = time.monotonic() + wait
    while len(names := os_threads()) > 1 and time.monotonic() < deadline:
        time.sleep(0.002)
    return "" if len(names) == 1 else ", ".join(sorted(names))


def stop_blas_threads() -> None:
    """Stop the worker threads of every OpenBLAS loaded here, as OpenBLAS itself does before a fork.

    The thread count setting stays; a forked kernel starts its threads again at its first BLAS call.
    """
    import ctypes

    for library in _loaded_libraries("openblas"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(library).blas_thread_shutdown_()


def _loaded_libraries(fragment: str) -> set[str]:
    """Paths of the shared libraries mapped in this process whose file name contains ``fragment``."""
    paths = set()
    with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)  # address perms offset dev inode [path]
            path = fields[5].strip() if len(fields) == 6 else ""
            if path.startswith("/") and fragment in os.path.basename(path):
                paths.add(path)
    return paths


def _set_parent_death_signal(server_pid: int) -> None:
    """Linux: die with the fork server. Elsewhere ipykernel's parent poller (JPY_PARENT_PID) does it."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != server_pid:  # the server died between fork and prctl
        os._exit(1)


def _reset_process_state(request: dict[str, Any], import_env: dict[str, str], server_pid: int) -> list[str]:
    """Turn the forked copy of the server into what ``python -m ipykernel_launcher ARGS`` would be."""
    os.setsid()  # own process group, like jupyter_client's launcher (start_new_session)
    _set_parent_death_signal(server_pid)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGCHLD, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # CPython's default
    # The server's request/reply pipes are fds 0 and 1: replace them; stderr stays the server's stderr.
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    if request.get("stderr_devnull"):  # what Popen(stderr=DEVNULL) gives a normal kernel (nbval asks it)
        os.dup2(devnull, 2)
    os.closerange(3, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 1024)

    os.chdir(request["cwd"])  # the server's own folder already: a no-op unless it was removed
    env = {**request["env"], **import_env}
    env["JPY_PARENT_PID"] = str(server_pid)  # ipykernel's parent poller watches the real parent
    os.environ.clear()  # what the server alone had (see fastkernel.server_environment) goes
    os.environ.update(env)

    import ipykernel_launcher

    args = list(request["args"])
    sys.argv = [ipykernel_launcher.__file__, *args]
    _reseed_random()
    return args


def _reseed_random() -> None:
    """A fork copies the parent's random state: draw fresh seeds like a new interpreter would."""
    import random

    random.seed()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed()


def _become_kernel(request: dict[str, Any], import_env: dict[str, str], server_pid: int) -> None:
    """Run an ipykernel in this forked child; always ends the process, never returns to the server."""
    code = 1
    try:
        args = _reset_process_state(request, import_env, server_pid)
        from ipykernel.kernelapp import IPKernelApp

        app = IPKernelApp.instance()
        app.initialize(args)
        if request.get("ready_path"):
            # Sockets are bound: the client can connect now without ZMQ's reconnect delays.
            Path(request["ready_path"]).touch()
        app.start()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            import atexit

            atexit._run_exitfuncs()  # what a normal interpreter exit does (history, logging...)
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _warm_up() -> dict[str, str]:
    """Import what every kernel needs; return the environment variables these imports set (e.g.
    debugpy's ``PYDEVD_USE_FRAME_EVAL``), which each kernel gets back after its environment is reset."""
    # As ipykernel_launcher does: the script's folder is not importable while the kernel loads (IPython's
    # init_path puts '' back in each kernel).
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]
    # ipykernel sets this default before any notebook code imports matplotlib (IPKernelApp.init_gui_pylab).
    os.environ.setdefault("MPLBACKEND", INLINE_BACKEND)
    before = dict(os.environ)
    import gc
    import importlib

    # The pattern the gc module documents for a parent that forks: collections off while it builds its
    # objects, all of them frozen before forking (no child's collection touches them: copy-on-write
    # friendly). The imports make 240,000 objects and 3,000 of garbage (0.5 MB, frozen with the rest):
    # collecting during them or before freezing was 0.12 of the server's 0.9 CPU-s.
    gc.disable()
    for name in WARM_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    for name in [name for name in sys.modules if name.split(".")[0] in _NEVER_WARM]:
        del sys.modules[name]
    gc.freeze()
    gc.enable()
    return {name: value for name, value in os.environ.items() if before.get(name) != value}


def serve_forever() -> None:
    """Entry point of the server process."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the owner, who shuts kernels down
    # Keep the protocol pipes off fds 0/1 so nothing imported can write into them by accident.
    request_fd, reply_fd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    server = _Server(request_fd, reply_fd, import_env=_warm_up())
    extra = extra_threads()
    problem = f"its imports started threads that cannot be stopped ({extra})" if extra else None
    _send(reply_fd, {"ready": problem is None, "pid": os.getpid(), "error": problem})
    try:
        if problem is None:
            server.serve()
    finally:
        server.kill_children()


# --------------------------------------------------------------------------------------------------
# client side (runs in the process that executes notebooks)
# --------------------------------------------------------------------------------------------------
class ForkServer:
    """Handle on one fork server process owned by the current process. Thread-safe."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self.owner_pid = os.getpid()
        self.kernels: set[int] = set()  # forked kernels not forgotten yet (running, or exited unreaped)
        self.forked = 0  # kernels forked so far

    def start(
        self, timeout: float = 120.0, cwd: str | None = None, env: dict[str, str] | None = None
    ) -> None:
        """Start the server in ``cwd`` with ``env`` (default: this process's) and wait for its imports."""
        command = [
            sys.executable,
            "-c",
            "import runpy, sys; runpy.run_path(sys.argv[1], run_name='__eig_forkserver__')"
            ".get('serve_forever')()",
            __file__,
        ]
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0, cwd=cwd, env=env
        )
        reply_fd = self._process.stdout.fileno()  # type: ignore[union-attr]
        ready, _, _ = select.select([reply_fd], [], [], timeout)
        try:
            if not ready:
                raise ForkServerError(f"the kernel fork server did not start within {timeout:.0f} s")
            hello = _receive(reply_fd)
        except (EOFError, ForkServerError) as exc:
            self.stop()
            raise ForkServerError(f"the kernel fork server failed to start: {exc}") from exc
        if not hello.get("ready"):
            self.stop()
            raise ForkServerError(f"the kernel fork server is unusable: {hello.get('error')}")
        self.pid = int(hello["pid"])

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one request and return the reply; ForkServerError if the server is gone or refuses."""
        with self._lock:
            if not self.alive:
                raise ForkServerError("the kernel fork server is not running")
            assert self._process is not None and self._process.stdin and self._process.stdout
            reply_fd = self._process.stdout.fileno()
            try:
                _send(self._process.stdin.fileno(), message)
                if not select.select([reply_fd], [], [], REPLY_TIMEOUT)[0]:
                    # A reply may still come later and desynchronise the pipe: this server is done for.
                    self._process.kill()
                    raise EOFError(f"no reply within {REPLY_TIMEOUT:.0f} s")
                reply = _receive(reply_fd)
            except (OSError, EOFError) as exc:
                raise ForkServerError(f"the kernel fork server stopped answering: {exc}") from exc
        if "error" in reply:
            raise ForkServerError(reply["error"])
        return reply

    def spawn(
        self,
        args: list[str],
        cwd: str,
        env: dict[str, str],
        ready_path: str | None = None,
        stderr_devnull: bool = False,
    ) -> int:
        """Fork a fresh kernel running ``ipykernel_launcher ARGS`` in ``cwd`` with ``env``; its pid.

        ``ready_path``, if given, is created by the kernel once its sockets are bound. The kernel writes
        to the server's stderr, or to nowhere with ``stderr_devnull``.
        """
        request = {"op": "spawn", "args": args, "cwd": cwd, "env": env, "ready_path": ready_path}
        request["stderr_devnull"] = stderr_devnull
        pid = int(self.request(request)["pid"])
        with self._lock:  # threads of one process (a Dask worker's) fork through the same server
            self.kernels.add(pid)
            self.forked += 1
        return pid

    def poll(self, pid: int) -> int | None:
        """None while the kernel runs, else its return code (-9 if the server died with it)."""
        try:
            return self.request({"op": "poll", "pid": pid})["returncode"]
        except ForkServerError:
            return -signal.SIGKILL  # the server is gone, and its kernels died with it

    def forget(self, pid: int) -> None:
        """Drop the record of an exited kernel."""
        self.kernels.discard(pid)
        with contextlib.suppress(ForkServerError):
            self.request({"op": "forget", "pid": pid})

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server; it kills any kernel still running. Idempotent."""
        process, self._process = self._process, None
        if process is None:
            return
        with self._lock:
            if process.poll() is None:
                with contextlib.suppress(OSError, EOFError):
                    _send(process.stdin.fileno(), {"op": "stop"})  # type: ignore[union-attr]
                    reply_fd = process.stdout.fileno()  # type: ignore[union-attr]
                    if select.select([reply_fd], [], [], timeout)[0]:
                        _receive(reply_fd)  # acknowledged; it exits once its kernels are killed
            for stream in (process.stdin, process.stdout):
                with contextlib.suppress(OSError):
                    stream.close()  # type: ignore[union-attr]
            deadline = time.monotonic() + timeout
            while process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            if process.poll() is None:
                process.kill()
                process.wait()
