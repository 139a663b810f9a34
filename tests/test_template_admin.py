"""What an administration needs to open and hand over a workspace: licences with their official texts and SPDX
identifiers, a publiccode.yml valid against its schema, pre-commit hooks that stop secrets and large files
(run for real, offline), and the quality trail (assumptions, data log, review checklists)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

from conftest import KIT, bake_project, git
from eigkit.workspace.variables import template_defaults

CHOICES = template_defaults(KIT)
SCHEMA = json.loads((Path(__file__).parent / "data/schemas/publiccode.json").read_text(encoding="utf-8"))
SPDX = json.loads((KIT / "template/cookiecutter.json").read_text(encoding="utf-8"))["_spdx"]
# first line of each official text, as published by its author
FIRST_LINES = {
    "CeCILL-B": "CONTRAT DE LICENCE DE LOGICIEL LIBRE CeCILL-B",
    "CeCILL-C": "CONTRAT DE LICENCE DE LOGICIEL LIBRE CeCILL-C",
    "CeCILL-2.1": "CONTRAT DE LICENCE DE LOGICIEL LIBRE CeCILL",
    "GPL-3.0": "GNU GENERAL PUBLIC LICENSE",
    "LGPL-3.0": "GNU LESSER GENERAL PUBLIC LICENSE",
    "AGPL-3.0": "GNU AFFERO GENERAL PUBLIC LICENSE",
    "EPL-2.0": "Eclipse Public License - v 2.0",
    "EUPL-1.2": "EUROPEAN UNION PUBLIC LICENCE v. 1.2",
    "BSD-2-Clause": "SPDX-License-Identifier: BSD-2-Clause",
    "MIT": "MIT License",
}


def test_the_licence_list_is_the_one_allowed_for_administrations() -> None:
    allowed = {"MIT", "EUPL-1.2", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "MPL-2.0", "CeCILL-2.1",
               "CeCILL-B", "CeCILL-C", "GPL-3.0", "LGPL-3.0", "AGPL-3.0", "EPL-2.0"}  # fmt: skip
    assert set(CHOICES["licence"]) == allowed
    assert CHOICES["licence_donnees"] == ["Licence-Ouverte-2.0", "ODbL-1.0"]
    assert set(SPDX) == allowed | set(CHOICES["licence_donnees"])


@pytest.fixture(scope="module")
def cecill(tmp_path_factory: pytest.TempPathFactory, cookiecutter_config: Path) -> Path:
    out = tmp_path_factory.mktemp("cecill")
    values = {
        "project_name": "Contrôle fiscal : « DVF »",
        "licence": "CeCILL-B",
        "administration": "Direction générale des Finances publiques",
        "entrepreneurs": "Camille Martin, Inès Dubois",
    }
    return bake_project(out, cookiecutter_config, kit_source=str(KIT), **values)


def test_cecill_b_ships_the_official_french_text_and_spdx_everywhere(cecill: Path) -> None:
    licence = (cecill / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith(FIRST_LINES["CeCILL-B"])
    assert "la désignation d'un droit applicable, le droit\n      français" in licence and "{%" not in licence
    assert (
        tomllib.loads((cecill / "pyproject.toml").read_text(encoding="utf-8"))["project"]["license"]
        == "CECILL-B"
    )
    readme = (cecill / "README.md").read_text(encoding="utf-8")
    assert "Code : CECILL-B" in readme and "etalab-2.0" in readme
    assert (
        (cecill / "LICENCE-DONNEES").read_text(encoding="utf-8").startswith("LICENCE OUVERTE / OPEN LICENCE")
    )


def test_publiccode_is_filled_from_the_variables_and_valid(cecill: Path) -> None:
    publiccode = yaml.safe_load((cecill / "publiccode.yml").read_text(encoding="utf-8"))
    jsonschema.validate(publiccode, SCHEMA, format_checker=jsonschema.FormatChecker())
    assert publiccode["name"] == "Contrôle fiscal : « DVF »"
    assert publiccode["legal"] == {
        "license": "CECILL-B",
        "mainCopyrightOwner": "Direction générale des Finances publiques",
        "repoOwner": "Direction générale des Finances publiques",
    }
    assert [c["name"] for c in publiccode["maintenance"]["contacts"]] == ["Camille Martin", "Inès Dubois"]
    assert publiccode["url"] == "https://gitlab.com/controle-fiscal-dvf"
    long = publiccode["description"]["fr"]["longDescription"]
    assert 500 <= len(long) <= 10000 and "« Contrôle fiscal : « DVF » »" in long


@pytest.mark.parametrize("licence", sorted(set(CHOICES["licence"]) - {"CeCILL-B"}))
def test_every_code_licence_bakes_its_text(tmp_path: Path, cookiecutter_config: Path, licence: str) -> None:
    workspace = bake_project(tmp_path, cookiecutter_config, licence=licence, licence_donnees="ODbL-1.0",
                             kit_source=str(KIT))  # fmt: skip
    text = (workspace / "LICENSE").read_text(encoding="utf-8")
    assert len(text) > 900 and "{%" not in text and "{{" not in text
    if licence in FIRST_LINES:
        assert text.lstrip().startswith(FIRST_LINES[licence])
    if licence == "LGPL-3.0":  # the LGPL incorporates the GPL: both texts travel together
        assert "GNU GENERAL PUBLIC LICENSE" in text
    publiccode = yaml.safe_load((workspace / "publiccode.yml").read_text(encoding="utf-8"))
    jsonschema.validate(publiccode, SCHEMA)
    assert publiccode["legal"]["license"] == SPDX[licence]
    assert "Open Database License" in (workspace / "LICENCE-DONNEES").read_text(encoding="utf-8")


def test_a_repository_url_that_is_not_https_is_refused(
    tmp_path: Path, cookiecutter_config: Path, capfd
) -> None:
    from cookiecutter.exceptions import FailedHookException

    with pytest.raises(FailedHookException):
        bake_project(tmp_path, cookiecutter_config, repository_url="gitlab.com/x", kit_source=str(KIT))
    assert "repository_url:" in capfd.readouterr().err


def test_review_checklists_and_quality_trail_are_linked(cecill: Path) -> None:
    handover = (cecill / "docs/PERENNISATION.md").read_text(encoding="utf-8")
    for path in ("docs/hypotheses-et-limites.md", "docs/journal-des-donnees.md",
                 ".github/pull_request_template.md", "publiccode.yml"):  # fmt: skip
        assert path in handover
    checklist = (cecill / ".github/pull_request_template.md").read_text(encoding="utf-8")
    for section in ("## Question", "## Données", "## Méthode", "## Limites", "## Reproductibilité"):
        assert section in checklist
    assert "secret_statistique" in (cecill / "docs/hypotheses-et-limites.md").read_text(encoding="utf-8")


def _pre_commit(workspace: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip
    command = [str(Path(sys.executable).parent / "pre-commit"), "run", *args]
    return subprocess.run(command, cwd=workspace, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_pre_commit_hooks_pass_clean_and_stop_a_secret_and_a_large_file(cecill: Path, tmp_path: Path) -> None:
    git(cecill, "init", "-q")
    git(cecill, "add", "-A")
    clean = _pre_commit(cecill, tmp_path, "--all-files")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    for hook in ("nbstripout", "detect-secrets", "fichiers de plus de 1 Mo"):
        assert hook in clean.stdout
    git(cecill, "commit", "-q", "-m", "espace de travail")  # later commits: only what they add is checked

    (cecill / "notebooks/acces.py").write_text(
        'aws_access_key_id = "AKIAIOSFODNN7EXAMPLE"\n', encoding="utf-8"
    )
    git(cecill, "add", "notebooks/acces.py")
    leaked = _pre_commit(cecill, tmp_path)
    assert leaked.returncode != 0
    assert "AWS Access Key" in leaked.stdout and "notebooks/acces.py" in leaked.stdout
    git(cecill, "rm", "-q", "--cached", "notebooks/acces.py")
    (cecill / "notebooks/acces.py").unlink()

    (cecill / "data.csv").write_bytes(b"x;y\n" * 400_000)  # 1.6 MB of data committed by mistake
    git(cecill, "add", "data.csv")
    large = _pre_commit(cecill, tmp_path)
    assert large.returncode != 0 and "data.csv" in large.stdout
    assert "detect-secrets" not in large.stdout  # stopped first: the secret scan never reads the data file
