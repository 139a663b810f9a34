"""Report pages meet the RGAA basics in a real browser: French language, a real text alternative per figure,
no figure wider than the page, no serious axe-core violation; and the audit itself catches a bad page."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import papermill
import pytest

from accessibility import CHROMIUM, audit
from eigkit.runner.report import render_html

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)"),
]
CELLS = [
    "from eigkit.notebook import banner, setup, show_figure, summary, table\nsetup()\n"
    "banner('ONISR, BAAC 2013', {'annees': [2013]}, sample=True)",
    "import matplotlib.pyplot as plt\nimport pandas as pd\nfig, ax = plt.subplots(figsize=(18, 4))\n"
    "_ = ax.plot([1, 2])\nax.set_title('Accidents par an')\nshow_figure(fig, 'Source : ONISR')",
    "fig, ax = plt.subplots()\n_ = ax.plot([2, 1])\nax.set_ylabel('Tués')",  # shown without show_figure
    "fig, ax = plt.subplots()\n_ = ax.plot([2, 1])",  # nothing to describe it with
    "table(pd.DataFrame({'dep': ['31'], 'n': [12345]}), labels={'dep': 'Département', 'n': 'Accidents'})",
    "summary(['12 345 accidents'])",
]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("a11y")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Accidents\n\nCe que montre ce rapport.")] + [
        nbformat.v4.new_code_cell(source) for source in CELLS
    ]
    nbformat.write(notebook, folder / "in.ipynb")
    papermill.execute_notebook(
        folder / "in.ipynb", folder / "out.ipynb", kernel_name="python3", progress_bar=False, cwd=folder
    )
    report = folder / "rapport.html"
    report.write_text(render_html(folder / "out.ipynb"), encoding="utf-8")
    return report


def test_a_report_is_french_described_and_fits_the_page(page: Path, tmp_path: Path) -> None:
    result = audit(page, tmp_path)
    assert result.lang == "fr"
    alts = [image["alt"] for image in result.images]
    assert alts[0] == "Figure : Accidents par an"
    assert alts[1] == "Figure : ordonnée : Tués"  # every figure is described from its titles and axes
    assert alts[2] == "Figure sans titre"  # said honestly, never nbconvert's English default
    assert not any("No description" in (alt or "") for alt in alts)
    assert result.too_wide() == []  # the 18-inch figure is scaled to the page
    assert result.serious() == [], result.serious()


def test_the_audit_catches_what_it_must(page: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    text = page.read_text(encoding="utf-8").replace('<html lang="fr">', "<html>")
    text = re.sub(r'<img alt="[^"]*"', "<img", text)
    broken.write_text(text.replace("img.eig-figure { max-width: 100%; height: auto; }", ""), encoding="utf-8")
    result = audit(broken, tmp_path / "scratch")
    found = {violation["id"] for violation in result.serious()}
    assert {"html-has-lang", "image-alt"} <= found
    assert result.too_wide()  # without the rule, the wide figure overflows the 1000-pixel window
