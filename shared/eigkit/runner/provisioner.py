"""A jupyter_client kernel provisioner that forks kernels from a warm fork server, and its kernel manager.

``ForkProvisioner`` is registered under the ``jupyter_client.kernel_provisioners`` entry point as
``eig-fork-provisioner`` (pyproject.toml). It is a ``LocalProvisioner``: it prepares ports and the
connection file the same way, and whenever the fork start does not apply (no warm server for this kernel's
folder and environment, a kernel command that is not ``<this python> -m ipykernel_launcher``, Popen
options it cannot honour, or a server that stopped answering) it starts the kernel the normal way.

``FastKernelManager`` is the kernel manager the kit's runs use: its kernel specs name that provisioner
(unless a spec names its own), each kernel gets ``kernel_env`` on top of this process's environment, and ipc
sockets go to a private folder.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from queue import Empty
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import KernelProvisionerFactory, LocalProvisioner
from traitlets import Dict, DottedObjectName, Type, Unicode, default

from eigkit.runner import fastkernel, ipc
from eigkit.runner.forkserver import ForkServer, ForkServerError

_PYTHON_NAMES = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info[:2])}
_LAUNCHERS = ("ipykernel_launcher", "ipykernel")
# Keyword arguments jupyter_client hands to launch_kernel that the fork start honours itself.
_HANDLED_KWARGS = {"env", "cwd", "kernel_id", "extra_arguments"}
PROVISIONER_NAME = "eig-fork-provisioner"  # its entry point in pyproject.toml
READY_WAIT_SECONDS = 30.0
IOPUB_WAIT_SECONDS = 0.5
EXIT_POLL_SECONDS = 0.01
EXIT_WAIT_SECONDS = 5.0
STREAMS_EXTENSION = "--IPKernelApp.extra_extensions=eigkit.runner.kernel_streams"


def ipykernel_arguments(cmd: list[str]) -> list[str] | None:
    """The arguments after ``-m ipykernel_launcher`` when ``cmd`` runs ipykernel in this interpreter."""
    if len(cmd) < 3 or cmd[1] != "-m" or cmd[2] not in _LAUNCHERS:
        return None
    same_python = cmd[0] in _PYTHON_NAMES or os.path.abspath(cmd[0]) == os.path.abspath(sys.executable)
    return list(cmd[3:]) if same_python else None


def draining_streams(cmd: list[str]) -> list[str]:
    """``cmd`` loading :mod:`eigkit.runner.kernel_streams` into the kernel when it runs ipykernel in this
    interpreter (where the kit is installed); other kernels' commands unchanged."""
    if ipykernel_arguments(cmd) is None:
        return cmd
    return [*cmd, STREAMS_EXTENSION]


