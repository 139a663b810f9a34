"""``eig lab``: JupyterLab in the workspace, reachable from this machine only, behind a token.

The server listens on 127.0.0.1 with JupyterLab's token authentication on: a fresh random token unless one
is given (an empty token is refused). The token travels to the server through ``JUPYTER_TOKEN`` (not the
command line, where other users could read it with ``ps``).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eigkit.runner.execute import PathLike, RunnerError, find_workspace
from eigkit.runner.fastkernel import QUIET_DEBUGGER

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@dataclass
class LabServer:
    """A running JupyterLab: its process, root folder, port and token."""

    process: subprocess.Popen[bytes]
    root: Path
    port: int
    token: str
    log: Path

    @property
    def url(self) -> str:
        """The address to open in a browser (with the token)."""
        return f"http://{HOST}:{self.port}/lab?token={self.token}"

    def api(self, path: str, timeout: float = 10.0) -> Any:
        """GET ``/api/<path>`` with the token; return the decoded JSON."""
        request = urllib.request.Request(
            f"http://{HOST}:{self.port}/api/{path.lstrip('/')}",
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read().decode("utf-8"))

    def stop(self, timeout: float = 30.0) -> int:
        """Stop the server (SIGTERM: it shuts its kernels down), killing it after ``timeout``."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode

    def __enter__(self) -> LabServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_lab(
    workspace: PathLike | None = None,
    *,
    port: int = 0,
    token: str | None = None,
    open_browser: bool = False,
    startup_timeout: float = 90.0,
    log: PathLike | None = None,
) -> LabServer:
    """Start JupyterLab at the workspace root on 127.0.0.1:``port`` (0: a free port); wait until it answers.

    Server output goes to ``log`` (default: a temporary file). Raises :class:`RunnerError` when the token
    is empty or the server does not come up.
    """
    root = find_workspace(workspace)
    token = secrets.token_urlsafe(32) if token is None else token
    if not token.strip():
        raise RunnerError("eig lab refuses an empty token: JupyterLab must keep its authentication on.")
    port = port or free_port()
    log_path = Path(log) if log else Path(tempfile.mkstemp(prefix="eig-lab-", suffix=".log")[1])
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        f"--ServerApp.ip={HOST}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=" + ("True" if open_browser else "False"),
        "--LabApp.extension_manager=readonly",  # no query to PyPI for extensions: works offline
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # CI containers run as root
    env = os.environ | QUIET_DEBUGGER | {"JUPYTER_TOKEN": token, "EIG_WORKSPACE": str(root)}
    with open(log_path, "ab") as stream:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=stream, stderr=subprocess.STDOUT)
    server = LabServer(process, root, port, token, log_path)
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RunnerError(f"JupyterLab exited with code {process.returncode}; see its log {log_path}.")
        try:
            server.api("status", timeout=2)
            return server
        except (urllib.error.URLError, OSError, ValueError):
            time.sleep(0.3)
    server.stop()
    raise RunnerError(
        f"JupyterLab did not answer on {HOST}:{port} within {startup_timeout:.0f} s; see {log_path}."
    )


def lab(
    workspace: PathLike | None = None,
    *,
    port: int = 8888,
    token: str | None = None,
    open_browser: bool = False,
) -> int:
    """Run JupyterLab in the workspace until Ctrl-C; print its address. Returns the server's exit code."""
    server = start_lab(workspace, port=port, token=token, open_browser=open_browser)
    print(f"JupyterLab: {server.url}\n(log: {server.log}; Ctrl-C to stop)", file=sys.stderr)
    try:
        return server.process.wait()
    except KeyboardInterrupt:
        return server.stop()
