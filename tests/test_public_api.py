"""The public entry points are the real functions (signatures, docstrings); ``import eigkit`` stays cheap."""

from __future__ import annotations

import inspect
import pydoc
import subprocess
import sys

import eigkit


def test_new_run_update_are_the_functions_they_name() -> None:
    from eigkit.runner.execute import run
    from eigkit.workspace.bake import new
    from eigkit.workspace.update import update

    assert (eigkit.new, eigkit.run, eigkit.update) == (new, run, update)
    assert list(inspect.signature(eigkit.run).parameters)[:4] == ["notebooks", "params", "overrides", "grid"]
    assert "kind" in inspect.signature(eigkit.new).parameters
    assert list(inspect.signature(eigkit.update).parameters) == ["workspace", "template"]


def test_help_tells_the_parameters() -> None:
    text = pydoc.render_doc(eigkit.run, renderer=pydoc.plaintext)
    assert "run(notebooks: 'Sequence[PathLike] | None' = None, *, params:" in text
    assert "``grid``: a YAML file" in text and "kernel: 'str | None' = None" in text
    assert "project_name: 'str | None' = None" in pydoc.render_doc(eigkit.new, renderer=pydoc.plaintext)


def test_import_eigkit_imports_nothing_heavy() -> None:
    probe = (
        "import sys, eigkit\n"
        "heavy = {'papermill', 'pandas', 'nbformat', 'cookiecutter', 'cruft', 'click', 'yaml',\n"
        "         'eigkit.runner'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
        "from eigkit import run, new, update\n"
        "print(run.__module__, new.__module__, update.__module__)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["[]", "eigkit.runner.execute eigkit.workspace.bake eigkit.workspace.update"]
    assert set(eigkit.__all__) <= set(dir(eigkit))