class ForkProvisioner(LocalProvisioner):
    """Start each kernel as a fresh fork of the warm server; fall back to ``LocalProvisioner``."""

    forked_pid: int | None = None
    server: ForkServer | None = None

    @property
    def has_process(self) -> bool:
        return self.process is not None or self.forked_pid is not None

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        args = ipykernel_arguments(cmd)
        quiet = _is_devnull(kwargs.get("stderr"))
        handled = _HANDLED_KWARGS | ({"stderr"} if quiet else set())
        unsupported = {key for key, value in kwargs.items() if key not in handled and value is not None}
        if args is None or unsupported:
            return await super().launch_kernel(cmd, **kwargs)
        cwd = os.path.abspath(os.fspath(kwargs.get("cwd") or os.getcwd()))
        env = {str(key): str(value) for key, value in (kwargs.get("env") or os.environ).items()}
        # A server for a new folder or environment takes 1-4 s to import: not on the event loop's thread.
        server = await asyncio.to_thread(fastkernel.server_for, cwd, env)
        if server is None:
            return await super().launch_kernel(cmd, **kwargs)
        ready_path = self._ready_path()
        try:
            pid = server.spawn(args, cwd=cwd, env=env, ready_path=str(ready_path), stderr_devnull=quiet)
        except ForkServerError as exc:
            self.log.warning("Fork start unavailable (%s); starting the kernel normally.", exc)
            return await super().launch_kernel(cmd, **kwargs)
        self.server, self.forked_pid = server, pid
        self.pid = self.pgid = pid  # the child called setsid(): it leads its own process group
        self.cwd = cwd
        problem = await self._until_bound(ready_path)
        if problem is not None:
            await self._abandon_fork()
            self.log.warning("Forked kernel %s %s; starting the kernel normally.", pid, problem)
            return await super().launch_kernel(cmd, **kwargs)
        return self.connection_info

    def _ready_path(self) -> Path:
        connection_file = getattr(self.parent, "connection_file", "") or ""
        folder = Path(connection_file).parent if connection_file else Path(tempfile.gettempdir())
        return folder / f".eig-fork-ready-{self.kernel_id}"

    async def _until_bound(self, ready_path: Path) -> str | None:
        """Wait until the forked kernel has bound its sockets (None), else say what went wrong: it died
        first, or did not bind within ``READY_WAIT_SECONDS`` (either way the normal start takes over).

        A client that connects before the kernel binds waits for ZMQ's reconnect interval and misses
        the first IOPub messages, which costs a normal start about 0.3 s per kernel.
        """
        deadline = time.monotonic() + READY_WAIT_SECONDS
        try:
            while not ready_path.exists():
                if (returncode := await self.poll()) is not None:
                    return f"exited with code {returncode} before binding its sockets"
                if time.monotonic() > deadline:
                    return f"did not bind its sockets within {READY_WAIT_SECONDS:.0f} s"
                await asyncio.sleep(0.005)
            return None
        finally:
            ready_path.unlink(missing_ok=True)

    async def _abandon_fork(self) -> None:
        """Kill a forked kernel that never became ready (if still alive) and forget it."""
        await self._signal_quietly(signal.SIGKILL)
        deadline = time.monotonic() + 5.0
        while await self.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if self.server is not None and self.forked_pid is not None:
            self.server.forget(self.forked_pid)
        self.server, self.forked_pid, self.pid, self.pgid = None, None, None, None

    async def poll(self) -> int | None:
        if self.forked_pid is None or self.server is None:
            return await super().poll()
        return self.server.poll(self.forked_pid)

    async def wait(self) -> int | None:
        if self.forked_pid is None or self.server is None:
            return await super().wait()
        while (returncode := await self.poll()) is None:
            await asyncio.sleep(0.05)
        self.server.forget(self.forked_pid)
        self.forked_pid = None  # has_process is now False
        return returncode

    async def send_signal(self, signum: int) -> None:
        if self.forked_pid is None:
            return await super().send_signal(signum)
        if await self.poll() is not None:
            return None  # already exited (Popen.send_signal does nothing then either)
        try:
            os.killpg(self.forked_pid, signum)  # the kernel and whatever it started
        except OSError:
            os.kill(self.forked_pid, signum)
        return None

    async def kill(self, restart: bool = False) -> None:
        """Kill the kernel and return once it has exited (polled every 10 ms, at most 5 s): the kernel
        manager then finds it gone at once instead of sleeping 0.1 s at every run's end."""
        if self.forked_pid is None:
            await super().kill(restart=restart)
        else:
            await self._signal_quietly(signal.SIGKILL)
        deadline = time.monotonic() + EXIT_WAIT_SECONDS
        while self.has_process and await self.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(EXIT_POLL_SECONDS)

    async def terminate(self, restart: bool = False) -> None:
        if self.forked_pid is None:
            return await super().terminate(restart=restart)
        await self._signal_quietly(signal.SIGTERM)
        return None

    async def _signal_quietly(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # it is already gone
            await self.send_signal(signum)

    async def cleanup(self, restart: bool = False) -> None:
        if self.forked_pid is not None and self.server is not None and await self.poll() is not None:
            self.server.forget(self.forked_pid)
            self.forked_pid = None
        await super().cleanup(restart=restart)


class FastKernelClient(AsyncKernelClient):
    """An ``AsyncKernelClient`` whose readiness check ends as soon as the kernel is proven ready.

    The stock check waits for a kernel_info reply and then for 0.2 s of IOPub silence. This one waits for
    the reply, then for the kernel's ``idle`` status of that very request on IOPub (proof that IOPub is
    connected, with everything before it drained), and retries the request if IOPub missed it.
    """

    async def _ready_reply(self, msg_id: str, timeout: float) -> dict[str, Any] | None:
        """The kernel_info reply to ``msg_id`` once IOPub has delivered its idle status, else None."""
        deadline = time.monotonic() + timeout
        reply = None
        while (left := deadline - time.monotonic()) > 0:
            channel = self.iopub_channel if reply is not None else self.shell_channel
            try:
                msg = await channel.get_msg(timeout=left)
            except Empty:
                return None
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if reply is None and msg["msg_type"] == "kernel_info_reply":
                reply, deadline = msg, time.monotonic() + IOPUB_WAIT_SECONDS
            elif reply is not None and msg["content"].get("execution_state") == "idle":
                return reply
        return None

    async def wait_for_ready(self, timeout: float | None = None) -> None:  # type: ignore[override]
        deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
        while True:
            reply = await self._ready_reply(self.kernel_info(), timeout=1.0)
            if reply is not None:
                self._handle_kernel_info_reply(reply)
                return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Kernel didn't respond in {timeout:.0f} seconds (it is running but no reply reached "
                    f"this client; {self._endpoint_state()})"
                )

    def _endpoint_state(self) -> str:
        """What this client knows of the kernel's sockets, for the error of a kernel that never answers.

        With the ipc transport, a relative socket path is resolved against each process's own current
        folder and is shared by every kernel started in that folder: a client can then wait forever on
        another kernel's sockets. Socket files that do not exist mean the kernel never bound them.
        """
        if self.transport != "ipc":
            return f"{self.transport} sockets on {self.ip}, shell port {self.shell_port}"
        if not os.path.isabs(self.ip):
            return f"ipc sockets at the relative path {self.ip!r} (give KernelManager.ip an absolute path)"
        ports = (self.shell_port, self.iopub_port, self.stdin_port, self.control_port, self.hb_port)
        missing = [f"{self.ip}-{port}" for port in ports if not os.path.exists(f"{self.ip}-{port}")]
        if missing:
            return f"the kernel never bound its ipc sockets ({', '.join(missing)} missing)"
        return f"its ipc sockets exist at {self.ip}-*"


