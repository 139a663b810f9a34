"""``eig lab``: a real JupyterLab on 127.0.0.1, token required, listing the workspace's notebooks."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from eigkit.runner.execute import RunnerError
from eigkit.runner.lab import HOST, start_lab
from test_run_workspace import make_workspace

pytestmark = pytest.mark.slow


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
