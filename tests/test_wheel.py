"""The built wheel carries the template and the kinds' notebooks; `eig new` bakes from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import KIT, OFFLINE_ENV, write_cookiecutter_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the kit's wheel offline with hatchling (the build backend, installed with the dev extras)."""
    out = tmp_path_factory.mktemp("dist")
    build = "import sys; from hatchling.build import build_wheel; print(build_wheel(sys.argv[1]))"
    result = subprocess.run(
        [sys.executable, "-c", build, str(out)], cwd=KIT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return out / result.stdout.strip().splitlines()[-1]


def test_the_wheel_bundles_template_notebooks_and_samples(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    repository = {p.relative_to(KIT).as_posix() for p in (KIT / "notebooks").rglob("*") if p.is_file()}
    assert {f"eigkit/_kit/{name}" for name in repository} <= names
    assert "eigkit/_kit/cookiecutter.json" in names and "eigkit/_kit/template/cookiecutter.json" in names
    assert any(name.startswith("eigkit/_kit/template/hooks/") for name in names)
    assert any(name.startswith("eigkit/data/samples/baac/") for name in names)
    assert "eigkit/data/registry.csv" in names and "eigkit/runner/nbval_sanitize.cfg" in names


def _bake_from_wheel(wheel: Path, tmp_path: Path, values: dict[str, str]) -> Path:
    """Bake a pompiers workspace with eigkit imported from the unpacked wheel (not this checkout)."""
    site = tmp_path / "site"
    if not site.exists():
        zipfile.ZipFile(wheel).extractall(site)
    config = write_cookiecutter_config(tmp_path / "cookiecutter")
    script = (
        "import json, sys, eigkit, eigkit.paths;"
        "assert eigkit.paths.kit_checkout() is None, 'expected the wheel, got a checkout';"
        "print(eigkit.__file__);"
        "print(eigkit.new('Pompiers du Var', kind='pompiers', output_dir=sys.argv[1], no_input=True,"
        " config_file=sys.argv[2], values=json.loads(sys.argv[3])))"
    )
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    env = {**os.environ, **OFFLINE_ENV, "PYTHONPATH": str(site), "TMPDIR": str(system_tmp)}
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "out"), str(config), json.dumps(values)],
        capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert list(system_tmp.iterdir()) == []  # cookiecutter's rendered hooks (the answers) are not left behind
    module, workspace = (Path(line) for line in result.stdout.strip().splitlines()[-2:])
    assert module.is_relative_to(site)
    return workspace


def test_eig_new_bakes_from_the_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    workspace = _bake_from_wheel(wheel, tmp_path, {"kit_source": "git+https://forge.example.org/eig/eig-kit.git"})
    assert sorted(p.name for p in (workspace / "notebooks").glob("*.ipynb")) == sorted(
        p.name for p in (KIT / "notebooks" / "pompiers").glob("*.ipynb")
    )
    state = json.loads((workspace / ".cruft.json").read_text(encoding="utf-8"))
    assert state["directory"] == "template"
    assert state["context"]["cookiecutter"]["defi_kind"] == "pompiers"
    pyproject = (workspace / "pyproject.toml").read_text(encoding="utf-8")
    assert "eig-kit @ git+https://forge.example.org/eig/eig-kit.git@v" in pyproject


def test_a_kit_installed_from_git_records_that_origin(wheel: Path, tmp_path: Path) -> None:
    """``pip install git+URL`` leaves a PEP 610 ``direct_url.json``: the workspace follows it."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    commit = "0123456789abcdef0123456789abcdef01234567"
    url = "https://forge.example.org/eig/eig-kit.git"
    record = {"url": url, "vcs_info": {"vcs": "git", "commit_id": commit}}
    (next(site.glob("eig_kit-*.dist-info")) / "direct_url.json").write_text(json.dumps(record))
    workspace = _bake_from_wheel(wheel, tmp_path, {})
    state = json.loads((workspace / ".cruft.json").read_text(encoding="utf-8"))
    assert (state["template"], state["commit"]) == (record["url"], commit)
    assert state["context"]["cookiecutter"]["kit_source"] == f"git+{record['url']}"
