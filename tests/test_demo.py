"""`eig demo` bakes a workspace, runs and checks its notebooks on the embedded samples, shows the reports.

The demo is made of the generique kind, the kind whose notebooks run fastest: what the demo adds (bake a demo
workspace, run its CI steps, run them again in an existing demo, refuse anything else) does not depend on the
kind, and the default kind's notebooks (securite-routiere) are baked, run and checked through the same
`eig new`/`eig run`/`eig check` commands by the acceptance test (tests/test_kinds_acceptance.py)."""

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
    command = ["demo", str(target), "--kind", "generique", "--template", str(kit_copy)]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 0, result.output
    assert (target / "reports/index.html").is_file()
    assert f"{target / 'reports/index.html'}" in result.output
    first_runs = set((target / "runs").iterdir())
    assert first_runs

    again = CliRunner().invoke(main, command)
    assert again.exit_code == 0, again.output  # the README's first command can be run twice
    assert "relancé" in again.output and len(set((target / "runs").iterdir()) - first_runs) == 1

    other_kind = CliRunner().invoke(main, ["demo", str(target)])  # the default kind: securite-routiere
    assert other_kind.exit_code == 1 and "'generique' demo, not 'securite-routiere'" in other_kind.output


def test_demo_refuses_an_existing_folder_that_is_not_a_demo(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("à garder")
    result = CliRunner().invoke(main, ["demo", str(tmp_path)])
    assert result.exit_code == 1 and "already exists and is not a demo workspace" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
