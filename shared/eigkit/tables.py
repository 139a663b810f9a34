"""Rows of text cells shown as an aligned terminal table or a Markdown table (``eig diff``, ``eig data
outdated``)."""

from __future__ import annotations

from collections.abc import Sequence


def text_table(rows: Sequence[Sequence[str]]) -> str:
    """The rows (the first is the header) as aligned columns for a terminal."""
    if not rows:
        return ""
    widths = [max(len(str(row[column])) for row in rows) for column in range(len(rows[0]))]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
             for row in rows]  # fmt: skip
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
    """The rows (the first is the header) as a GitHub/GitLab Markdown table (pipes escaped)."""
    if not rows:
        return ""

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(str(cell).replace("|", "\\|").replace("\n", " ") for cell in row) + " |"

    return "\n".join([line(rows[0]), "|" + "---|" * len(rows[0]), *(line(row) for row in rows[1:])])
