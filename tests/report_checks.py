"""Checks on what a kind's executed notebooks publish: the computed summary shown at the top of the report,
French numbers read back from it, and the small counts that must never reach a CSV of ``data/processed``."""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from eigkit.disclosure import DEFAULT_THRESHOLD

NUMBER = r"-?\d{1,3}(?:[\u202f ]\d{3})*(?:,\d+)?|-?\d+(?:,\d+)?"


def summary_text(notebook: dict[str, Any]) -> str:
    """The "À retenir" markdown shown at the TOP of an executed notebook (first cell with outputs)."""
    for cell in notebook["cells"]:
        outputs = cell.get("outputs", [])
        if not outputs:
            continue
        for output in outputs:
            text = "".join(output.get("data", {}).get("text/markdown", ""))
            if re.match(r"#+ À retenir\n", text):  # a markdown heading of any level
                return text
        raise AssertionError("the first cell with outputs does not show the 'À retenir' summary")
    raise AssertionError("no output at all in the notebook")


def french_number(text: str) -> float:
    """``"4 968 481"`` (narrow no-break spaces) -> 4968481.0; ``"10,79"`` -> 10.79."""
    return float(text.replace("\u202f", "").replace(" ", "").replace(",", "."))


def numbers_after(text: str, label: str) -> list[float]:
    """Every French number that directly follows ``label`` in ``text`` (``label`` is a regex)."""
    return [french_number(match) for match in re.findall(label + r"\s*(" + NUMBER + ")", text)]


def small_counts(folder: Path, counts: dict[str, list[str]], limit: int = DEFAULT_THRESHOLD) -> list[str]:
    """Cells of the CSVs of ``folder`` that hold a count from 1 to ``limit - 1``.

    ``counts`` maps a file-name pattern (regex on the file name) to the count columns of those files; a file
    of ``folder`` matched by no pattern is reported too, so that a new export cannot slip past the check.
    """
    found = []
    for path in sorted(folder.glob("*.csv")):
        patterns = [pattern for pattern in counts if re.fullmatch(pattern, path.name)]
        if not patterns:
            found.append(f"{path.name}: no declared count columns (add it to the check)")
            continue
        frame = pd.read_csv(path)
        for column in counts[patterns[0]]:
            if column not in frame.columns:
                found.append(f"{path.name}: declared count column {column!r} is missing")
                continue
            values = pd.to_numeric(frame[column], errors="coerce")
            for row in frame.index[(values > 0) & (values < limit)]:
                found.append(f"{path.name} row {row} {column} = {values[row]}")
    return found


def tables_text(notebook: dict[str, Any]) -> str:
    """The cell texts of every HTML table an executed notebook shows, one per line (tags removed)."""
    parts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            html = "".join(output.get("data", {}).get("text/html", ""))
            parts += re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", html, flags=re.S)
    return "\n".join(part.strip() for part in parts)


#: the kit's modules a notebook may import from (each through its ``__all__``)
PUBLIC_MODULES = {
    "eigkit",
    "eigkit.data",
    "eigkit.notebook",
    "eigkit.stats",
    "eigkit.disclosure",
    "eigkit.maps",
    "eigkit.spatial",
}


def private_imports(path: Path) -> list[str]:
    """What the notebook at ``path`` imports from the kit that is not public: an internal module, or a name
    outside its module's ``__all__``."""
    found = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        for node in ast.walk(ast.parse("".join(cell["source"]))):
            if isinstance(node, ast.Import):
                modules = [(alias.name, None) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                modules = [(node.module, alias.name) for alias in node.names]
            else:
                continue
            for module, name in modules:
                if not module.startswith("eigkit"):
                    continue
                if module not in PUBLIC_MODULES:
                    found.append(f"{path.stem}: imports the internal module {module}")
                    continue
                public = getattr(importlib.import_module(module), "__all__", [])
                if not (name is None or name in public or f"{module}.{name}" in PUBLIC_MODULES):
                    found.append(f"{path.stem}: imports {module}.{name}, not in the module's __all__")
    return found
