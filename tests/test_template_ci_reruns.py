"""The baked pipelines of issue 11 (item 4): valid against SchemaStore's schemas (vendored by
check-jsonschema, offline), caching the data cache and runs/ under a key drawn from data.lock, publishing the
reports as a site with the change summary, a weekly `eig data outdated` and an on-demand refresh with
params/default.yaml. The weekly job's steps are run for real against the fake data.gouv.fr on 127.0.0.1.

(The notebooks job's steps, run twice so that the second run reuses everything, are in test_template_ci.py.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import KIT, OFFLINE_ENV, bake_project
from data_server import DataGouvServer
from eigkit.data.registry import SAMPLES_DIR, entry
from eigkit.runner.lean_imports import run_module_code

# `python -m check_jsonschema` without jsonschema's IRI checker (seconds of CPU at import, and no schema here
# has an IRI format): see eigkit.runner.lean_imports
CHECK_JSONSCHEMA = [sys.executable, "-c", run_module_code("check_jsonschema")]
GITHUB = ".github/workflows/notebooks.yml"
GITLAB = ".gitlab-ci.yml"
BAAC_2023 = Path(__file__).parent / "data" / "baac" / "caract-2023.csv"  # real ONISR file (first rows)
USAGERS_2023 = Path(__file__).parent / "data" / "baac" / "usagers-2023.csv"  # real ONISR file (first rows)


@pytest.fixture(scope="module")
def baked(tmp_path_factory: pytest.TempPathFactory, cookiecutter_config: Path) -> Path:
    return bake_project(tmp_path_factory.mktemp("ci"), cookiecutter_config, project_name="Défi CI",
                        ci_provider="both", defi_kind="securite-routiere", kit_source=str(KIT))  # fmt: skip


def validate(path: Path, schema: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CHECK_JSONSCHEMA, "--builtin-schema", schema, str(path)], capture_output=True,
                          text=True, env={**os.environ, **OFFLINE_ENV}, timeout=120)  # fmt: skip


@pytest.mark.parametrize(
    ("file", "schema"), [(GITHUB, "vendor.github-workflows"), (GITLAB, "vendor.gitlab-ci")]
)
def test_baked_pipelines_follow_the_official_schemas(baked: Path, tmp_path: Path, file: str, schema: str):
    result = validate(baked / file, schema)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = yaml.safe_load((baked / file).read_text(encoding="utf-8"))
    job = broken["jobs"]["notebooks"] if file == GITHUB else broken["notebooks"]
    job["timeout-minutes" if file == GITHUB else "timeout"] = ["not", "a", "duration"]
    (tmp_path / Path(file).name).write_text(yaml.safe_dump(broken), encoding="utf-8")
    assert validate(tmp_path / Path(file).name, schema).returncode != 0, "the schema check can fail"


def test_github_workflow_caches_publishes_watches_and_refreshes(baked: Path):
    workflow = yaml.safe_load((baked / GITHUB).read_text(encoding="utf-8"))
    jobs = workflow["jobs"]
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as True
    assert {"0 5 * * *", "0 6 * * 1"} == {item["cron"] for item in triggers["schedule"]}
    assert triggers["workflow_dispatch"]["inputs"]["rafraichir"]["type"] == "boolean"

    def runs(job: str) -> list[str]:
        return [step["run"] for step in jobs[job]["steps"] if "run" in step]

    def uses(job: str) -> dict[str, dict]:
        return {
            step["uses"].split("@")[0]: step.get("with", {}) for step in jobs[job]["steps"] if "uses" in step
        }

    for job in ("notebooks", "rafraichir"):
        cache = uses(job)["actions/cache"]
        assert set(cache["path"].split()) == {"data/raw", "runs"}
        assert "hashFiles('data.lock')" in cache["key"] and "hashFiles('data.lock')" in cache["restore-keys"]
        assert 'eig diff --markdown "$GITHUB_STEP_SUMMARY"' in runs(job)
        assert uses(job)["actions/upload-pages-artifact"]["path"] == "reports/"
    assert "pre-commit run --all-files --show-diff-on-failure" in runs("notebooks"), "the lead's step stays"
    assert "eig run --params params/ci.yaml --explain" in runs("notebooks")
    assert "eig run --params params/default.yaml --explain" in runs("rafraichir")
    assert any(command.startswith("eig data outdated --refresh") for command in runs("rafraichir"))
    assert runs("donnees-a-jour")[-1] == "eig data outdated"
    assert "0 6 * * 1" in jobs["donnees-a-jour"]["if"] and "0 6 * * 1" in jobs["notebooks"]["if"]
    assert uses("pages") == {"actions/deploy-pages": {}}
    assert jobs["pages"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert jobs["pages"]["environment"]["name"] == "github-pages"


def test_gitlab_pipeline_caches_publishes_watches_and_refreshes(baked: Path):
    pipeline = yaml.safe_load((baked / GITLAB).read_text(encoding="utf-8"))
    caches = {tuple(item["paths"]): item["key"] for item in pipeline["cache"]}
    assert caches[("data/raw", "runs")]["files"] == ["data.lock"]
    notebooks = pipeline["notebooks"]
    assert notebooks["script"][:2] == ["pre-commit run --all-files --show-diff-on-failure",
                                       "eig run --params params/ci.yaml --explain"]  # fmt: skip
    assert "eig diff --markdown changements.md || true" in notebooks["after_script"]
    assert {"reports/", "changements.md"} <= set(notebooks["artifacts"]["paths"])
    assert "eig run --params params/default.yaml --explain" in pipeline["rafraichir"]["script"]
    assert any(rule.get("when") == "manual" for rule in pipeline["rafraichir"]["rules"])
    assert pipeline["donnees-a-jour"]["script"] == ["eig data outdated"]
    assert pipeline["donnees-a-jour"]["rules"] == [{"if": '$EIG_TACHE == "donnees-a-jour"'}]
    assert pipeline["pages"]["needs"] == ["notebooks"] and "public" in pipeline["pages"]["artifacts"]["paths"]
    assert "cp -r reports/. public/" in pipeline["pages"]["script"]


def weekly_steps(workspace: Path) -> list[str]:
    """The weekly job's commands after the install, identical on GitHub and GitLab."""
    github = yaml.safe_load((workspace / GITHUB).read_text(encoding="utf-8"))["jobs"]["donnees-a-jour"]
    gitlab = yaml.safe_load((workspace / GITLAB).read_text(encoding="utf-8"))["donnees-a-jour"]
    commands = [step["run"] for step in github["steps"] if "run" in step]
    assert commands == [*gitlab["before_script"], *gitlab["script"]]
    return commands[1:]


