"""``eig lab``: a real JupyterLab on 127.0.0.1, token required, listing the workspace's notebooks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from eigkit.runner.execute import RunnerError
from eigkit.runner.lab import HOST, LabServer, free_port, normalise_base_url, start_lab
from processes import alive, descendants
from test_run_workspace import make_workspace

pytestmark = pytest.mark.slow
EIG = [sys.executable, "-c", "from eigkit.cli import main; main()"]


def test_lab_serves_the_workspace_on_loopback_behind_a_token_and_stops(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "ws", {"01-demo": "params_demo", "02-fails": "fails"})
    server = start_lab(root, log=tmp_path / "lab.log")
    try:
        assert len(server.token) >= 32 and server.url.startswith(f"http://{HOST}:{server.port}/")
        listing = server.api("contents/notebooks")
        assert sorted(item["name"] for item in listing["content"]) == ["01-demo.ipynb", "02-fails.ipynb"]
        with pytest.raises(urllib.error.HTTPError) as refused:  # no token, no access
            urllib.request.urlopen(f"http://{HOST}:{server.port}/api/contents/notebooks", timeout=10)
        assert refused.value.code == 403
        with socket.socket() as probe:  # listening on loopback only
            probe.settimeout(1)
            assert probe.connect_ex((HOST, server.port)) == 0
    finally:
        returncode = server.stop()
    assert returncode is not None and server.process.poll() is not None
    with socket.socket() as probe:
        assert probe.connect_ex((HOST, server.port)) != 0  # the port is closed again
    assert "Shutting down" in (tmp_path / "lab.log").read_text()  # a clean stop, not a kill


def test_lab_refuses_an_empty_token(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, {})
    with pytest.raises(RunnerError, match="empty token"):
        start_lab(root, token=" ")


def _wait_for(condition, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.3)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the processes")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_eig_lab_stops_jupyterlab_and_its_kernels_on_sigterm_and_sighup(tmp_path: Path, signum: int) -> None:
    root = make_workspace(tmp_path / "ws", {"01-demo": "params_demo"})
    port = free_port()
    env = os.environ | {"EIG_WORKSPACE": str(root)}
    log = tmp_path / "eig-lab.txt"
    with open(log, "w") as stream:
        eig = subprocess.Popen([*EIG, "lab", "--port", str(port)], cwd=root, env=env, stderr=stream)
    try:
        _wait_for(lambda: "token=" in log.read_text(), 120, "eig lab did not start")
        token = log.read_text().split("token=", 1)[1].split()[0]
        server = LabServer(eig, root, port, token, log)
        kernel = server_post(server, "kernels", {"name": "python3"})
        _wait_for(lambda: len(descendants(eig.pid)) >= 2, 60, "no kernel process")  # JupyterLab + kernel
        below = descendants(eig.pid)
        assert kernel["id"] and len(below) >= 2
        eig.send_signal(signum)
        eig.wait(60)
    finally:
        if eig.poll() is None:
            eig.kill()
    _wait_for(lambda: not [pid for pid in below if alive(pid)], 15, "JupyterLab or its kernel left behind")
    with socket.socket() as probe:
        assert probe.connect_ex((HOST, port)) != 0  # nothing serves on the port any more


def server_post(server: LabServer, path: str, body: dict) -> dict:
    """POST JSON to the server's API with its token."""
    request = urllib.request.Request(
        f"http://{HOST}:{server.port}/api/{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def test_lab_behind_a_proxy_listens_where_told_under_its_base_url_with_the_token(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "ws", {"01-demo": "params_demo"})
    with start_lab(root, ip="0.0.0.0", base_url="proxy/8888", log=tmp_path / "lab.log") as server:
        assert server.base_url == "/proxy/8888/" and "/proxy/8888/lab?token=" in server.url
        listing = server.api("contents/notebooks")  # through the base URL
        assert [item["name"] for item in listing["content"]] == ["01-demo.ipynb"]
        with pytest.raises(urllib.error.HTTPError) as refused:  # still no access without the token
            urllib.request.urlopen(f"http://{HOST}:{server.port}/proxy/8888/api/contents", timeout=10)
        assert refused.value.code == 403
        proxied = urllib.request.Request(  # a request forwarded by a proxy under its public name
            f"http://{HOST}:{server.port}/proxy/8888/api/status",
            headers={"Authorization": f"token {server.token}", "Host": "user-x-123.user.lab.sspcloud.fr"},
        )
        with urllib.request.urlopen(proxied, timeout=10) as response:
            assert response.status == 200


@pytest.mark.parametrize("base_url", ["/proxy/../8888", "proxy/88 88", "/proxy/8888?x=1", "/a#b", "/é/"])
def test_a_base_url_that_is_not_a_path_is_refused(base_url: str) -> None:
    with pytest.raises(RunnerError, match=r"base-url .*expected a URL path"):
        normalise_base_url(base_url)


def test_a_base_url_keeps_what_a_path_may_hold() -> None:
    assert normalise_base_url("user/jean.dupont/proxy/8888") == "/user/jean.dupont/proxy/8888/"
    assert normalise_base_url("/p%C3%A9/~x/") == "/p%C3%A9/~x/"
