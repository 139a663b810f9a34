"""A baked workspace's CI passes: run exactly the commands of its GitHub workflow (and check GitLab runs the
same ones), offline.

The install step (`python -m pip install .`) runs in a fresh virtual environment that sees the test
environment's packages (a .pth file) with `--no-index --no-build-isolation` added, so it needs no network:
pip builds the workspace and installs eig-kit from its `kit_source` (this checkout) into that environment.
Jupyter data files of the linked packages stay under the test environment's prefix: JUPYTER_PATH points there.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import KIT, OFFLINE_ENV, bake_project, git

INSTALL = 'python -m pip install ".[dev]"'
OFFLINE_PIP_FLAGS = ["--no-index", "--no-build-isolation", "--quiet"]


def github_commands(workspace: Path) -> list[str]:
    workflow = yaml.safe_load((workspace / ".github/workflows/notebooks.yml").read_text(encoding="utf-8"))
    return [step["run"] for step in workflow["jobs"]["notebooks"]["steps"] if "run" in step]


def gitlab_commands(workspace: Path) -> list[str]:
    pipeline = yaml.safe_load((workspace / ".gitlab-ci.yml").read_text(encoding="utf-8"))
    job = pipeline["notebooks"]
    return [*job["before_script"], *job["script"]]


def linked_venv(folder: Path) -> Path:
    """A virtual environment whose interpreter also sees the test environment's packages."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    purelib = next(folder.glob("lib/python*/site-packages"))
    (purelib / "_test_env.pth").write_text("\n".join(site.getsitepackages()) + "\n", encoding="utf-8")
    return folder / "bin"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ci_steps_pass_in_a_baked_workspace(tmp_path: Path, cookiecutter_config: Path):
    workspace = bake_project(tmp_path, cookiecutter_config, project_name="Défi CI", ci_provider="both",
                             kit_source=str(KIT))  # fmt: skip
    commands = github_commands(workspace)
    summary_step = 'eig diff --markdown "$GITHUB_STEP_SUMMARY"'  # GitLab: an artifact (after_script)
    assert [command for command in commands if command != summary_step] == gitlab_commands(workspace)
    run_step = "eig run --params params/ci.yaml --explain"
    assert (
        commands[0] == INSTALL
        and run_step in commands
        and "eig check" in commands
        and summary_step in commands
    )

    bin_dir = linked_venv(tmp_path / "venv")
    # the hooks' tools (pre-commit, nbstripout, detect-secrets) are the test environment's: pip sees them
    # installed through the .pth link and does not copy their scripts into the linked environment
    tools = Path(sys.executable).parent
    path = os.pathsep.join([str(bin_dir), str(tools), os.environ["PATH"]])
    env = {**os.environ, **OFFLINE_ENV, "PATH": path,
           # linked packages' data files (nbconvert templates, kernel specs) stay under the test env's prefix
           "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter")}  # fmt: skip
    env.pop("EIG_WORKSPACE", None)
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-cache")
    env["GITHUB_STEP_SUMMARY"] = str(tmp_path / "step-summary.md")
    git(workspace, "init", "-q")  # the CI runs on a checkout: pre-commit needs a repository
    git(workspace, "add", "-A")
    for command in commands:
        argv = ["bash", "-c", command]  # as the runners do: "$GITHUB_STEP_SUMMARY" is expanded
        if command == INSTALL:
            argv = [str(bin_dir / "python"), "-m", "pip", "install", ".[dev]", *OFFLINE_PIP_FLAGS]
        result = subprocess.run(argv, cwd=workspace, env=env, capture_output=True, text=True)
        assert result.returncode == 0, f"CI step `{command}` failed:\n{result.stdout}\n{result.stderr}"
        if command == INSTALL:
            assert (bin_dir / "eig").is_file(), "the install step did not install eig-kit's `eig` command"
    assert (workspace / "reports/index.html").is_file()
    assert "rien à comparer" in (tmp_path / "step-summary.md").read_text(encoding="utf-8")  # a first run

    # the next nightly run with the cache restored (runs/ kept) and nothing changed: every notebook reused
    rerun = subprocess.run(["bash", "-c", run_step], cwd=workspace, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    notebooks = sorted(path.stem for path in (workspace / "notebooks").glob("*.ipynb"))
    assert [line.split(":")[0] for line in rerun.stderr.splitlines() if ": reused — " in line] == notebooks
    summary = subprocess.run(
        ["bash", "-c", summary_step], cwd=workspace, env=env, capture_output=True, text=True
    )
    assert summary.returncode == 0, summary.stderr
    assert "Rien n'a changé" in (tmp_path / "step-summary.md").read_text(encoding="utf-8")
