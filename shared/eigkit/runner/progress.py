"""What a run shows while it goes (a progress bar: done / failed / remaining) and when it ends (a table)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eigkit.runner.execute import RunResult


class Progress:
    """A tqdm bar over the runs, its postfix counting ok, failed and remaining runs."""

    def __init__(self, total: int, *, enabled: bool = True) -> None:
        self.total = total
        self.counts = {"ok": 0, "failed": 0, "other": 0}  # other: interrupted or skipped
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc="eig run", unit="run", file=sys.stderr, dynamic_ncols=True)
            self._show()

    def update(self, status: str) -> None:
        """Count one finished run."""
        self.counts[status if status in self.counts else "other"] += 1
        if self._bar is not None:
            self._bar.update(1)
            self._show()

    def _show(self) -> None:
        remaining = self.total - sum(self.counts.values())
        assert self._bar is not None
        self._bar.set_postfix(ok=self.counts["ok"], failed=self.counts["failed"], remaining=remaining)

    def close(self) -> None:
        """Leave the bar on screen, finished."""
        if self._bar is not None:
            self._bar.close()


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows
    )


def _error_line(entry: dict[str, Any]) -> str:
    error = entry.get("error") or {}
    if not error:
        return ""
    where = f"cell {error['cell_index']}: " if error.get("cell_index") is not None else ""
    return f"{where}{error.get('ename', '')}: {error.get('evalue', '')}"


def summary(result: RunResult) -> str:
    """The end-of-run table (one row per run), the failing cells with their errors, and where things are."""
    rows = [["notebook", "status", "time (s)", "error"]]
    for entry in result.runs:
        duration = entry.get("duration_s")
        rows.append(
            [
                entry["name"],
                entry["status"],
                f"{duration:.1f}" if isinstance(duration, int | float) else "-",
                _error_line(entry)[:100],
            ]
        )
    lines = [_table(rows), ""]
    for entry in result.runs:
        error = entry.get("error")
        if entry["status"] in {"failed", "interrupted"} and error:
            lines.append(f"✗ {entry['name']} {entry['status']} in {_error_line(entry)}")
            if error.get("source"):
                lines.extend(f"    | {line}" for line in str(error["source"]).splitlines())
            if entry.get("output"):
                lines.append(f"    executed notebook kept: {result.run_dir / entry['output']}")
    counts = {
        status: sum(e["status"] == status for e in result.runs) for status in ("ok", "failed", "skipped")
    }
    lines.append(
        f"run {result.run_id}: {result.status} ({counts['ok']} ok, {counts['failed']} failed"
        + (f", {counts['skipped']} skipped" if counts["skipped"] else "")
        + f") — manifest: {result.manifest}"
    )
    if result.reports_index is not None:
        lines.append(f"reports: {result.reports_index}")
    return "\n".join(lines)
