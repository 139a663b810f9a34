"""Reuse of unchanged notebook runs: ``eig run`` re-executes only what something changed.

Before a run, :func:`apply` looks, for every planned notebook run, for the latest successful run of the same
notebook with the same parameters in ``runs/`` and compares fingerprints (:mod:`eigkit.runner.fingerprint`):
notebook sources, parameters, the workspace code it imports, kit/Python/package versions, and the data it
read (each file re-hashed; for ``source="remote"`` the data.gouv.fr API is asked whether the resource changed
or a newer year is published). When nothing moved, the run is *reused*: its executed notebook, report and
the tables it wrote to ``data/processed`` are copied into the new run folder (and restored into
``data/processed`` when they are missing there), the manifest entry says ``reused_from``, and no kernel
starts. After the run, :func:`finalize` completes the fingerprints of the runs that did execute and keeps a
copy of the tables each wrote, for the next reuse and for ``eig diff``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from eigkit.atomic import copy_file, write_text
from eigkit.digest import file_digest
from eigkit.errors import DataError
from eigkit.runner import fingerprint as fingerprints
from eigkit.runner import manifest as manifests
from eigkit.runner.imports import code_cells

PROCESSED = Path("data") / "processed"
SNAPSHOTS = "processed"  # inside a run folder: processed/<run name>/<path under data/processed>


@dataclass(frozen=True)
class Earlier:
    """A successful notebook run of an earlier ``eig run``."""

    run_dir: Path
    entry: dict[str, Any]
    workspace: str | None = None  # where the workspace was then (a CI checkout may move between jobs)

    @property
    def origin(self) -> str:
        """The run that executed it (itself, or the one it was reused from)."""
        return self.entry.get("reused_from") or self.run_dir.name


def runs_newest_first(runs_dir: Path) -> list[Path]:
    """Run folders with a manifest, the most recently finished first (run ids of one second do not sort
    by time: their suffix is random, so the manifest's last write decides)."""
    if not runs_dir.is_dir():
        return []
    manifests_found = [path / manifests.MANIFEST for path in runs_dir.iterdir()]
    ordered = sorted((path.stat().st_mtime_ns, path.parent.name, path.parent) for path in manifests_found
                     if path.is_file())  # fmt: skip
    return [folder for _, _, folder in reversed(ordered)]


Key = tuple[str, str]  # (notebook, parameters as canonical text)


def earlier_successes(runs_dir: Path, *, exclude: Path | None = None,
                      wanted: set[Key] | None = None) -> dict[Key, Earlier]:  # fmt: skip
    """The latest successful, fingerprinted run per ``(notebook, parameters)`` in ``runs_dir`` (newest run
    folders first; the scan stops once every ``wanted`` key is found, so a long history costs nothing)."""
    found: dict[Key, Earlier] = {}
    for run_dir in runs_newest_first(runs_dir):
        if wanted is not None and wanted <= found.keys():
            break
        if run_dir == exclude:
            continue
        try:
            record = manifests.read(run_dir)
        except (OSError, ValueError):
            continue
        for entry in record.get("runs", []):
            known = entry.get("fingerprint") or {}
            if entry.get("status") != "ok" or known.get("data") is None:
                continue
            earlier = Earlier(run_dir, entry, record.get("workspace"))
            found.setdefault((entry["notebook"], known["parameters"]), earlier)
    return found


class DataCheck:
    """Are the data files an earlier run read still the current ones? (one session: hashes and API answers
    are remembered)."""

    def __init__(self) -> None:
        self._upstream: Any = None  # eigkit.data.upstream.Upstream, imported (with pandas) only when needed
        self._hashes: dict[tuple[str, int, int], str] = {}

    @property
    def upstream(self) -> Any:
        """The session of questions to data.gouv.fr."""
        if self._upstream is None:
            from eigkit.data.upstream import Upstream

            self._upstream = Upstream()
        return self._upstream

    def _sha256(self, path: Path) -> str | None:
        try:
            stat = path.stat()
        except OSError:
            return None
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        if key not in self._hashes:
            self._hashes[key] = file_digest(path)
        return self._hashes[key]

    def changes(self, records: list[dict[str, Any]], moved: tuple[str, Path] | None = None) -> list[str]:
        """Why the data of ``records`` (an earlier run's usage records) are no longer the same.

        ``moved``: ``(workspace then, workspace now)`` when the workspace moved since: a file read inside it
        (``data/raw``) is looked for at the same place in the workspace now."""
        reasons = []
        for record in records:
            label = f"{record['name']}" + (f" {record['year']}" if record.get("year") is not None else "")
            path = _relocated(Path(record["path"]), moved)
            if self._sha256(path) != record["sha256"]:
                reasons.append(f"data {label}: {path} changed or is gone")
            elif record.get("source") == "remote":
                reasons.extend(f"data {label}: {why}" for why in self._announced_change(record, path))
        for name, years in _years_read(records, "remote").items():
            try:
                newer = [year for year in self.upstream.published_years(name) if year > max(years)]
            except DataError as error:
                reasons.append(f"data {name}: cannot ask data.gouv.fr ({error})")
                continue
            if newer:
                years_text = ", ".join(map(str, newer))
                reasons.append(f"data {name}: data.gouv.fr publishes a newer year ({years_text})")
        return reasons

    def _announced_change(self, record: dict[str, Any], path: Path) -> list[str]:
        try:
            resource = self.upstream.resource(record["name"], record.get("year"))
        except DataError as error:
            return [f"cannot ask data.gouv.fr ({error})"]
        from eigkit.data.upstream import change

        why = change(resource, sha256=record["sha256"], size=path.stat().st_size, url=record.get("url"),
                     path=path)  # fmt: skip
        return [f"data.gouv.fr announces {why}"] if why else []


def _relocated(path: Path, moved: tuple[str, Path] | None) -> Path:
    if moved is not None and path.is_relative_to(moved[0]):
        return moved[1] / path.relative_to(moved[0])
    return path


def _years_read(records: list[dict[str, Any]], source: str) -> dict[str, list[int]]:
    years: dict[str, list[int]] = {}
    for record in records:
        if record.get("source") == source and record.get("year") is not None:
            years.setdefault(record["name"], []).append(int(record["year"]))
    return years


def apply(root: Path, run_dir: Path, tasks: list[Any], entries: list[dict[str, Any]], *,
          force: bool = False) -> list[bool]:  # fmt: skip
    """Decide for every planned run whether it is reused; fill the entries of reused runs (status ``ok``,
    ``reused_from``) and copy their files into ``run_dir``. Every entry gets ``fingerprint`` and ``reuse``
    (``{"reused": bool, "reason": text}``). Returns, per task, whether it was reused."""
    for task, entry in zip(tasks, entries, strict=True):
        entry["fingerprint"] = fingerprints.before_run(root, Path(task.notebook), task.parameters)
    wanted = {(entry["notebook"], entry["fingerprint"]["parameters"]) for entry in entries}
    earlier = {} if force else earlier_successes(root / "runs", exclude=run_dir, wanted=wanted)
    check = DataCheck()
    reused = []
    rewritten: dict[str, str] = {}  # tables under data/processed that a re-executed run may rewrite -> run
    for task, entry in zip(tasks, entries, strict=True):
        current = entry["fingerprint"]
        found = earlier.get((entry["notebook"], current["parameters"]))
        if force:
            reasons = ["--force"]
        elif found is None:
            reasons = ["no earlier successful run of this notebook with these parameters"]
        else:
            reasons = fingerprints.differences(found.entry["fingerprint"], current) or _missing_files(found)
            reasons = reasons or _reads_rewritten(Path(task.notebook), rewritten)
            reasons = reasons or check.changes(found.entry["fingerprint"]["data"], _moved(found, root))
        if reasons:
            entry["reuse"] = {"reused": False, "reason": "; ".join(reasons)}
            if found is not None:
                rewritten.update({path: task.name for path in found.entry.get("outputs", {})})
        else:
            assert found is not None
            _reuse(root, run_dir, task.name, entry, found)
        reused.append(not reasons)
    return reused


def _reads_rewritten(notebook: Path, rewritten: dict[str, str]) -> list[str]:
    """A notebook whose code names a table that an earlier, re-executed run writes must run after it."""
    text = "\n".join(code_cells(notebook))
    return [
        f"it reads data/processed/{path}, which {writer} (re-executed) writes"
        for path, writer in sorted(rewritten.items())
        if Path(path).name in text
    ]


def _missing_files(found: Earlier) -> list[str]:
    wanted = [found.entry.get("output"), found.entry.get("report")]
    wanted += [f"{SNAPSHOTS}/{found.entry['name']}/{path}" for path in found.entry.get("outputs", {})]
    missing = [name for name in wanted if not name or not (found.run_dir / name).is_file()]
    return [f"run {found.run_dir.name} lacks {', '.join(map(str, missing))}"] if missing else []


def share_file(source: Path, target: Path) -> None:
    """Put ``source`` at ``target`` as a hard link (run folders never rewrite a file in place, so a nightly
    run that reuses everything costs no disk), or as an atomic copy where links are not possible."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.link")
    try:
        os.link(source, temporary)
        os.replace(temporary, target)
    except OSError:
        temporary.unlink(missing_ok=True)
        copy_file(source, target)


def _here(records: list[dict[str, Any]], found: Earlier, root: Path) -> list[dict[str, Any]]:
    """Data records with the paths inside the earlier workspace moved to ``root`` (the files just checked)."""
    moved = _moved(found, root)
    return [{**record, "path": str(_relocated(Path(record["path"]), moved))} for record in records]


def _moved(found: Earlier, root: Path) -> tuple[str, Path] | None:
    return (found.workspace, root) if found.workspace and found.workspace != str(root) else None


def _reuse(root: Path, run_dir: Path, name: str, entry: dict[str, Any], found: Earlier) -> None:
    """Copy an earlier run's results into ``run_dir`` under ``name`` and restore its tables."""
    before = found.entry
    share_file(found.run_dir / before["output"], run_dir / f"{name}.ipynb")
    share_file(found.run_dir / before["report"], run_dir / "reports" / f"{name}.html")
    for relative, digest in before.get("outputs", {}).items():
        snapshot = found.run_dir / SNAPSHOTS / before["name"] / relative
        share_file(snapshot, run_dir / SNAPSHOTS / name / relative)
        target = root / PROCESSED / relative
        if not target.is_file() or file_digest(target) != digest:
            copy_file(snapshot, target)
    reason = f"reused from run {found.origin}: nothing it depends on changed"
    write_text(run_dir / "logs" / f"{name}.log", reason + "\n")
    now = datetime.now().astimezone().isoformat(timespec="milliseconds")
    entry.update(
        status="ok", error=None, started_at=now, finished_at=now, duration_s=0.0,
        data=_here(before.get("data", []), found, root),
        output=f"{name}.ipynb", report=f"reports/{name}.html", outputs=dict(before.get("outputs", {})),
        fingerprint={**before["fingerprint"], "data": _here(before["fingerprint"]["data"], found, root)},
        reused_from=found.origin,
        reuse={"reused": True, "reason": reason},
    )  # fmt: skip
    if "report_look" in before:
        entry["report_look"] = before["report_look"]  # how its page was rendered (theme, partner, code)


def finalize(root: Path, run_dir: Path, entries: list[dict[str, Any]]) -> None:
    """Complete the fingerprints of the runs that executed and succeeded; keep the tables they wrote."""
    for entry in entries:
        if entry.get("status") != "ok" or entry.get("reused_from") or "fingerprint" not in entry:
            continue
        entry["fingerprint"] = fingerprints.with_data(entry["fingerprint"], entry.get("data") or [])
        entry["outputs"] = _keep_outputs(root, run_dir, entry)


def _seconds(stamp: str | None) -> float | None:
    try:
        return datetime.fromisoformat(stamp).timestamp() if stamp else None
    except ValueError:
        return None


def _keep_outputs(root: Path, run_dir: Path, entry: dict[str, Any]) -> dict[str, str]:
    """Copy the files under ``data/processed`` written while the entry ran into the run folder."""
    start, end = _seconds(entry.get("started_at")), _seconds(entry.get("finished_at"))
    folder = root / PROCESSED
    if start is None or end is None or not folder.is_dir():
        return {}
    kept = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        if start - 0.01 <= path.stat().st_mtime <= end + 0.01:
            relative = path.relative_to(folder).as_posix()
            copy_file(path, run_dir / SNAPSHOTS / entry["name"] / relative)
            kept[relative] = file_digest(path)
    return kept


def explain(entries: list[dict[str, Any]]) -> str:
    """One line per run: reused (from which run) or ran, and why."""
    lines = []
    for entry in entries:
        decision = entry.get("reuse") or {}
        verb = "reused" if decision.get("reused") else "ran"
        lines.append(f"{entry['name']}: {verb} — {decision.get('reason', 'no decision recorded')}")
    return "\n".join(lines)


def counts(entries: list[dict[str, Any]]) -> str:
    """``"2 of 3 runs reused"``, for the end of ``eig run``."""
    reused = sum(bool(entry.get("reused_from")) for entry in entries)
    return f"{reused} of {len(entries)} runs reused (eig run --explain says why; --force reruns everything)"


class NoPool:
    """Stands for the process pool when every run is reused: nothing to start, run or stop."""

    def run_wave(self, wave: list[Any]) -> list[dict[str, Any]]:
        return []

    def interrupt(self) -> list[dict[str, Any]]:
        return []

    def close(self) -> None:
        return None
