"""The template bakes every kind x CI provider into exactly the expected workspace, and refuses bad values."""

from __future__ import annotations

import json
import os
import re
import runpy
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

import eigkit
from conftest import KIT, OFFLINE_ENV, bake_project, copy_kit, git, write_cookiecutter_config
from eigkit.workspace import WorkspaceError
from eigkit.workspace.variables import template_defaults
from processes import EIG_FROM_A_TERMINAL

TEMPLATE_CHOICES = template_defaults(KIT)
KINDS = TEMPLATE_CHOICES["defi_kind"]
PROVIDERS = TEMPLATE_CHOICES["ci_provider"]
COMMON_FILES = {
    ".gitignore", ".pre-commit-config.yaml", ".secrets.baseline", "LICENSE", "LICENCE-DONNEES", "README.md",
    "pyproject.toml", "publiccode.yml", "docs/PERENNISATION.md", "docs/hypotheses-et-limites.md",
    "docs/journal-des-donnees.md", "tests/nbval_sanitize.cfg",
    "data/raw/.gitkeep", "data/interim/.gitkeep", "data/processed/.gitkeep", "reports/.gitkeep",
}  # fmt: skip
CI_FILES = {
    "github": {".github/workflows/notebooks.yml", ".github/pull_request_template.md"},
    "gitlab": {".gitlab-ci.yml", ".gitlab/merge_request_templates/Default.md"},
}
CI_FILES["both"] = CI_FILES["github"] | CI_FILES["gitlab"]
LEFTOVERS = ("{{", "{%", "@EIG_KIT_VERSION@")
KIND_EXTRAS = {
    "generique": "[geo]",
    "securite-routiere": "[geo]",
    "gendarmerie": "[geo,xlsx]",
    "cour-des-comptes": "[search]",
    "sauvetage-en-mer": "[sauvetage]",
}


def kind_files(kind: str) -> set[str]:
    source = KIT / "notebooks" / kind
    return {f"notebooks/{p.name}" for p in source.glob("*.ipynb")} | {
        f"params/{p.name}" for p in (source / "params").glob("*.yaml")
    }


