"""Secret parameters: taken from the environment or a git-ignored .env, never from the command line or a
params file, and found in no file a run produces (real kernels through the real ``eig run``)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner

from conftest import git
from eigkit.cli import main
from eigkit.runner.params import declared_parameters
from eigkit.secrets import Secret, lookup, scrub
from param_notebooks import eig, injected_cell, only_run, received, write_notebook
from test_run_workspace import make_workspace

TOKEN = "tok-3f9a7c1e5b0d"  # given through the environment
PASSWORD = "pw-Zq8!x#42 é"  # given through the workspace's .env
PARAMETERS = (
    "from eigkit.secrets import Secret\n\n"
    'jeton: Secret = ""  # jeton de l\'API\n'
    'mot_de_passe = ""  # secret : mot de passe du service\n'
    "annee: int = 2020  # année\n"
)
USES = (
    "import hashlib\n"
    "digests = [hashlib.sha256(value.encode()).hexdigest() for value in (jeton, mot_de_passe)]\n"
    "print(json.dumps(digests))",
    "jeton",  # a notebook that displays the secret: its repr is masked
    "print(jeton, mot_de_passe)\nimport sys\nprint(jeton, file=sys.stderr)",  # one that prints it: scrubbed
)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = make_workspace(tmp_path / "ws", {})
    write_notebook(root / "notebooks" / "01-api.ipynb", PARAMETERS, "import json", *USES, names=["annee"])
    write_notebook(
        root / "notebooks" / "02-fails.ipynb",
        PARAMETERS,
        'raise ValueError(f"refused token {jeton} for {mot_de_passe!s}")',
        names=["annee"],
    )
    (root / ".gitignore").write_text("runs/\nreports/\n.env\n", encoding="utf-8")
    (root / ".env").write_text(f'EIG_SECRET_MOT_DE_PASSE="{PASSWORD}"\n', encoding="utf-8")
    git(root, "init", "-q")
    return root


def test_declarations_mark_secrets_by_annotation_or_comment(workspace: Path) -> None:
    declared = declared_parameters(workspace / "notebooks" / "01-api.ipynb")
    assert [name for name, p in declared.items() if p.secret] == ["jeton", "mot_de_passe"]
    assert declared["mot_de_passe"].help == "mot de passe du service"
    source = (
        'a = ""  # secret\nb = ""  # Secret — jeton\nc = ""  # secret de fabrication\nd = ""  # secrets\n'
    )
    marked = declared_parameters(write_notebook(workspace / "marks.ipynb", source))
    assert [name for name, p in marked.items() if p.secret] == ["a", "b"] and marked["b"].help == "jeton"
    assert repr(Secret("x")) == "'***'" and Secret("x") == "x"


def test_a_secret_appears_in_no_file_of_runs_or_reports(workspace: Path) -> None:
    result = eig(workspace, "run", "-p", "annee=2021", env={"EIG_SECRET_JETON": TOKEN})
    assert result.returncode == 1, result.stderr  # 02-fails fails, with the secret in its error message
    run_dir = only_run(workspace)
    executed = run_dir / "01-api.ipynb"
    source = injected_cell(executed)
    assert "_eig_read_secret('jeton')" in source and "_eig_read_secret('mot_de_passe')" in source
    assert received(executed) == {"annee": ["int", 2021]}
    outputs = executed.read_text(encoding="utf-8")
    assert json.dumps([_digest(TOKEN), _digest(PASSWORD)]) in outputs.replace(
        '\\"', '"'
    )  # the kernel had them
    assert "'***'" in outputs and "*** ***" in outputs  # displayed: masked; printed: scrubbed

    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["runs"][0]["parameters"] == {"annee": 2021, "jeton": "***", "mot_de_passe": "***"}
    assert (
        manifest["runs"][1]["status"] == "failed"
        and "refused token ***" in manifest["runs"][1]["error"]["evalue"]
    )

    produced = [
        path for folder in ("runs", "reports") for path in (workspace / folder).rglob("*") if path.is_file()
    ]
    assert any(path.suffix == ".html" for path in produced) and any(
        path.suffix == ".log" for path in produced
    )
    for path in produced:
        data = path.read_bytes()
        for secret in (TOKEN, PASSWORD, json.dumps(PASSWORD)[1:-1]):
            assert secret.encode() not in data, f"{secret!r} written in {path}"
    assert TOKEN not in result.stdout + result.stderr and PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "params", "named"),
    [
        (["-p", "jeton=abc"], None, "EIG_SECRET_JETON"),
        (["-y", "mot_de_passe=abc"], None, "EIG_SECRET_MOT_DE_PASSE"),
        (["--params", "ci.yaml"], "jeton: abc\n", "EIG_SECRET_JETON"),
        (["--params", "ci.yaml"], "01-api:\n  mot_de_passe: abc\n", "EIG_SECRET_MOT_DE_PASSE"),
    ],
)
def test_a_secret_is_never_taken_from_the_command_line_or_a_params_file(
    workspace: Path, args: list[str], params: str | None, named: str
) -> None:
    if params is not None:
        (workspace / "params" / "ci.yaml").write_text(params, encoding="utf-8")
    args = [str(workspace / "params" / arg) if arg == "ci.yaml" else arg for arg in args]
    result = CliRunner().invoke(main, ["run", *args], env={"EIG_WORKSPACE": str(workspace)})
    assert result.exit_code == 2, result.output
    assert "is secret and is never taken from the command line or a params file" in result.stderr
    assert named in result.stderr and str(workspace / ".env") in result.stderr
    assert not (workspace / "runs").exists()


def test_a_dotenv_that_git_would_commit_is_refused(workspace: Path) -> None:
    (workspace / ".gitignore").write_text("runs/\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["run"], env={"EIG_WORKSPACE": str(workspace)})
    assert result.exit_code == 2, result.output
    assert f"{workspace / '.env'} holds secrets but git does not ignore it" in result.stderr
    assert not (workspace / "runs").exists()


def test_the_environment_wins_over_dotenv_and_an_absent_secret_keeps_its_default(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EIG_SECRET_MOT_DE_PASSE", "from-env")
    assert lookup("mot_de_passe", workspace) == "from-env"
    monkeypatch.delenv("EIG_SECRET_MOT_DE_PASSE")
    assert lookup("mot_de_passe", workspace) == PASSWORD
    monkeypatch.delenv("EIG_SECRET_JETON", raising=False)
    assert lookup("jeton", workspace) is None


def test_scrub_masks_notebook_strings_without_touching_its_structure(tmp_path: Path) -> None:
    secret = 'outputs"\\é'  # a JSON key, a quote and a backslash (escaped in the file), a non-ASCII letter
    path = write_notebook(tmp_path / "n.ipynb", "x = 1", f"# {secret}", names=["x"])
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{secret}\n")]
    nbformat.write(notebook, path)
    log = tmp_path / "n.log"
    log.write_text(f"before {secret} after\n", encoding="utf-8")
    scrub([path, log, tmp_path / "missing.log"], [secret])
    cleaned = nbformat.read(path, as_version=4)
    nbformat.validate(cleaned)
    assert cleaned.cells[1].outputs[0].text == "***\n" and cleaned.cells[1].source == "# ***"
    assert log.read_text(encoding="utf-8") == "before *** after\n"
