"""Every ``eig`` command group, given bad input: a one-line message naming what is wrong, the error's exit
code (eigkit.errors), and no traceback (the real command, in a fresh process)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from param_notebooks import EIG, eig
from test_run_workspace import make_workspace

OUTSIDE = "inside a défi workspace"


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    plain = tmp_path_factory.mktemp("plain")
    (plain / "taken").mkdir()
    (plain / "taken" / "notes.txt").write_text("mine\n")
    (plain / "bad.csv").write_text("a;b\n1;2\n")
    workspace = make_workspace(tmp_path_factory.mktemp("ws"), {"01-demo": "params_demo"})
    (workspace / "params" / "bad.yaml").write_text("annee: [2020\n")
    return {"plain": plain, "workspace": workspace}


CASES = [
    ("plain", ["new", "--no-input", "--no-git", "--set", "nope=1"], 1, "unknown template variable(s): nope"),
    ("plain", ["new", "--no-input", "--no-git", "--kind", "cuisine"], 1, "cuisine"),
    ("plain", ["new", "--no-input", "--no-git", "--output-dir", "bad.csv/x"], 1, "cannot create the"),
    ("plain", ["demo", "taken"], 1, "already exists and is not a demo workspace"),
    ("plain", ["update"], 1, OUTSIDE),
    ("plain", ["update", "--check"], 1, OUTSIDE),
    ("plain", ["data", "info", "nope"], 1, "Unknown dataset 'nope'"),
    ("plain", ["data", "fetch", "nope"], 1, "Unknown dataset 'nope'"),
    ("plain", ["data", "read", "baac.lieux", "bad.csv"], 1, "bad.csv: not a BAAC lieux file"),
    ("plain", ["data", "log"], 1, OUTSIDE),
    ("plain", ["run"], 1, OUTSIDE),
    ("plain", ["check"], 1, OUTSIDE),
    ("plain", ["lab", "--port", "1"], 1, OUTSIDE),
    ("plain", ["params"], 1, OUTSIDE),
    ("workspace", ["run", "-p", "anne=2020"], 2, "unknown parameter 'anne'. Did you mean 'annee'?"),
    ("workspace", ["run", "-p", "annee=deux"], 2, "parameter 'annee' expects int, got 'deux'"),
    ("workspace", ["run", "-y", "codes=[01"], 2, "-y codes: not valid YAML"),
    ("workspace", ["run", "--params", "params/bad.yaml"], 2, "params/bad.yaml: not valid YAML (line 2"),
    ("workspace", ["run", "--grid", "params/ci.yaml"], 2, "a grid is a mapping"),
    ("workspace", ["run", "nope"], 1, "Notebook 'nope' not found"),
    ("workspace", ["params", "nope"], 1, "Notebook 'nope' not found"),
]


@pytest.mark.parametrize(("where", "args", "code", "message"), CASES, ids=[" ".join(c[1]) for c in CASES])
def test_bad_input_gets_a_message_and_an_exit_code_never_a_traceback(
    places: dict[str, Path], where: str, args: list[str], code: int, message: str
) -> None:
    result = eig(places[where], *args, timeout=120)
    assert result.returncode == code, result.stderr
    assert result.stderr.startswith("Error: ") and message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (places["workspace"] / "runs").exists()


NO_TEMPORARY_FOLDER = """
for folder in /tmp /var/tmp; do mount --bind "$folder" "$folder" && mount -o remount,bind,ro "$folder"; done
cd /tmp && exec "$@"
"""  # in a private mount namespace: /tmp and /var/tmp read-only there only, the current folder /tmp too


@pytest.mark.skipif(shutil.which("unshare") is None or os.geteuid() != 0, reason="needs unshare -m (root)")
@pytest.mark.parametrize("command", ["new", "run", "data info"])
def test_no_writable_temporary_folder_is_a_message_naming_tmpdir_not_a_traceback(
    tmp_path: Path, command: str
) -> None:
    """``eig new`` (cookiecutter's hooks) and ``eig run`` (kernels' sockets) need one: a message, and nothing
    recorded; ``eig data info`` does not: it still works."""
    output = tmp_path / "out"
    output.mkdir()
    workspace = make_workspace(tmp_path / "ws", {"01-demo": "params_demo"})
    env = {**os.environ, "TMPDIR": str(tmp_path / "missing"), "EIG_WORKSPACE": str(workspace)}
    args = {"new": ["new", "Test", "--no-input", "--no-git", "--output-dir", str(output)], "run": ["run"],
            "data info": ["data", "info", "radars"]}[command]  # fmt: skip
    argv = ["unshare", "-m", "bash", "-c", NO_TEMPORARY_FOLDER, "bash", *EIG, *args]
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    if command == "data info":
        assert result.returncode == 0 and "radars" in result.stdout, result.stderr
        return
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("Error: no folder to write temporary files in: "), result.stderr
    assert str(tmp_path / "missing") in result.stderr and "Point TMPDIR to a folder" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert list(output.iterdir()) == [] and not (workspace / "runs").exists()