_ipc_folder: str | None = None
_ipc_folder_making = threading.Lock()


def private_ipc_prefix() -> str:
    """A unique absolute ipc socket prefix in a folder private to this process (removed at exit)."""
    global _ipc_folder
    with _ipc_folder_making:
        if _ipc_folder is None or not os.path.isdir(_ipc_folder):
            _ipc_folder = ipc.new_ipc_folder()
            atexit.register(ipc.remove_ipc_folder, _ipc_folder)
        return os.path.join(_ipc_folder, uuid.uuid4().hex[:12])


def _forget_parent_folder() -> None:
    """In a forked child: its kernels get a folder of its own (the parent removes its own when it exits)."""
    global _ipc_folder, _ipc_folder_making
    _ipc_folder, _ipc_folder_making = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_parent_folder)


def _is_devnull(stream: Any) -> bool:
    """True for ``subprocess.DEVNULL`` or an open ``os.devnull`` (nbval silences its kernels so)."""
    return stream == subprocess.DEVNULL or getattr(stream, "name", None) == os.devnull


def naming_fork_provisioner(spec: KernelSpec, parent: Any = None) -> KernelSpec:
    """``spec`` naming :data:`PROVISIONER_NAME`, unless it (or the Jupyter configuration of this process)
    chooses a provisioner of its own."""
    default = KernelProvisionerFactory.instance(parent=parent).default_provisioner_name
    chosen = spec.metadata.get("kernel_provisioner", {}).get("provisioner_name")
    if chosen in (None, "local-provisioner") and default == "local-provisioner":
        spec.metadata = {**spec.metadata, "kernel_provisioner": {"provisioner_name": PROVISIONER_NAME}}
    return spec


class ForkKernelSpecManager(KernelSpecManager):
    """Kernel specs that name :data:`PROVISIONER_NAME` (see :func:`naming_fork_provisioner`)."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return naming_fork_provisioner(super().get_kernel_spec(kernel_name), self.parent)


class FastKernelManager(AsyncKernelManager):
    """The kit's kernel manager: kernels forked from a warm server when possible (``ForkProvisioner``),
    each with its own environment (``kernel_env``), ipc sockets and connection file in a private folder."""

    client_class = DottedObjectName("eigkit.runner.provisioner.FastKernelClient", config=True)
    client_factory = Type(FastKernelClient, klass=AsyncKernelClient, config=True)
    kernel_env = Dict(
        value_trait=Unicode(),
        config=True,
        help="Variables the kernel gets on top of this process's environment (and of any env= given to "
        "start_kernel): per-kernel values without touching os.environ, so threads can start kernels at once.",
    )

    @default("kernel_spec_manager")
    def _default_kernel_spec_manager(self) -> KernelSpecManager:
        return ForkKernelSpecManager(data_dir=self.data_dir)

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """The kernel's command, with what makes its descriptors' output reach its cells
        (:func:`draining_streams`)."""
        return draining_streams(super().format_kernel_cmd(extra_arguments))

    async def start_kernel(self, **kw: Any) -> None:  # type: ignore[override]
        """Start the kernel with ``kernel_env`` (and a quiet debugger) on top of its environment, without the
        variables kernels never get (:data:`~eigkit.runner.fastkernel.HIDDEN_FROM_KERNELS`)."""
        if self.transport == "ipc" and not os.path.isabs(self.ip):
            self.ip = private_ipc_prefix()  # jupyter_client's relative default races (see FastKernelClient)
        if not self.connection_file:  # beside the sockets, not loose in TMPDIR: swept with them if we die
            self.connection_file = f"{self.ip if self.transport == 'ipc' else private_ipc_prefix()}.json"
        env = {**fastkernel.QUIET_DEBUGGER, **(kw.pop("env", None) or os.environ), **self.kernel_env}
        for name in fastkernel.HIDDEN_FROM_KERNELS:
            env.pop(name, None)
        await super().start_kernel(env=env, **kw)
