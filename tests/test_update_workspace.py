"""Issue 6: template changes reach an existing workspace through `eig update`, the user's edits stay."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

import eigkit
from conftest import copy_kit, git
from eigkit.cli import main

README = "template/{{cookiecutter.project_slug}}/README.md"
NEW_LINE = "| `eig report` | régénère les rapports HTML sans tout réexécuter |"
USER_LINE = "Notes de l'équipe : la source X est incomplète avant 2019."


def eig(workspace: Path, *args: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.chdir(workspace)
    monkeypatch.delenv("EIG_WORKSPACE", raising=False)
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def change_template(kit: Path, old: str, new: str, version: str) -> None:
    """Edit the kit copy's README template and version, and commit: a new kit release."""
    readme = kit / README
    readme.write_text(readme.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")
    init = kit / "shared/eigkit/__init__.py"
    text = init.read_text(encoding="utf-8")
    init.write_text(re.sub(r'__version__ = "[^"]+"', f'__version__ = "{version}"', text), encoding="utf-8")
    git(kit, "commit", "-q", "-am", f"release {version}")


@pytest.fixture
def kit_and_workspace(tmp_path: Path, cookiecutter_config: Path) -> tuple[Path, Path]:
    kit = copy_kit(tmp_path / "kit")
    git(kit, "remote", "add", "origin", "https://forge.example.org/eig/eig-kit.git")  # what a CI can reach
    workspace = eigkit.new(
        "Défi mis à jour", output_dir=tmp_path, template=kit, config_file=cookiecutter_config
    )
    return kit, workspace


def test_a_kit_source_only_this_machine_can_read_is_reported(
    tmp_path: Path, cookiecutter_config: Path, monkeypatch: pytest.MonkeyPatch
):
    kit = copy_kit(tmp_path / "kit")  # a checkout without a git remote: the workspace gets file://...
    said: list[str] = []
    workspace = eigkit.new(
        "Défi local", output_dir=tmp_path, template=kit, config_file=cookiecutter_config, say=said.append
    )
    dependencies = tomllib.loads((workspace / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert dependencies["dependencies"] == [f"eig-kit[geo] @ file://{kit}"]  # generique draws a map
    (warning,) = [line for line in said if line.startswith("warning:")]
    assert "will fail at `pip install`" in warning and "--set kit_source=git+https://" in warning
    monkeypatch.chdir(workspace)
    monkeypatch.delenv("EIG_WORKSPACE", raising=False)
    result = CliRunner().invoke(main, ["update", "--check"])  # click 8.2: stdout and stderr kept apart
    assert result.exit_code == 1  # up to date with its template, but its CI could not install the kit
    assert "À jour avec le modèle" in result.stdout and f"file://{kit}" in result.stderr
    assert "D'où vient le kit" in (workspace / "README.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_update_brings_template_changes_and_keeps_user_edits(
    system_tmp: Path, kit_and_workspace, monkeypatch
):
    kit, workspace = kit_and_workspace
    readme = workspace / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + USER_LINE + "\n", encoding="utf-8")
    notebook = next((workspace / "notebooks").glob("*.ipynb"))
    notebook_edit = notebook.read_text(encoding="utf-8").replace('"cells": [', '"cells": [\n  ', 1)
    notebook.write_text(notebook_edit, encoding="utf-8")
    git(workspace, "commit", "-q", "-am", "user edits")
    assert eig(workspace, "update", "--check", monkeypatch=monkeypatch)[0] == 0

    change_template(kit, "| `eig check` |", NEW_LINE + "\n| `eig check` |", "9.9.0")
    code, output = eig(workspace, "update", "--check", monkeypatch=monkeypatch)
    assert code == 1 and "README.md" in output

    code, output = eig(workspace, "update", monkeypatch=monkeypatch)
    assert code == 0, output
    text = readme.read_text(encoding="utf-8")
    assert NEW_LINE in text and USER_LINE in text
    assert notebook.read_text(encoding="utf-8") == notebook_edit
    pyproject = tomllib.loads((workspace / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["eig"]["kit_version"] == "9.9.0"
    assert not list(workspace.rglob("*.rej"))
    assert eig(workspace, "update", "--check", monkeypatch=monkeypatch)[0] == 0
    assert list(system_tmp.iterdir()) == []  # neither the bake nor the update left cookiecutter's hooks there


@pytest.mark.slow
def test_update_reports_conflicts_and_exits_non_zero(kit_and_workspace, monkeypatch):
    kit, workspace = kit_and_workspace
    readme = workspace / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace("## Les dossiers", "## Mes dossiers"))
    git(workspace, "commit", "-q", "-am", "user renames a heading")
    change_template(kit, "## Les dossiers", "## Les dossiers du défi", "9.9.1")

    code, output = eig(workspace, "update", monkeypatch=monkeypatch)
    assert code == 2 and "README.md" in output
    assert "<<<<<<<" in readme.read_text(encoding="utf-8")
    assert not list(workspace.rglob("*.rej"))


def test_update_refuses_a_dirty_workspace(kit_and_workspace, monkeypatch):
    _, workspace = kit_and_workspace
    (workspace / "README.md").write_text("brouillon\n", encoding="utf-8")
    code, output = eig(workspace, "update", monkeypatch=monkeypatch)
    assert code == 1 and "uncommitted changes" in output
    assert (workspace / "README.md").read_text(encoding="utf-8") == "brouillon\n"
