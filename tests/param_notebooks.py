"""Helpers of the parameter tests: small notebooks written on the fly, and the real ``eig`` command.

The notebooks print what their kernel received (``type name, value`` per parameter, as JSON) in a cell
tagged ``received``, so a test compares the values a kernel saw, not what the kit meant to send.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from test_run_workspace import make_workspace

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
EIG = [sys.executable, "-c", "from eigkit.cli import main; main()"]


def write_notebook(path: Path, parameters: str, *cells: str, names: list[str] | None = None) -> Path:
    """A notebook with a ``parameters`` cell, ``cells``, and a last cell printing ``names`` as received."""
    shown = names or [
        line.split("=")[0].split(":")[0].strip() for line in parameters.splitlines() if "=" in line
    ]
    dump = ", ".join(f"{name!r}: [type({name}).__name__, {name}]" for name in shown)
    notebook = new_notebook(metadata={"kernelspec": KERNELSPEC})
    notebook.cells = [
        new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        *(new_code_cell(source) for source in cells),
        new_code_cell(f"import json\nprint(json.dumps({{{dump}}}))", metadata={"tags": ["received"]}),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def workspace_with(folder: Path, name: str, parameters: str, *cells: str) -> Path:
    """A minimal défi workspace holding one notebook ``notebooks/<name>.ipynb``."""
    root = make_workspace(folder, {})
    write_notebook(root / "notebooks" / f"{name}.ipynb", parameters, *cells)
    return root


def received(executed: Path) -> dict[str, Any]:
    """What the kernel printed in the ``received`` cell of an executed notebook."""
    notebook = nbformat.read(executed, as_version=4)
    cell = next(cell for cell in notebook.cells if "received" in cell.metadata.get("tags", []))
    text = "".join(output.get("text", "") for output in cell.outputs if output.get("name") == "stdout")
    return json.loads(text)


def injected_cell(executed: Path) -> str:
    """The source of the ``injected-parameters`` cell of an executed notebook."""
    notebook = nbformat.read(executed, as_version=4)
    return next(c.source for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", []))


def eig(
    root: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess:
    """Run the real ``eig`` command in ``root`` (a fresh process: what a user's shell sees)."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("EIG_")}
    environment |= {"PYDEVD_DISABLE_FILE_VALIDATION": "1", **(env or {})}
    return subprocess.run(
        [*EIG, *args], cwd=root, env=environment, capture_output=True, text=True, timeout=timeout, check=False
    )


def only_run(root: Path) -> Path:
    """The one run folder under ``root/runs``."""
    (run_dir,) = [path for path in (root / "runs").iterdir() if path.is_dir()]
    return run_dir