def files_of(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def available(kind: str) -> bool:
    return any((KIT / "notebooks" / kind).glob("*.ipynb"))


@pytest.fixture(scope="module")
def baked(tmp_path_factory: pytest.TempPathFactory, cookiecutter_config: Path):
    """Bake each kind x provider once (lazily) and share the workspaces between the tests of this module."""
    workspaces: dict[tuple[str, str], Path] = {}

    def get(kind: str, provider: str) -> Path:
        if not available(kind):
            pytest.skip(f"notebooks/{kind}/ has no notebook yet (written by the kinds' helpers)")
        if (kind, provider) not in workspaces:
            out = tmp_path_factory.mktemp(f"{kind}-{provider}")
            workspaces[kind, provider] = bake_project(
                out, cookiecutter_config, project_name=f"Défi {kind} à l'essai", defi_kind=kind,
                ci_provider=provider, kit_source=str(KIT),
            )  # fmt: skip
        return workspaces[kind, provider]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("kind", KINDS)
def test_bake_gives_exactly_the_expected_files(baked, kind: str, provider: str):
    workspace = baked(kind, provider)
    assert workspace.name == f"defi-{kind}-a-l-essai"
    assert files_of(workspace) == COMMON_FILES | CI_FILES[provider] | kind_files(kind)
    for path in workspace.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            if ".github" in path.parts:  # GitHub's own expressions, ${{ ... }}, are meant to stay
                text = re.sub(r"\$\{\{.*?\}\}", "", text)
            assert not [m for m in LEFTOVERS if m in text], f"template syntax left in {path}"
    for notebook in (workspace / "notebooks").glob("*.ipynb"):
        for cell in json.loads(notebook.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, notebook
    pyproject = tomllib.loads((workspace / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["eig"] == {
        "kind": kind,
        "kit_version": eigkit.__version__,
        "administration": "Administration partenaire",
        "theme": "neutral",
        "secret_statistique": 11,
    }
    extras = KIND_EXTRAS.get(kind, "")  # what the kind's notebooks need beyond the core
    assert pyproject["project"]["dependencies"] == [f"eig-kit{extras} @ file://{KIT}"]
    assert (workspace / "tests/nbval_sanitize.cfg").read_bytes() == (
        KIT / "shared/eigkit/runner/nbval_sanitize.cfg"
    ).read_bytes()


def test_git_sources_pin_the_kit_version(tmp_path: Path, cookiecutter_config: Path):
    workspace = bake_project(
        tmp_path, cookiecutter_config, project_name="Sécurité routière 31", licence="EUPL-1.2"
    )
    assert workspace.name == "securite-routiere-31"
    pyproject = tomllib.loads((workspace / "pyproject.toml").read_text(encoding="utf-8"))
    source = TEMPLATE_CHOICES["kit_source"]
    assert pyproject["project"]["dependencies"] == [f"eig-kit[geo] @ {source}@v{eigkit.__version__}"]
    assert pyproject["project"]["description"].endswith("« Sécurité routière 31 »")
    assert "EUPL" in (workspace / "LICENSE").read_text(encoding="utf-8")
    readme = (workspace / "README.md").read_text(encoding="utf-8")
    assert "# Sécurité routière 31" in readme and "eig run --params params/ci.yaml" in readme


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"project_name": ""}, "project_name"),
        ({"project_name": "  "}, "project_name"),
        ({"project_name": "Eau/Assainissement"}, "project_name"),
        ({"project_slug": "Sécurité"}, "project_slug"),
        ({"project_slug": "a b"}, "project_slug"),
        ({"project_slug": "../evade"}, "project_slug"),
        ({"project_slug": "-x-"}, "project_slug"),
        ({"python_version": "3.9"}, "python_version"),
        ({"kit_source": "ftp://example.org/kit"}, "kit_source"),
    ],
)
def test_bad_values_are_refused_by_the_hook_and_leave_nothing(
    tmp_path: Path, cookiecutter_config: Path, capfd, values: dict, variable: str
):
    from cookiecutter.exceptions import FailedHookException

    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(FailedHookException):
        bake_project(out, cookiecutter_config, **{"project_name": "Défi", "project_slug": "defi", **values})
    assert f"{variable}:" in capfd.readouterr().err
    assert list(out.iterdir()) == [] and not (tmp_path / "evade").exists()


@pytest.mark.parametrize(
    ("values", "variable"),
    [
        ({"defi_kind": "inconnu"}, "defi_kind"),
        ({"ci_provider": "jenkins"}, "ci_provider"),
        ({"licence": "WTFPL"}, "licence"),
        ({"project_slug": "x/y"}, "project_slug"),
        ({"mentorr": "Camille"}, "mentorr"),
        ({"mentor": "{{ 7 * 7 }}"}, "mentor"),
    ],
)
def test_eig_new_refuses_bad_values_before_writing(tmp_path: Path, values: dict, variable: str):
    out = tmp_path / "out"
    with pytest.raises(WorkspaceError, match=variable):
        eigkit.new("Défi", output_dir=out, values=values, template=KIT, git_init=False)
    assert not out.exists()


def test_hook_rules_follow_the_template_choices():
    rules = runpy.run_path(str(KIT / "template/hooks/pre_gen_project.py"), run_name="rules")
    assert list(rules["KINDS"]) == KINDS
    assert list(rules["CI_PROVIDERS"]) == PROVIDERS
    assert list(rules["LICENCES"]) == TEMPLATE_CHOICES["licence"]
    assert sorted(p.name for p in (KIT / "template/templates/licences").iterdir()) == sorted(
        f"{name}.txt" for name in rules["LICENCES"]
    )
    assert list(rules["DATA_LICENCES"]) == TEMPLATE_CHOICES["licence_donnees"]
    assert sorted(p.name for p in (KIT / "template/templates/donnees").iterdir()) == sorted(
        f"{name}.txt" for name in rules["DATA_LICENCES"]
    )


