"""Small défi workspaces for the runner tests, and tests of how the runner finds workspace and notebooks.

Other runner test modules import :func:`make_workspace` from here; the run they share is conftest's
``shared_run`` session fixture.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from eigkit.runner.execute import RunnerError, find_notebooks, find_workspace

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"


def make_workspace(folder: Path, notebooks: dict[str, str], params: str = "") -> Path:
    """A minimal workspace: pyproject with [tool.eig], notebooks/<target> copied from tests/notebooks."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "defi-test"\n\n[tool.eig]\nkind = "generique"\n'
    )
    (folder / "notebooks").mkdir(exist_ok=True)
    for target, source in notebooks.items():
        shutil.copy(NOTEBOOKS / f"{source}.ipynb", folder / "notebooks" / f"{target}.ipynb")
    (folder / "params").mkdir(exist_ok=True)
    (folder / "params" / "ci.yaml").write_text(params)
    return folder


def test_find_workspace_refuses_a_plain_folder(tmp_path: Path) -> None:
    with pytest.raises(RunnerError, match=r"not a défi workspace"):
        find_workspace(tmp_path)


def test_notebooks_run_in_name_order_and_unknown_names_are_listed(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, {"02-b": "fails", "01-a": "params_demo"})
    assert [path.name for path in find_notebooks(root, None)] == ["01-a.ipynb", "02-b.ipynb"]
    assert find_notebooks(root, ["02-b"]) == [root / "notebooks" / "02-b.ipynb"]
    with pytest.raises(RunnerError, match=r"'03-c' not found.*01-a.ipynb, 02-b.ipynb"):
        find_notebooks(root, ["03-c"])
