"""What a run that stopped leaves behind: the executed notebook so far, and the cell it stopped in.

papermill saves the notebook it is executing when execution ends, however it ends (cell error, timeout,
dead kernel, Ctrl-C), with per-cell ``metadata.papermill`` (start time, exception). :func:`stopped_cell`
reads that notebook and finds the failing cell; its index counts the cells of the SOURCE notebook, so the
``injected-parameters`` cell papermill adds and the error banner it puts on top are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

ADDED_BY_PAPERMILL = {"injected-parameters", "papermill-error-cell-tag"}


@dataclass(frozen=True)
class StoppedCell:
    """The cell a run stopped in: its index in the source notebook, its source and execution count."""

    cell_index: int | None
    source: str
    execution_count: int | None


def read_notebook(path: Path) -> Any | None:
    """The notebook at ``path``, or None when it is missing or not a complete notebook (cut mid-write)."""
    import nbformat

    try:
        return nbformat.read(path, as_version=4)
    except (OSError, ValueError, KeyError, AttributeError):
        return None


def _added(cell: Any) -> bool:
    return bool(ADDED_BY_PAPERMILL & set(cell.get("metadata", {}).get("tags", [])))


def _papermill(cell: Any) -> dict[str, Any]:
    return cell.get("metadata", {}).get("papermill", {}) or {}


def stopped_cell(notebook: Any) -> StoppedCell | None:
    """The cell that raised (papermill marked its exception), else the last cell that started; None when
    no cell started (e.g. the kernel never came up) or the stop happened in a cell papermill added."""
    cells = list(notebook.cells)
    failing = [i for i, cell in enumerate(cells) if _papermill(cell).get("exception")]
    started = [i for i, cell in enumerate(cells) if _papermill(cell).get("start_time")]
    position = (failing or started or [None])[-1]
    if position is None or _added(cells[position]):
        return None
    cell = cells[position]
    index = sum(1 for earlier in cells[:position] if not _added(earlier))
    return StoppedCell(index, str(cell.get("source", "")), cell.get("execution_count"))