def test_post_generation_hook_is_safe_to_run_again(baked, monkeypatch: pytest.MonkeyPatch):
    workspace = baked("generique", "gitlab")
    before = {name: (workspace / name).read_bytes() for name in files_of(workspace)}
    hook = runpy.run_path(str(KIT / "template/hooks/post_gen_project.py"), run_name="hook")
    context = {"defi_kind": "generique", "ci_provider": "gitlab", "_repo_dir": str(KIT / "template")}
    monkeypatch.chdir(workspace)
    assert hook["main"](json.dumps(context)) == 0
    assert {name: (workspace / name).read_bytes() for name in files_of(workspace)} == before


def test_hook_finds_the_kit_at_a_commit_of_a_local_template(kit_copy: Path, tmp_path: Path):
    hook = runpy.run_path(str(KIT / "template/hooks/post_gen_project.py"), run_name="hook")
    commit = git(kit_copy, "rev-parse", "HEAD").strip()
    kit = hook["_kit_from_git_template"]({"_template": str(kit_copy), "_commit": commit}, tmp_path)
    assert kit == tmp_path
    assert kind_files("generique") <= {
        f"notebooks/{p.name}" for p in (kit / "notebooks/generique").glob("*.ipynb")
    } | {f"params/{p.name}" for p in (kit / "notebooks/generique/params").glob("*.yaml")}
    assert hook["kit_version"](kit) == eigkit.__version__


def _cli(tmp_path: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """Run cookiecutter's or cruft's own command, with a temporary folder of its own (``system-tmp``)."""
    (tmp_path / "system-tmp").mkdir(exist_ok=True)
    env = {**os.environ, **OFFLINE_ENV, "HOME": str(tmp_path), "TMPDIR": str(tmp_path / "system-tmp")}
    return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env)


@pytest.mark.slow
def test_cookiecutter_cli_bakes_from_a_git_url_of_the_kit(kit_copy: Path, tmp_path: Path):
    config = write_cookiecutter_config(tmp_path / "cc")
    cookiecutter = str(Path(sys.executable).parent / "cookiecutter")
    url, out = f"git+file://{kit_copy}", str(tmp_path / "out")
    result = _cli(tmp_path, cookiecutter, url, "--no-input", "--config-file", str(config), "-o", out,
                  "project_name=Pompiers 83", "defi_kind=generique")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert list((tmp_path / "system-tmp").iterdir()) == []  # the hooks removed their rendered copies
    workspace = tmp_path / "out/pompiers-83"
    assert files_of(workspace) == COMMON_FILES | CI_FILES["github"] | kind_files("generique")


@pytest.mark.slow
def test_cruft_create_bakes_and_records_the_origin(kit_copy: Path, tmp_path: Path):
    cruft = str(Path(sys.executable).parent / "cruft")
    extra = json.dumps({"project_name": "Secours en mer"})
    result = _cli(tmp_path, cruft, "create", str(kit_copy), "--directory", "template", "--no-input",
                  "--output-dir", str(tmp_path / "out"), "--extra-context", extra)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert list((tmp_path / "system-tmp").iterdir()) == []  # the hooks removed their rendered copies
    workspace = tmp_path / "out/secours-en-mer"
    assert files_of(workspace) == COMMON_FILES | CI_FILES["github"] | kind_files("generique") | {
        ".cruft.json"
    }
    state = json.loads((workspace / ".cruft.json").read_text(encoding="utf-8"))
    assert (state["template"], state["directory"]) == (str(kit_copy), "template")
    assert state["commit"] == git(kit_copy, "rev-parse", "HEAD").strip()


@pytest.mark.slow
def test_eig_new_records_the_template_and_commits(
    kit_copy: Path, tmp_path: Path, cookiecutter_config: Path, system_tmp: Path
):
    workspace = eigkit.new("Cour des comptes, rapports", output_dir=tmp_path, template=kit_copy,
                           config_file=cookiecutter_config, values={"ci_provider": "both"})  # fmt: skip
    assert list(system_tmp.iterdir()) == []  # cookiecutter's rendered hooks (the answers) are not left behind
    assert workspace == tmp_path / "cour-des-comptes-rapports"
    state = json.loads((workspace / ".cruft.json").read_text(encoding="utf-8"))
    assert (state["template"], state["directory"]) == (str(kit_copy), "template")
    assert state["context"]["cookiecutter"]["kit_source"] == str(kit_copy)
    assert git(workspace, "status", "--porcelain") == ""
    assert files_of(workspace) - {p for p in files_of(workspace) if p.startswith(".git/")} == (
        COMMON_FILES | CI_FILES["both"] | kind_files("generique") | {".cruft.json"}
    )