@pytest.mark.slow
def test_weekly_job_runs_against_the_fake_data_gouv(baked: Path):
    bin_dir = Path(sys.executable).parent
    baac = entry("baac.caracteristiques").datagouv_dataset
    with DataGouvServer() as server:
        server.add(baac, "caract-2023.csv", BAAC_2023.read_bytes())
        server.add(baac, "usagers-2023.csv", USAGERS_2023.read_bytes())
        server.add(
            entry("radars").datagouv_dataset,
            "radars.csv",
            (SAMPLES_DIR / "radars" / "radars.csv").read_bytes(),
        )
        offences = "bilan-2017-radars-fixes.csv"  # read by the road-safety notebook 04
        server.add(
            entry("radars.verbalisation").datagouv_dataset,
            offences,
            (SAMPLES_DIR / "verbalisation" / offences).read_bytes(),
        )
        env = {**os.environ, **OFFLINE_ENV, "EIG_DATAGOUV_API": server.api, "no_proxy": "127.0.0.1",
               "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip
        env.pop("EIG_WORKSPACE", None)

        def weekly() -> subprocess.CompletedProcess:
            [command] = weekly_steps(baked)
            return subprocess.run(["bash", "-c", command], cwd=baked, env=env, capture_output=True, text=True,
                                  timeout=300)  # fmt: skip

        calm = weekly()
        assert calm.returncode == 0, calm.stdout + calm.stderr
        assert "baac.caracteristiques" in calm.stdout and "unchanged" in calm.stdout
        server.add(baac, "caract-2024.csv", BAAC_2023.read_bytes())
        moved = weekly()
        assert moved.returncode == 1 and "new year" in moved.stdout and "2024" in moved.stdout
