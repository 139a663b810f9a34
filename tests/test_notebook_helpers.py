"""eigkit.notebook's decision-maker layer: French numbers, readable tables, figures with a source line and
an alternative text, and a summary reserved at the top that the end of the notebook fills (run for real)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import nbformat
import pandas as pd
import papermill
import pytest

from eigkit.notebook import THIN_SPACE, describe, fmt_number, fmt_percent, table


def test_french_numbers() -> None:
    assert fmt_number(1234567.891, 2) == f"1{THIN_SPACE}234{THIN_SPACE}567,89"
    assert fmt_number(7.1, 1) == "7,1"
    assert fmt_number(-1500) == f"-1{THIN_SPACE}500"
    assert fmt_number(float("nan")) == "–"
    assert fmt_percent(0.0305) == f"3,0{THIN_SPACE}%"
    assert fmt_percent(None) == "–"


def test_table_uses_labels_header_cells_and_french_numbers() -> None:
    frame = pd.DataFrame({"dep": ["31", "2A"], "accidents": [12345, 7], "taux": [0.5, float("nan")]})
    html = table(frame, decimals=2, labels={"accidents": "Accidents", "taux": "Taux pour 1 000"}).to_html()
    assert '<th id="T_eig_level0_col1" class="col_heading level0 col1" >Accidents</th>' in html
    assert f"12{THIN_SPACE}345" in html and "0,50" in html and "–" in html
    assert "accidents" not in html  # the raw column name is not shown


def test_describe_reads_titles_and_axes() -> None:
    fig, ax = plt.subplots()
    fig.suptitle("Accidents par mois")
    ax.set_xlabel("Mois")
    ax.set_ylabel("Accidents")
    assert describe(fig) == "Figure : Accidents par mois ; abscisse : Mois, ordonnée : Accidents"
    plt.close(fig)


@pytest.mark.slow
def test_figure_alt_text_and_summary_at_the_top_in_a_real_kernel(tmp_path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "from eigkit.notebook import banner, setup, show_figure, summary\n"
            "setup()\nbanner('ONISR, BAAC 2013', {'annees': [2013]}, sample=True)"
        ),
        nbformat.v4.new_code_cell(
            "import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\n_ = ax.plot([1, 2])\n"
            "ax.set_title('Accidents')\nshow_figure(fig, 'Source : ONISR')"
        ),
        nbformat.v4.new_code_cell("summary(['2 accidents'])"),
    ]
    source, executed = tmp_path / "in.ipynb", tmp_path / "out.ipynb"
    nbformat.write(notebook, source)
    papermill.execute_notebook(source, executed, kernel_name="python3", progress_bar=False, cwd=tmp_path)
    cells = nbformat.read(executed, 4).cells
    top = [output["data"]["text/markdown"] for output in cells[0].outputs]
    assert "**Paramètres** : `annees` = `[2013]`" in top[0]
    assert top[1] == "## À retenir\n\n- 2 accidents"  # filled at the end, shown at the top
    assert cells[2].outputs == []
    (figure,) = cells[1].outputs
    assert "image/svg+xml" in figure["data"]
    assert figure["metadata"]["image/svg+xml"]["alt"] == "Figure : Accidents"
