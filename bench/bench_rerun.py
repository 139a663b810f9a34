"""Benchmark: what a re-run costs when nothing changed, in a baked road-safety workspace (embedded samples).

    .venv/bin/python bench/bench_rerun.py [--repeat N]

It bakes a road-safety défi workspace with `eig new` (the real notebooks, params/ci.yaml: the embedded real
BAAC and radars samples), then times the `eig` command as a user or the CI runs it:
1. a first `eig run --params params/ci.yaml` (every notebook executed);
2. a second one with nothing changed (every notebook reused; median of --repeat runs);
3. one after a cell of one notebook was edited (that notebook only executed).
It checks what each run executed, prints the figures, then last `ratio=<unchanged rerun / first run>`.
Goal: ratio <= 0.05 (a nightly CI with nothing new costs the install only).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def eig(workspace: Path, *args: str) -> tuple[float, subprocess.CompletedProcess]:
    """Run the `eig` command in ``workspace``; return the wall time and the process."""
    env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    env.pop("EIG_WORKSPACE", None)
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "eig"), *args], cwd=workspace, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"`eig {' '.join(args)}` failed:\n{done.stdout}\n{done.stderr}")
    return seconds, done


def executed(workspace: Path) -> list[str]:
    """The notebook runs the latest run executed (not reused)."""
    runs = sorted((workspace / "runs").glob("*/manifest.json"), key=lambda path: path.stat().st_mtime_ns)
    record = json.loads(runs[-1].read_text(encoding="utf-8"))
    return [entry["name"] for entry in record["runs"] if not entry.get("reused_from")]


def edit_one_cell(notebook: Path) -> None:
    """Append a line to the last code cell of ``notebook`` (a source change, its outputs untouched)."""
    document = json.loads(notebook.read_text(encoding="utf-8"))
    cell = [cell for cell in document["cells"] if cell["cell_type"] == "code"][-1]
    source = "".join(cell["source"])
    cell["source"] = source + "\nprint('modifié')"
    notebook.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="unchanged re-runs to time (median)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="eig-bench-rerun-") as folder:
        subprocess.run([str(BIN / "eig"), "new", "--kind", "securite-routiere", "--no-input", "--output-dir",
                        folder, "Défi banc"], check=True, capture_output=True)  # fmt: skip
        workspace = next(path for path in Path(folder).iterdir() if (path / "pyproject.toml").is_file())
        notebooks = sorted(path.stem for path in (workspace / "notebooks").glob("*.ipynb"))
        run = ("run", "--params", "params/ci.yaml")

        first, _ = eig(workspace, *run)
        assert executed(workspace) == notebooks, executed(workspace)
        unchanged = []
        for _ in range(options.repeat):
            seconds, _ = eig(workspace, *run)
            assert executed(workspace) == [], executed(workspace)
            unchanged.append(seconds)
        target = workspace / "notebooks" / f"{notebooks[-1]}.ipynb"
        edit_one_cell(target)
        one, _ = eig(workspace, *run)
        assert executed(workspace) == [notebooks[-1]], executed(workspace)

    rerun = statistics.median(unchanged)
    print(f"notebooks: {len(notebooks)} ({', '.join(notebooks)})")
    print(f"first run (all executed):          {first:7.2f} s")
    print(f"rerun, nothing changed (median {options.repeat}): {rerun:7.2f} s  (runs: "
          + ", ".join(f"{value:.2f}" for value in unchanged) + ")")  # fmt: skip
    print(f"rerun, one notebook changed:       {one:7.2f} s  ({target.stem} executed, the others reused)")
    print(f"ratio={rerun / first:.3f}")


if __name__ == "__main__":
    main()
