"""Reports open in a real headless browser (Debian's chromium) with their figure and table, offline."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)"),
]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    command = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def test_the_report_page_renders_its_figure_and_table(shared_run: tuple[Path, Any], tmp_path: Path) -> None:
    root, _ = shared_run
    page = (root / "reports" / "01-demo.html").as_uri()
    dom = _chromium(tmp_path, "--dump-dom", page).stdout
    assert "<title>01-demo</title>" in dom
    assert 'src="data:image/svg+xml;base64,' in dom  # the matplotlib figure, embedded
    assert "<table" in dom and "dataframe" in dom  # the pandas table
    assert "setup()" not in dom  # code hidden

    screenshot = tmp_path / "report.png"
    _chromium(tmp_path, f"--screenshot={screenshot}", "--window-size=1000,800", page)
    import matplotlib.image

    pixels = matplotlib.image.imread(screenshot)
    assert pixels.shape[0] == 800 and pixels.shape[1] == 1000
    assert pixels[..., :3].std() > 0.01  # not a blank page


def test_the_index_links_to_the_reports(shared_run: tuple[Path, Any], tmp_path: Path) -> None:
    root, result = shared_run
    dom = _chromium(tmp_path, "--dump-dom", (root / "reports" / "index.html").as_uri()).stdout
    assert result.run_id in dom and 'href="01-demo.html"' in dom and "réussi" in dom
