"""Shared test helpers: bake a défi workspace through the cookiecutter API with a temporary cookiecutter
config (nothing written under ``$HOME``); make a throw-away git copy of the kit."""

from __future__ import annotations

import gc
import os
import pickle
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from filelock import FileLock

import eigkit.runner.lean_imports  # noqa: F401  (before the tests import nbformat: see addopts' -p no:nbval)
from eigkit.workspace.bake import KIT_INPUTS

KIT = Path(__file__).resolve().parents[1]
OFFLINE_ENV = {
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "no_proxy": "",
    "PIP_NO_INDEX": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n logical`` (the suite's default): one worker more than this process may use cores. A worker spends
    about a sixth of its time waiting (a kernel or a server starting, an ``eig`` subprocess, the pauses of the
    fault tests), and the extra worker fills those gaps: on 2 cores the suite took 225 s with 2 workers,
    205 s with 3, 228 s with 4 (one run each, 614 tests). ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still wins."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # pytest-xdist's own hook reads it
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return cores + 1


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Any:
    """Collecting imports every test module and what they import: about 300,000 objects that live until the
    end. The garbage collector is off meanwhile (it would walk the growing heap again and again: collecting
    took 3.8 CPU-s per process instead of 2.4), and they are frozen after it (``gc.freeze``), so that a full
    collection during the tests walks only what the tests made. Measured with the S3 mirror fix of the same
    day, alternating before/after on 2 cores: the workers spent 2.8-2.9 s in the collector instead of
    7.6-7.7 s, and the session ended 0.6-2.0 s after the last test instead of 5.1-5.3 s."""
    gc.disable()
    try:
        return (yield)
    finally:
        gc.freeze()
        gc.enable()


def write_cookiecutter_config(folder: Path) -> Path:
    """A cookiecutter user config whose clone and replay folders are inside ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "cookiecutter-config.yaml"
    config.write_text(
        f"cookiecutters_dir: {folder / 'cookiecutters'}\nreplay_dir: {folder / 'replay'}\n", encoding="utf-8"
    )
    return config


def bake_project(output_dir: Path, config_file: Path, template: Path | str = KIT, **values: Any) -> Path:
    """Bake the template at ``template`` (a kit root: nested-template config) without prompts; return the
    workspace. ``values`` are template variables (``defi_kind="pompiers"``, ``ci_provider="both"``...)."""
    from cookiecutter.main import cookiecutter

    return Path(
        cookiecutter(
            str(template),
            no_input=True,
            extra_context=values,
            output_dir=str(output_dir),
            config_file=str(config_file),
        )
    )


def git(folder: Path, *args: str) -> str:
    """Run git in ``folder`` (failing loudly) and return its output."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.org",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.org",
    }
    result = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, env=env)
    assert result.returncode == 0, f"git {' '.join(args)} failed in {folder}: {result.stderr}"
    return result.stdout


def copy_kit(target: Path) -> Path:
    """A git repository at ``target`` holding the kit's template, notebooks and version (working-tree state),
    committed: a kit copy that tests may change and commit to."""
    for part in KIT_INPUTS:
        source = KIT / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.is_file():
            (target / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target / part)
    git(target, "init", "-q", "-b", "main")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "kit copy")
    return target


@pytest.fixture(scope="session")
def cookiecutter_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary cookiecutter config (clones and replays under a temp folder)."""
    return write_cookiecutter_config(tmp_path_factory.mktemp("cookiecutter"))


@pytest.fixture
def system_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process's temporary folder (``tempfile.tempdir``) for this test alone, empty at the start: the
    test asserts what the code under test leaves in it."""
    folder = tmp_path / "system-tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture(scope="session")
def kit_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only git copy of the kit, shared by the tests that only bake from it."""
    return copy_kit(tmp_path_factory.mktemp("kit-copy") / "eig-kit")


def once_per_test_run(
    tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], Any]
) -> Any:
    """``make(folder)`` computed ONCE for the whole test run, even when ``pytest -n`` spreads the tests over
    several worker processes: the first process to ask computes it under a file lock (in a folder beside
    the workers' own temporary folders) and pickles it; the others wait for the lock and read it. An
    ``AssertionError`` raised by ``make`` is kept the same way and re-raised for each test asking."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    pickled = root / f"{name}.pickle"
    if name not in _MADE:
        with FileLock(str(root / f"{name}.lock")):
            if not pickled.exists():
                folder = root / name
                folder.mkdir()
                try:
                    value = make(folder)
                except AssertionError as error:
                    value = error
                pickled.write_bytes(pickle.dumps(value))
            _MADE[name] = pickle.loads(pickled.read_bytes())
    if isinstance(_MADE[name], AssertionError):
        raise _MADE[name]
    return _MADE[name]


_MADE: dict[str, Any] = {}  # what this process already read with once_per_test_run


@pytest.fixture(scope="session")
def kind_run(tmp_path_factory: pytest.TempPathFactory, cookiecutter_config: Path) -> Callable[[str], Any]:
    """``kind_run(KIND)``: the kind baked by ``eig new``, run by ``eig run --params params/ci.yaml`` and
    checked by ``eig check`` (an ``Acceptance`` of ``notebook_kinds``), ONCE per test run and shared by the
    kind's tests, their nbval test and the acceptance test. A failed bake fails each test asking for it."""
    from notebook_kinds import bake_run_check

    def accepted(kind: str) -> Any:
        return once_per_test_run(
            tmp_path_factory, f"kind-{kind}", lambda folder: bake_run_check(kind, folder, cookiecutter_config)
        )

    return accepted


@pytest.fixture(scope="module")
def ran(request: pytest.FixtureRequest, kind_run: Callable[[str], Any]):
    """The notebooks of the test module's ``KIND`` as the session's ``eig run --params params/ci.yaml``
    executed them on the embedded samples (a ``KindRun``: workspace, executed notebooks, ``eig check``'s
    result)."""
    return kind_run(request.module.KIND).kind_run()


DRIVER_PID = ".git/eig-test-driver-pid"  # the pid of the test process that made shared_run


def _demo_run(folder: Path) -> tuple[Path, Any]:
    from eigkit.runner.execute import run
    from test_run_workspace import make_workspace

    root = make_workspace(folder, {"01-demo": "params_demo"}, params='departement: "01"\nannee: 2023\n')
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "demo workspace")
    with (root / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
        pyproject.write("# edited after the commit\n")
    result = run(params=root / "params" / "ci.yaml", workspace=root, progress=False)
    (root / DRIVER_PID).write_text(str(os.getpid()), encoding="utf-8")  # in .git/: invisible to the run's git
    return root, result


@pytest.fixture(scope="session")
def shared_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """One successful run of a small demo workspace (``departement: "01"``), made once per test run and
    shared by the runner, check and report tests. The workspace is a git repository with an uncommitted
    change to a tracked file, so that the run records a commit and a dirty tree."""
    return once_per_test_run(tmp_path_factory, "shared-ws", _demo_run)
