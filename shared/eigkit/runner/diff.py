"""``eig diff``: what changed between two runs (by default the last successful run and the one before).

Compared, run name by run name: the parameters; the data files read (sha256, rows before/after); the tables
the notebooks wrote to ``data/processed`` (kept in each run folder by :mod:`eigkit.runner.reuse`: rows added,
removed and changed per key, the largest change of each numeric column); the text outputs of the executed
notebooks, cell by cell; and the figures (changed or not). Shown as terminal tables, Markdown (CI job
summaries) or an HTML section of ``reports/index.html``.
"""

from __future__ import annotations

import difflib
import hashlib
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eigkit.errors import RunnerError
from eigkit.runner import manifest as manifests
from eigkit.runner.reuse import SNAPSHOTS, runs_newest_first
from eigkit.tables import markdown_table, text_table

TITLE = "Ce qui a changé depuis le dernier run réussi"
IMAGE_TYPES = ("image/svg+xml", "image/png", "image/jpeg")
MAX_TEXT_LINES = 12
MAX_KEY_ROWS = 5
INJECTED = "injected-parameters"


@dataclass
class RunDiff:
    """The differences between run ``before`` and run ``after`` (each list holds table rows)."""

    before: str
    after: str
    parameters: list[list[str]] = field(default_factory=list)
    data: list[list[str]] = field(default_factory=list)
    tables: list[list[str]] = field(default_factory=list)
    texts: list[list[str]] = field(default_factory=list)
    figures: list[list[str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """True when nothing differs."""
        return not (self.parameters or self.data or self.tables or self.texts or self.figures)

    def sections(self) -> list[tuple[str, list[str], list[list[str]]]]:
        """``(title, header, rows)`` of every non-empty section."""
        every = [
            ("Paramètres", ["run", "paramètre", "avant", "après"], self.parameters),
            ("Données lues", ["jeu de données", "année", "avant", "après", "lignes avant", "lignes après"],
             self.data),
            ("Tables de data/processed", ["run", "table", "lignes avant → après", "ajoutées", "supprimées",
                                          "modifiées", "plus grands écarts"], self.tables),
            ("Sorties texte", ["run", "cellule", "différence"], self.texts),
            ("Figures", ["run", "cellule", "figure"], self.figures),
        ]  # fmt: skip
        return [(title, header, rows) for title, header, rows in every if rows]


def successful_runs(runs_dir: Path, most: int | None = None) -> list[Path]:
    """Run folders whose run succeeded, most recent first (at most ``most`` of them)."""
    found: list[Path] = []
    for run_dir in runs_newest_first(runs_dir):
        if most is not None and len(found) >= most:
            break
        try:
            if manifests.read(run_dir).get("status") == "ok":
                found.append(run_dir)
        except (OSError, ValueError):
            continue
    return found


def find_run(runs_dir: Path, name: str) -> Path:
    """The run folder named by an id, a unique id prefix or a path."""
    if Path(name).is_dir() and (Path(name) / manifests.MANIFEST).is_file():
        return Path(name).resolve()
    matches = [path for path in runs_newest_first(runs_dir) if path.name.startswith(name)]
    if len(matches) != 1:
        known = ", ".join(path.name for path in runs_newest_first(runs_dir)[:10]) or "none"
        what = "no run" if not matches else "several runs"
        raise RunnerError(f"{what} in {runs_dir} match {name!r} (latest runs: {known}).")
    return matches[0]


def pick_runs(root: Path, run_a: str | None = None, run_b: str | None = None) -> tuple[Path, Path] | None:
    """``(before, after)``: the runs named, or the last successful run and the one before it (``None``
    when there are fewer than two successful runs). With only ``run_a``: it against the last success."""
    runs_dir = root / "runs"
    if run_a and run_b:
        return find_run(runs_dir, run_a), find_run(runs_dir, run_b)
    successes = successful_runs(runs_dir, most=2)
    if run_a:
        before = find_run(runs_dir, run_a)
        after = next((run for run in successes if run != before), None)
        return (before, after) if after is not None else None
    return (successes[1], successes[0]) if len(successes) >= 2 else None


def compare(before_dir: Path, after_dir: Path) -> RunDiff:
    """Everything that differs from run ``before_dir`` to run ``after_dir``."""
    before, after = manifests.read(before_dir), manifests.read(after_dir)
    result = RunDiff(before["run_id"], after["run_id"])
    old = {entry["name"]: entry for entry in before.get("runs", [])}
    new = {entry["name"]: entry for entry in after.get("runs", [])}
    result.parameters = _parameters(old, new)
    result.data = _data(old.values(), new.values())
    for name in sorted(set(old) & set(new)):
        result.tables += _tables(name, before_dir / SNAPSHOTS / name, after_dir / SNAPSHOTS / name)
        texts, figures = _outputs(name, before_dir, old[name], after_dir, new[name])
        result.texts += texts
        result.figures += figures
    return result


def _parameters(old: dict[str, Any], new: dict[str, Any]) -> list[list[str]]:
    rows = []
    for name in sorted(set(old) | set(new)):
        if name not in old or name not in new:
            rows.append([name, "(run)", "absent" if name not in old else "présent",
                         "absent" if name not in new else "présent"])  # fmt: skip
            continue
        a, b = old[name].get("parameters", {}), new[name].get("parameters", {})
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                rows.append([name, key, _value(a, key), _value(b, key)])
    return rows


def _value(parameters: dict[str, Any], key: str) -> str:
    return repr(parameters[key]) if key in parameters else "(valeur du notebook)"


def _data_versions(entries: Any) -> dict[tuple[str, str], dict[str, Any]]:
    versions = {}
    for entry in entries:
        known = entry.get("fingerprint") or {}
        rows = {record.get("sha256"): record.get("rows") for record in known.get("data") or []}
        for record in entry.get("data") or []:
            year = "" if record.get("year") is None else str(record["year"])
            versions[(record["name"], year)] = {**record, "rows": rows.get(record.get("sha256"))}
    return versions


def _data(old_entries: Any, new_entries: Any) -> list[list[str]]:
    old, new = _data_versions(old_entries), _data_versions(new_entries)
    rows = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key, {}), new.get(key, {})
        if a.get("sha256") != b.get("sha256"):
            rows.append([*key, _short(a.get("sha256")), _short(b.get("sha256")), _count(a.get("rows")),
                         _count(b.get("rows"))])  # fmt: skip
    return rows


def _short(digest: str | None) -> str:
    return f"sha256 {digest[:12]}…" if digest else "non lu"


def _count(value: Any) -> str:
    return "" if value is None else str(value)


def _read_table(path: Path) -> Any:
    import pandas as pd

    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix in (".csv", ".txt"):
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    return None


def _numeric(frame: Any) -> Any:
    import pandas as pd

    return frame.apply(lambda column: pd.to_numeric(column, errors="coerce"))


def _key(frame_a: Any, frame_b: Any) -> list[str]:
    """The shortest run of leading columns that identifies a row in both tables, stopping before a column
    holding fractions (a measure, not a key) and leaving one column to compare; empty when none does."""
    columns = [column for column in frame_a.columns if column in frame_b.columns]
    for size in range(1, len(columns)):
        key = columns[:size]
        values = _numeric(frame_a[[key[-1]]])[key[-1]]
        if values.notna().all() and (values != values.round()).any():
            break
        if not frame_a.duplicated(key).any() and not frame_b.duplicated(key).any():
            return key
    return []


def _tables(name: str, before: Path, after: Path) -> list[list[str]]:
    rows = []
    files, later = _files(before), _files(after)
    for relative in sorted(files | later):
        a_path, b_path = before / relative, after / relative
        if relative not in later or relative not in files:
            state = "nouvelle table" if relative not in files else "table disparue"
            rows.append([name, relative, state, "", "", "", ""])
            continue
        if a_path.read_bytes() == b_path.read_bytes():
            continue
        a, b = _read_table(a_path), _read_table(b_path)
        if a is None or b is None:
            rows.append([name, relative, "fichier modifié", "", "", "", ""])
            continue
        rows.append([name, relative, *table_changes(a, b)])
    return rows


def _files(folder: Path) -> set[str]:
    return {path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file()}


def table_changes(a: Any, b: Any) -> list[str]:
    """``[rows before → after, added, removed, changed, largest numeric changes]`` of two tables."""
    counts = f"{len(a)} → {len(b)}"
    key = _key(a, b)
    if not key:
        merged = a.merge(b, how="outer", indicator=True)
        added = int((merged["_merge"] == "right_only").sum())
        removed = int((merged["_merge"] == "left_only").sum())
        return [counts, str(added), str(removed), "(pas de clé)", ""]
    left, right = a.set_index(key), b.set_index(key)
    added = right.index.difference(left.index)
    removed = left.index.difference(right.index)
    common = left.index.intersection(right.index)
    shared = [c for c in left.columns if c in right.columns]
    old, new = left.loc[common, shared], right.loc[common, shared]
    changed = common[(old != new).any(axis=1).to_numpy()] if len(common) else common
    largest = []
    numeric_old, numeric_new = _numeric(old), _numeric(new)
    for column in shared:
        delta = (numeric_new[column] - numeric_old[column]).dropna()
        delta = delta[delta != 0]
        if len(delta):
            where = delta.abs().idxmax()
            largest.append(f"{column} {delta[where]:+g} ({'/'.join(map(str, _as_tuple(where)))})")
    return [counts, _keys(added), _keys(removed), _keys(changed), "; ".join(largest)]


def _as_tuple(value: Any) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def _keys(index: Any) -> str:
    shown = ", ".join("/".join(map(str, _as_tuple(value))) for value in list(index)[:MAX_KEY_ROWS])
    more = f" … (+{len(index) - MAX_KEY_ROWS})" if len(index) > MAX_KEY_ROWS else ""
    return f"{len(index)}" + (f" ({shown}{more})" if len(index) else "")


def _cells(path: Path) -> list[tuple[str, list[str]]]:
    """Per code cell (papermill's injected parameters left out: they are compared as parameters): its text
    outputs as one text (stdout, results, errors; not stderr, where warnings come and go), and the digests
    of its images."""
    import json

    document = json.loads(path.read_text(encoding="utf-8"))
    cells = []
    for cell in document.get("cells", []):
        if cell.get("cell_type") != "code" or INJECTED in cell.get("metadata", {}).get("tags", []):
            continue
        texts, images = [], []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                texts.append("".join(output.get("text", "")))
            elif output.get("output_type") == "error":
                texts.append(f"{output.get('ename')}: {output.get('evalue')}")
            bundle = output.get("data", {})
            for kind in IMAGE_TYPES:
                if kind in bundle:
                    images.append(hashlib.sha256("".join(bundle[kind]).encode()).hexdigest())
            if "text/plain" in bundle and not any(kind in bundle for kind in IMAGE_TYPES):
                texts.append("".join(bundle["text/plain"]))
        cells.append(("".join(texts), images))
    return cells


def _outputs(name: str, before_dir: Path, old: dict, after_dir: Path, new: dict) -> tuple[list, list]:
    paths = [before_dir / (old.get("output") or ""), after_dir / (new.get("output") or "")]
    if not all(path.is_file() for path in paths) or paths[0].read_bytes() == paths[1].read_bytes():
        return [], []
    a, b = _cells(paths[0]), _cells(paths[1])
    texts, figures = [], []
    for index in range(max(len(a), len(b))):
        text_a, images_a = a[index] if index < len(a) else ("", [])
        text_b, images_b = b[index] if index < len(b) else ("", [])
        if text_a != text_b:
            lines = list(difflib.unified_diff(text_a.splitlines(), text_b.splitlines(), lineterm="", n=0))[2:]
            lines = [line for line in lines if not line.startswith("@@")]
            shown = lines[:MAX_TEXT_LINES] + ([f"… (+{len(lines) - MAX_TEXT_LINES} lignes)"]
                                             if len(lines) > MAX_TEXT_LINES else [])  # fmt: skip
            texts.append([name, str(index + 1), " ⏎ ".join(shown)])
        if images_a != images_b:
            state = "modifiée" if images_a and images_b else ("nouvelle" if images_b else "disparue")
            figures.append([name, str(index + 1), f"{len(images_b)} figure(s) {state}"])
    return texts, figures


def as_text(diff: RunDiff) -> str:
    """The differences as terminal tables."""
    head = f"{diff.before} → {diff.after}"
    if diff.empty:
        return f"{head} : rien n'a changé."
    parts = [head]
    for title, header, rows in diff.sections():
        parts += ["", title, text_table([header, *rows])]
    return "\n".join(parts)


def as_markdown(diff: RunDiff | None) -> str:
    """The differences as Markdown (a CI job summary)."""
    if diff is None:
        return f"## {TITLE}\n\nMoins de deux runs réussis : rien à comparer.\n"
    parts = [f"## {TITLE}", "", f"Run `{diff.before}` → run `{diff.after}`."]
    if diff.empty:
        parts += ["", "Rien n'a changé : mêmes paramètres, mêmes données, mêmes résultats."]
    for title, header, rows in diff.sections():
        parts += ["", f"### {title}", "", markdown_table([header, *rows])]
    return "\n".join(parts) + "\n"


def as_html(diff: RunDiff | None) -> str:
    """The differences as a ``<section>`` of the reports index."""
    parts = [f'<section id="changements">\n<h2>{html.escape(TITLE)}</h2>']
    if diff is None:
        parts.append("<p>Moins de deux runs réussis : rien à comparer.</p>")
    else:
        parts.append(f"<p>Run {html.escape(diff.before)} → run {html.escape(diff.after)}.</p>")
        if diff.empty:
            parts.append("<p>Rien n'a changé : mêmes paramètres, mêmes données, mêmes résultats.</p>")
    for title, header, rows in diff.sections() if diff is not None else []:
        head = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>" for row in rows
        )
        parts.append(f"<h3>{html.escape(title)}</h3>\n<table><thead><tr>{head}</tr></thead><tbody>{body}"
                     "</tbody></table>")  # fmt: skip
    return "\n".join(parts) + "\n</section>"


def add_to_index(root: Path, index: Path | None) -> None:
    """Put the change section (last successful run vs the one before) into the reports index."""
    from eigkit.atomic import write_text

    if index is None or not index.is_file():
        return
    pair = pick_runs(root)
    section = as_html(compare(*pair) if pair else None)
    page = index.read_text(encoding="utf-8")
    if "</body>" in page:
        write_text(index, page.replace("</body>", section + "\n</body>", 1))