PAUSE_IN_THE_HOOK = """    context = json.loads(context_json)
    open(os.environ["EIG_TEST_HOOK_STARTED"], "w").close()  # the test's pause, until it says go
    for _ in range(2400):
        if os.path.exists(os.environ["EIG_TEST_HOOK_GO"]):
            break
        __import__("time").sleep(0.05)
"""


@pytest.fixture
def pausing_kit(tmp_path: Path) -> Path:
    """A git copy of the kit whose post-generation hook pauses: it creates ``hook-started`` beside the kit,
    then waits for ``hook-go``."""
    kit = copy_kit(tmp_path / "kit")
    hook = kit / "template/hooks/post_gen_project.py"
    hook.write_text(hook.read_text().replace("    context = json.loads(context_json)\n", PAUSE_IN_THE_HOOK))
    git(kit, "commit", "-qam", "a pause in the post-generation hook")
    return kit


def _bake_until_the_hook(kit: Path, out: Path, config: Path, asked: bool = False) -> subprocess.Popen[str]:
    """``eig new "Test"`` (with prompts, answered with the defaults, when ``asked``) started as from a
    terminal, once its post-generation hook has started."""
    started, go = kit.parent / "hook-started", kit.parent / "hook-go"
    env = {**os.environ, **OFFLINE_ENV, "COOKIECUTTER_CONFIG": str(config),
           "EIG_TEST_HOOK_STARTED": str(started), "EIG_TEST_HOOK_GO": str(go)}  # fmt: skip
    command = [*EIG_FROM_A_TERMINAL, "new", "Test", "--no-git", "--template", str(kit),
               "--output-dir", str(out), *([] if asked else ["--no-input"])]  # fmt: skip
    baking = subprocess.Popen(command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    baking.stdin.write("\n" * 40)  # every question answered with its default
    baking.stdin.close()
    deadline = time.monotonic() + 120
    while not started.exists() and baking.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists(), baking.communicate()
    return baking


@pytest.mark.slow
@pytest.mark.parametrize("asked", [False, True], ids=["no-input", "prompts"])
def test_ctrl_c_during_a_bake_leaves_nothing_behind(
    pausing_kit: Path, tmp_path: Path, cookiecutter_config: Path, asked: bool
):
    """The workspace is baked in a private folder and moved into place once complete: an interrupted bake
    leaves nothing that would make the next ``eig new "Test"`` say "already exists"."""
    out = tmp_path / "out"
    baking = _bake_until_the_hook(pausing_kit, out, cookiecutter_config, asked)
    assert [path.name for path in out.iterdir()] != ["test"]  # not in place while baking
    os.killpg(baking.pid, signal.SIGINT)  # Ctrl-C reaches the terminal's whole process group
    stderr = baking.stderr.read()
    assert baking.wait(timeout=60) == 130, stderr
    assert stderr.rstrip().endswith("Interrupted (Ctrl-C).") and "Traceback" not in stderr, stderr
    assert list(out.iterdir()) == []


@pytest.mark.slow
def test_a_bake_never_removes_the_folder_someone_else_made_meanwhile(
    pausing_kit: Path, tmp_path: Path, cookiecutter_config: Path
):
    out = tmp_path / "out"
    baking = _bake_until_the_hook(pausing_kit, out, cookiecutter_config)
    (out / "test").mkdir()  # another `eig new "Test"`, or the user, was quicker
    (out / "test" / "notes.txt").write_text("à garder")
    (pausing_kit.parent / "hook-go").touch()
    assert baking.wait(timeout=120) == 1  # its output is a few lines: the pipes cannot fill up
    stderr = baking.stderr.read()
    assert "test already exists (made while this workspace was baked)" in stderr, stderr
    assert [path.name for path in out.iterdir()] == ["test"]
    assert [path.name for path in (out / "test").iterdir()] == ["notes.txt"]
