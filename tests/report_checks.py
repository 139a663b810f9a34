"""Checks shared by the kinds' tests on an executed notebook's decision-maker layer and on its exports:
the computed summary at the top, the tables it shows, and the secret statistique of ``data/processed``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

SUMMARY = re.compile(r"\A(?:<!--[^>]*-->\n)?#+ À retenir\n")  # any heading level, after the kit's marker


def summary_text(notebook: dict[str, Any]) -> str:
    """The "À retenir" markdown that :func:`eigkit.notebook.summary` wrote at the top; fails when absent."""
    for index, cell in enumerate(notebook["cells"]):
        for output in cell.get("outputs", []):
            text = "".join(output.get("data", {}).get("text/markdown", ""))
            if SUMMARY.match(text):
                assert index < 4, f"the first summary is in cell {index}, not at the top"
                return text
    raise AssertionError("no computed summary ('À retenir') in the executed notebook")


def tables_text(notebook: dict[str, Any]) -> str:
    """The cell texts of every HTML table the notebook shows, joined (tags removed)."""
    parts = []
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            html = "".join(output.get("data", {}).get("text/html", ""))
            parts += re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", html, flags=re.S)
    return "\n".join(part.strip() for part in parts)


def french_number(text: str) -> float:
    """``"12 345,6"`` (narrow no-break spaces) -> 12345.6."""
    return float(
        text.replace("\u202f", "").replace("\xa0", "").replace(" ", "").replace(",", ".").replace("−", "-")
    )


def small_counts(path: Path, counts: list[str], limit: int = 11) -> pd.DataFrame:
    """The rows of the CSV at ``path`` where a ``counts`` column holds 1 to ``limit - 1``."""
    frame = pd.read_csv(path, dtype=str)
    missing = [column for column in counts if column not in frame.columns]
    assert not missing, f"{path.name} has no column {missing}"
    values = frame[counts].apply(pd.to_numeric, errors="coerce")
    return frame[((values > 0) & (values < limit)).any(axis=1)]


def assert_no_small_counts(path: Path, counts: list[str], limit: int = 11) -> None:
    """Fail when the exported CSV at ``path`` publishes a count under the secret statistique threshold."""
    found = small_counts(path, counts, limit)
    assert found.empty, f"{path.name} publishes {len(found)} count(s) under {limit}:\n{found.head()}"
