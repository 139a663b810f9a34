"""A small défi workspace for the re-run tests: three quick notebooks, a helper module, and the real radars
file (the embedded sample: ANTAI, 3,350 cameras, see shared/eigkit/data/samples/PROVENANCE.md) served by the
fake data.gouv.fr on 127.0.0.1.

- ``01-radars``: reads ``radars`` with ``source="remote"`` and writes
  ``data/processed/radars_par_departement.csv`` (one row per département, key ``dep``);
- ``02-outils``: imports the workspace module ``outils`` (itself importing ``calculs``), parameter ``n``;
- ``03-texte``: prints a text built from its parameter ``message``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from eigkit.data.registry import SAMPLES_DIR, entry

RADARS = SAMPLES_DIR / "radars" / "radars.csv"
RADARS_DATASET = entry("radars").datagouv_dataset

NOTEBOOKS = {
    "01-radars": [
        'source: str = "remote"',
        "from pathlib import Path\nfrom eigkit import data\n"
        'radars = data.load("radars", source=source)\n'
        'table = radars.groupby("dep").size().rename("radars").reset_index().sort_values("dep")\n'
        'Path("data/processed").mkdir(parents=True, exist_ok=True)\n'
        'table.to_csv("data/processed/radars_par_departement.csv", index=False)\n'
        'print(len(radars), "radars")',
    ],
    "02-outils": ["n: int = 2", "from outils import double\nprint(double(n))"],
    "03-texte": ['message: str = "bonjour"', "print(message.upper())"],
}


def notebook(cells: list[str]) -> nbformat.NotebookNode:
    """A notebook whose first cell is the parameters cell."""
    document = nbformat.v4.new_notebook()
    document.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    document.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    document.cells[0].metadata["tags"] = ["parameters"]
    return document


def make_rerun_workspace(folder: Path) -> Path:
    """Lay the workspace out in ``folder`` and return it."""
    (folder / "notebooks").mkdir(parents=True)
    (folder / "pyproject.toml").write_text(
        '[project]\nname = "reruns"\nversion = "0"\n\n[tool.eig]\nkind = "generique"\n', encoding="utf-8"
    )
    for stem, cells in NOTEBOOKS.items():
        nbformat.write(notebook(cells), folder / "notebooks" / f"{stem}.ipynb")
    helper = "from calculs import FACTEUR\n\n\ndef double(x):\n    return FACTEUR * x\n"
    (folder / "outils.py").write_text(helper)
    (folder / "calculs.py").write_text("FACTEUR = 2\n")
    return folder
