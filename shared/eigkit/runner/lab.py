"""``eig lab``: JupyterLab in the workspace, behind a token; on this machine only unless told otherwise.

The server listens on 127.0.0.1 by default, with JupyterLab's token authentication on: a fresh random token
unless one is given (an empty token is refused). The token travels to the server through ``JUPYTER_TOKEN``
(not the command line, where other users could read it with ``ps``).

Behind a reverse proxy, as on SSP Cloud (Onyxia), the address, port and base URL are chosen explicitly
(``eig lab --ip 0.0.0.0 --port 8888 --base-url /proxy/8888/``); the token stays on. ``eig lab`` stops
JupyterLab and its kernels on Ctrl-C, SIGTERM and SIGHUP alike, and on Linux JupyterLab also stops when
``eig lab`` itself is killed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
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
from eigkit.runner.lean_imports import run_module_code
from eigkit.runner.lifeline import set_parent_death_signal

HOST = "127.0.0.1"
# ``python -m jupyterlab``, after the kit's lean imports: jupyter-events imports jsonschema, whose unused IRI
# checker alone costs seconds of CPU at every start (eigkit.runner.lean_imports says why).
LAB_MAIN = run_module_code("jupyterlab")
ANY_ADDRESS = {"", "0.0.0.0", "::", "*"}
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@dataclass
class LabServer:
    """A running JupyterLab: its process, root folder, address, port, base URL and token."""

    process: subprocess.Popen[bytes]
    root: Path
    port: int
    token: str
    log: Path
    ip: str = HOST
    base_url: str = "/"

    @property
    def local_host(self) -> str:
        """Where this machine reaches the server (loopback when it listens on every address)."""
        return HOST if self.ip in ANY_ADDRESS else self.ip

    @property
    def url(self) -> str:
        """The address to open in a browser (with the token); behind a proxy, its public address instead."""
        host = f"[{self.local_host}]" if ":" in self.local_host else self.local_host
        return f"http://{host}:{self.port}{self.base_url}lab?token={self.token}"

    def api(self, path: str, timeout: float = 10.0) -> Any:
        """GET ``<base URL>api/<path>`` with the token; return the decoded JSON."""
        host = f"[{self.local_host}]" if ":" in self.local_host else self.local_host
        request = urllib.request.Request(
            f"http://{host}:{self.port}{self.base_url}api/{path.lstrip('/')}",
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


# What a segment of a URL path may hold unescaped (RFC 3986 pchar, percent-escapes included): no space, no ?
# or #, nothing JupyterLab would have to quote.
_URL_PATH_PART = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})+")


def normalise_base_url(base_url: str) -> str:
    """``proxy/8888`` -> ``/proxy/8888/``: the form JupyterLab's ``ServerApp.base_url`` expects."""
    parts = [part for part in base_url.strip().split("/") if part]
    if any(part in {".", ".."} or not _URL_PATH_PART.fullmatch(part) for part in parts):
        raise RunnerError(f"--base-url {base_url!r}: expected a URL path such as /proxy/8888/.")
    return "/" + "".join(f"{part}/" for part in parts)


def start_lab(
    workspace: PathLike | None = None,
    *,
    ip: str = HOST,
    port: int = 0,
    base_url: str = "/",
    token: str | None = None,
    open_browser: bool = False,
    startup_timeout: float = 90.0,
    log: PathLike | None = None,
) -> LabServer:
    """Start JupyterLab at the workspace root on ``ip``:``port`` (0: a free port) under ``base_url``; wait
    until it answers.

    ``ip`` other than loopback (e.g. ``0.0.0.0`` in a container behind Onyxia's proxy) also lets requests
    forwarded by a proxy in (``allow_remote_access``, ``X-Forwarded-*`` headers trusted). Server output goes
    to ``log`` (default: a temporary file). Raises :class:`RunnerError` when the token is empty or the
    server does not come up.
    """
    root = find_workspace(workspace)
    token = secrets.token_urlsafe(32) if token is None else token
    if not token.strip():
        raise RunnerError("eig lab refuses an empty token: JupyterLab must keep its authentication on.")
    base_url = normalise_base_url(base_url)
    port = port or free_port()
    log_path = Path(log) if log else Path(tempfile.mkstemp(prefix="eig-lab-", suffix=".log")[1])
    command = [
        sys.executable,
        "-c",
        LAB_MAIN,
        f"--ServerApp.ip={ip}",
        f"--ServerApp.port={port}",
        f"--ServerApp.base_url={base_url}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=" + ("True" if open_browser else "False"),
        "--LabApp.extension_manager=readonly",  # no query to PyPI for extensions: works offline
    ]
    if ip != HOST:  # behind a proxy: the Host header is the public name, forwarded headers say who asks
        command += ["--ServerApp.allow_remote_access=True", "--ServerApp.trust_xheaders=True"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # CI containers run as root
    env = os.environ | QUIET_DEBUGGER | {"JUPYTER_TOKEN": token, "EIG_WORKSPACE": str(root)}
    with open(log_path, "ab") as stream:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdout=stream,
            stderr=subprocess.STDOUT,
            preexec_fn=_stop_with_parent,  # only a prctl call: safe before exec
        )
    server = LabServer(process, root, port, token, log_path, ip, base_url)
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
        f"JupyterLab did not answer on {server.local_host}:{port} within {startup_timeout:.0f} s; "
        f"see {log_path}."
    )


def _stop_with_parent() -> None:
    """In JupyterLab's process, before it starts: receive SIGTERM when ``eig lab`` dies (Linux)."""
    set_parent_death_signal(signal.SIGTERM)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def lab(
    workspace: PathLike | None = None,
    *,
    ip: str = HOST,
    port: int = 8888,
    base_url: str = "/",
    token: str | None = None,
    open_browser: bool = False,
) -> int:
    """Run JupyterLab in the workspace until Ctrl-C, SIGTERM or SIGHUP, then stop it and its kernels; print
    its address first. Returns the server's exit code."""
    server = start_lab(workspace, ip=ip, port=port, base_url=base_url, token=token, open_browser=open_browser)
    print(f"JupyterLab: {server.url}\n(log: {server.log}; Ctrl-C to stop)", file=sys.stderr)
    if ip != HOST:
        print(
            f"Behind a proxy, open its public address followed by {server.base_url}lab?token={server.token}",
            file=sys.stderr,
        )
    previous = {signum: signal.signal(signum, _raise_interrupt) for signum in STOP_SIGNALS}
    try:
        return server.process.wait()
    except KeyboardInterrupt:
        for signum in previous:
            signal.signal(signum, signal.SIG_IGN)  # a second signal must not cut the stop short
        return server.stop()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
