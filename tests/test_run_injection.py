"""``eig run`` on untyped parameters: papermill's values, never code (real kernels, real papermill CLI)."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from param_notebooks import eig, injected_cell, only_run, received, workspace_with, write_notebook

UNTYPED = (
    "\n".join(
        f"{name} = None"
        for name in ("text", "quoted", "integer", "negative", "real", "exponent", "yes", "nothing")
    )
    + "\nlisting = None\nmapping = None\nlisting_yaml = None\nmapping_yaml = None"
)

# papermill -p NAME VALUE, as the user types it (papermill's own test cases: str, int, float, bool, None,
# and list/dict written as text); -y cases as papermill's -y YAML mapping
P_VALUES = {
    "text": "hello world",
    "quoted": 'it\'s "quoted"',
    "integer": "12",
    "negative": "-3",
    "real": "12.5",
    "exponent": "1e3",
    "yes": "True",
    "nothing": "None",
    "listing": "[1, 'a', None]",
    "mapping": "{'a': 1, 'b': [2, 3]}",
}
Y_VALUES = {"listing_yaml": "[1, 'a', null, 2.5, true]", "mapping_yaml": "{a: 1, b: [x, 'y'], c: null}"}


@pytest.fixture(scope="module")
def untyped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return workspace_with(tmp_path_factory.mktemp("untyped"), "untyped", UNTYPED)


def test_eig_run_injects_the_values_papermill_injects(untyped: Path, tmp_path: Path) -> None:
    papermill_out = tmp_path / "papermill.ipynb"
    command = [
        sys.executable,
        "-m",
        "papermill",
        str(untyped / "notebooks" / "untyped.ipynb"),
        str(papermill_out),
    ]
    for name, value in P_VALUES.items():
        command += ["-p", name, value]
    for name, value in Y_VALUES.items():
        command += ["-y", f"{name}: {value}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr

    args = [f"-p{name}={value}" for name, value in P_VALUES.items()]
    args += [f"-y{name}={value}" for name, value in Y_VALUES.items()]
    result = eig(untyped, "run", "-k", "python3", *args)
    assert result.returncode == 0, result.stderr
    ours = only_run(untyped) / "untyped.ipynb"
    manifest = json.loads((only_run(untyped) / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["command"]["kernel"] == "python3"
    assert manifest["runs"][0]["parameters"]["text"] == "hello world"

    theirs_seen, ours_seen = received(papermill_out), received(ours)
    assert ours_seen == theirs_seen
    assert ours_seen["text"] == ["str", "hello world"] and ours_seen["integer"] == ["int", 12]
    assert ours_seen["listing"] == ["str", "[1, 'a', None]"]  # papermill -p: text, not a list
    assert ours_seen["mapping_yaml"] == ["dict", {"a": 1, "b": ["x", "y"], "c": None}]
    assert _assigned(injected_cell(ours)) == _assigned(injected_cell(papermill_out))


def _assigned(source: str) -> dict[str, object]:
    """name -> value of every assignment of an injected cell (literals only)."""
    tree = ast.parse(source)
    return {
        node.targets[0].id: ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
    }


PAYLOAD = '!!set {"\\"; import os; os.system(\'touch PWNED\'); y=\\"": null}'


def test_the_injection_payload_of_the_issue_reaches_the_kernel_as_text(untyped: Path) -> None:
    shutil.rmtree(untyped / "runs", ignore_errors=True)
    result = eig(
        untyped, "run", f"-ptext={PAYLOAD}", "-pquoted=\"'; import os; os.system('touch PWNED'); '\""
    )
    assert result.returncode == 0, result.stderr
    executed = only_run(untyped) / "untyped.ipynb"
    seen = received(executed)
    assert seen["text"] == ["str", PAYLOAD]
    assert seen["quoted"][1].startswith("\"'; import os")
    assert not (untyped / "PWNED").exists()
    assert "os.system" not in "".join(
        line
        for line in injected_cell(executed).splitlines()
        if not line.lstrip().startswith(("text =", "quoted ="))
    )


@pytest.mark.parametrize(
    ("args", "file_text", "named"),
    [
        (["-y", f"text={PAYLOAD}"], None, "-y text"),
        (["--params", "params/evil.yaml"], f"text: {PAYLOAD}\n", "params/evil.yaml"),
        (
            ["--grid", "params/evil.yaml"],
            "text: [!!python/object/apply:os.system ['touch PWNED']]\n",
            "evil.yaml",
        ),
    ],
)
def test_tagged_yaml_is_refused_with_exit_2_before_any_kernel(
    untyped: Path, args: list[str], file_text: str | None, named: str
) -> None:
    shutil.rmtree(untyped / "runs", ignore_errors=True)
    if file_text is not None:
        (untyped / "params" / "evil.yaml").write_text(file_text, encoding="utf-8")
    result = eig(untyped, "run", *args)
    assert result.returncode == 2, result.stderr
    assert named in result.stderr and "is not accepted" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (untyped / "runs").exists() and not (untyped / "PWNED").exists()


def test_kernel_option_chooses_the_kernel(untyped: Path, tmp_path: Path) -> None:
    shutil.rmtree(untyped / "runs", ignore_errors=True)
    spec = tmp_path / "jupyter" / "kernels" / "eig-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {
        "argv": argv,
        "display_name": "EIG test",
        "language": "python",
        "env": {"EIG_TEST_KERNEL": "oui"},
    }
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")
    probe = 'import os\ntext = os.environ.get("EIG_TEST_KERNEL", "absent")'
    write_notebook(untyped / "notebooks" / "probe.ipynb", "text = None", probe)
    env = {"JUPYTER_PATH": str(tmp_path / "jupyter")}
    try:
        result = eig(untyped, "run", "probe", "-k", "eig-test", env=env)
        assert result.returncode == 0, result.stderr
        executed = only_run(untyped) / "probe.ipynb"
        assert received(executed) == {"text": ["str", "oui"]}
        manifest = json.loads((only_run(untyped) / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["command"]["kernel"] == "eig-test"
    finally:
        (untyped / "notebooks" / "probe.ipynb").unlink()
