"""`eig demo` bakes a workspace, runs and checks its notebooks on the embedded samples, shows the reports."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import OFFLINE_ENV
from eigkit.cli import main


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_demo_runs_and_checks_a_workspace_offline(kit_copy: Path, tmp_path: Path, cookiecutter_config: Path,
                                                  monkeypatch: pytest.MonkeyPatch):  # fmt: skip
    for name, value in {**OFFLINE_ENV, "COOKIECUTTER_CONFIG": str(cookiecutter_config)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("EIG_WORKSPACE", raising=False)
    target = tmp_path / "eig-demo"
    result = CliRunner().invoke(main, ["demo", str(target), "--template", str(kit_copy)])
    assert result.exit_code == 0, result.output
    assert (target / "reports/index.html").is_file()
    assert f"{target / 'reports/index.html'}" in result.output
    assert any((target / "runs").iterdir())


def test_demo_refuses_an_existing_folder(tmp_path: Path):
    result = CliRunner().invoke(main, ["demo", str(tmp_path)])
    assert result.exit_code == 1 and "already exists" in result.output
