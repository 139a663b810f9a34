"""Publishing into ``reports/``: an index of every published report from reports.json, newest first, links
URL-encoded, files readable under the user's umask, and concurrent publishes that lose nothing."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import stat
from pathlib import Path

from eigkit.runner import report


def _fake_run(run_dir: Path, names: list[str], status: str = "ok") -> list[dict]:
    """Manifest entries of a run whose pages exist in ``run_dir/reports``."""
    entries = []
    for name in names:
        page = run_dir / "reports" / f"{name}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(f"<html><body>{name}</body></html>")
        entries.append(
            {
                "name": name,
                "notebook": f"notebooks/{name.split('--')[0]}.ipynb",
                "parameters": {"n": len(entries)},
                "status": status,
                "report": f"reports/{name}.html",
            }
        )
    return entries


def test_the_index_lists_every_published_report_newest_first_with_encoded_links(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    first = _fake_run(tmp_path / "runs" / "r1", ["01-a", "essai#1 ?50%"])
    report.publish(reports, "r1", first, tmp_path / "runs" / "r1")
    registry = json.loads((reports / "reports.json").read_text())
    for entry in registry.values():  # make the first run clearly older
        entry["published_at"] = "2020-01-01T00:00:00+00:00"
    (reports / "reports.json").write_text(json.dumps(registry))
    second = _fake_run(tmp_path / "runs" / "r2", ["02-b"])
    index = report.publish(reports, "r2", second, tmp_path / "runs" / "r2").read_text(encoding="utf-8")

    every = index.split("Tous les rapports", 1)[1]
    links = re.findall(r'<a href="([^"]+)">', every)
    assert links[0] == "02-b.html" and set(links[1:]) == {"01-a.html", "essai%231%20%3F50%25.html"}
    assert "notebooks/essai#1 ?50%.ipynb" in every and "r1" in every and "2020-01-01" in every
    assert (reports / "essai#1 ?50%.html").is_file()  # the link resolves to the published file
    assert "n=0" in every  # the parameters are shown


def test_published_files_follow_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        entries = _fake_run(tmp_path / "runs" / "r1", ["01-a"])
        report.publish(tmp_path / "reports", "r1", entries, tmp_path / "runs" / "r1")
    finally:
        os.umask(previous)
    for name in ("01-a.html", "index.html", "reports.json"):
        assert stat.S_IMODE((tmp_path / "reports" / name).stat().st_mode) == 0o644, name


def _publish_many(reports: str, run_dir: str, prefix: str, count: int) -> None:
    for position in range(count):
        name = f"{prefix}-{position:02d}"
        entries = _fake_run(Path(run_dir), [name])
        report.publish(Path(reports), f"run-{prefix}", entries, Path(run_dir))


def test_concurrent_publishes_lose_nothing(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    context = multiprocessing.get_context("fork")
    processes = [
        context.Process(target=_publish_many, args=(str(reports), str(tmp_path / prefix), prefix, 25))
        for prefix in ("a", "b", "c")
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    registry = json.loads((reports / "reports.json").read_text())
    assert len(registry) == 75
    every = (reports / "index.html").read_text(encoding="utf-8").split("Tous les rapports", 1)[1]
    assert len(re.findall(r'<a href="[abc]-\d\d\.html">', every)) == 75
