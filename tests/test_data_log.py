"""`eig data log` rewrites docs/journal-des-donnees.md from data.lock, the run manifests and the catalogue."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from eigkit.cli import main

LOCK = {
    "version": 1,
    "downloads": {
        "radars": {"name": "radars", "year": None, "url": "https://www.data.gouv.fr/fr/datasets/r/abc",
                   "size": 421337, "sha256": "a" * 64, "file": "radars.csv"},
        "baac.lieux@2021": {"name": "baac.lieux", "year": 2021, "url": "https://example.org/lieux|2021.csv",
                            "size": 10, "sha256": "b" * 64, "file": "lieux-2021.csv"},
    },
}  # fmt: skip


def _manifest(runs: Path, run_id: str, started: str, status: str, sha: str) -> None:
    folder = runs / run_id
    folder.mkdir(parents=True)
    record = {"name": "radars", "year": None, "source": "remote", "sha256": sha, "url": "u", "path": "p"}
    sample = {**record, "source": "sample", "sha256": "c" * 64}
    manifest = {
        "run_id": run_id,
        "started_at": started,
        "runs": [{"status": status, "data": [record, sample]}],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def test_eig_data_log_writes_one_row_per_locked_file(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.eig]\nkind = 'generique'\n", encoding="utf-8")
    (tmp_path / "data.lock").write_text(json.dumps(LOCK), encoding="utf-8")
    _manifest(tmp_path / "runs", "20260101-0900", "2026-01-01T09:00:00+01:00", "ok", "a" * 64)
    _manifest(tmp_path / "runs", "20260301-0900", "2026-03-01T09:00:00+01:00", "ok", "a" * 64)
    _manifest(tmp_path / "runs", "20260401-0900", "2026-04-01T09:00:00+01:00", "failed", "a" * 64)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EIG_WORKSPACE", raising=False)

    result = CliRunner().invoke(main, ["data", "log"])

    assert result.exit_code == 0, result.output
    log = (tmp_path / "docs/journal-des-donnees.md").read_text(encoding="utf-8")
    rows = [line for line in log.splitlines() if line.startswith("| `")]
    assert rows[0].startswith(
        "| `baac.lieux` | 2021 | `lieux-2021.csv` | ONISR | Licence Ouverte / Etalab 2.0 |"
    )
    assert "https://example.org/lieux\\|2021.csv" in rows[0]  # a | in a cell does not break the table
    assert rows[0].endswith("| jamais lu par une exécution réussie |  | 0 |")
    assert f"`{'a' * 64}`" in rows[1]
    assert rows[1].endswith(
        "| 2026-01-01 | 2026-03-01 | 2 |"
    )  # the failed run and the sample are not counted
    assert "c" * 64 not in log


def test_eig_data_log_outside_a_workspace_says_so(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EIG_WORKSPACE", raising=False)
    result = CliRunner().invoke(main, ["data", "log"])
    assert result.exit_code != 0 and "not inside a défi workspace" in result.output
