"""Write the small test notebooks of the runner tests (run it after editing; the .ipynb files are committed).

.venv/bin/python tests/notebooks/make_notebooks.py
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}

SETUP = "from eigkit.notebook import setup\n\nsetup()"

NOTEBOOKS = {
    "params_demo": [
        new_markdown_cell("# Démonstration des paramètres\n\nUn petit calcul, un tableau et une figure."),
        new_code_cell(
            'departement: str = "31"  # code du département, en texte ("01", "2A")\n'
            "annee: int = 2022  # année des données\n"
            "seuil: float = 0.5  # pente de la droite tracée\n"
            "detail: bool = False  # afficher le détail\n"
            'codes: list[str] = ["01", "2A"]  # codes de départements voisins',
            metadata={"tags": ["parameters"]},
        ),
        new_code_cell(SETUP),
        new_code_cell(
            "import json\n"
            "import os\n\n"
            'usage = os.environ.get("EIG_DATA_USAGE")\n'
            "if usage:  # what eigkit.data.load records\n"
            '    record = {"name": "demo", "year": annee, "source": "sample", "path": "samples/demo.csv",\n'
            '              "sha256": "0" * 64, "url": None}\n'
            '    with open(usage, "a", encoding="utf-8") as stream:\n'
            '        stream.write(json.dumps(record) + "\\n")\n'
            "values = dict(departement=departement, annee=annee, seuil=seuil, detail=detail, codes=codes)\n"
            'print(json.dumps(values | {"cwd": os.getcwd()}, sort_keys=True))'
        ),
        new_code_cell(
            "import pandas as pd\n\n"
            'table = pd.DataFrame({"x": range(5), "y": [value * seuil for value in range(5)]})\n'
            "table"
        ),
        new_code_cell(
            "import matplotlib.pyplot as plt\n\n"
            "figure, axes = plt.subplots(figsize=(4, 3))\n"
            '_ = axes.plot(table["x"], table["y"], marker="o")\n'
            '_ = axes.set_title(f"Département {departement}")\n'
            "plt.show()"
        ),
    ],
    "fails": [
        new_code_cell("fail: bool = True  # lever une erreur", metadata={"tags": ["parameters"]}),
        new_code_cell(SETUP),
        new_code_cell('if fail:\n    raise ValueError("échec voulu")\nprint("fini")'),
    ],
    "sleeps": [
        new_code_cell(
            "seconds: float = 120.0  # durée de la pause\n"
            'pid_file: str = "kernel.pid"  # où écrire le pid du noyau',
            metadata={"tags": ["parameters"]},
        ),
        new_code_cell(
            "import os\nimport pathlib\nimport time\n\n"
            "pathlib.Path(pid_file).write_text(str(os.getpid()))\n"
            "time.sleep(seconds)"
        ),
    ],
    "dies": [
        new_code_cell(
            'message: str = "avant"  # texte affiché avant la mort du noyau',
            metadata={"tags": ["parameters"]},
        ),
        new_code_cell("print(message)"),
        new_code_cell("import os\nimport signal\n\nos.kill(os.getpid(), signal.SIGKILL)"),
        new_code_cell('print("jamais")'),
    ],
    "one_in_ten_fails": [
        new_code_cell("n: int = 0  # numéro du run", metadata={"tags": ["parameters"]}),
        new_code_cell('if n % 10 == 7:\n    raise ValueError(f"run {n} : échec voulu")\nprint(n)'),
    ],
    "big_output": [
        new_code_cell("lignes: int = 20000  # lignes affichées", metadata={"tags": ["parameters"]}),
        new_code_cell('for ligne in range(lignes):\n    print(f"ligne {ligne:06d} " + "x" * 40)'),
    ],
}
MISSING_KERNEL = {"name": "eig-no-such-kernel", "display_name": "Absent", "language": "python"}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        notebook = new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC})
        for index, cell in enumerate(notebook.cells):
            cell.id = f"{name.replace('_', '-')}-{index}"  # stable ids: regenerating gives the same files
        nbformat.write(notebook, HERE / f"{name}.ipynb")
    missing = nbformat.read(HERE / "fails.ipynb", as_version=4)  # a kernel nobody installed
    missing.metadata["kernelspec"] = MISSING_KERNEL
    nbformat.write(missing, HERE / "missing_kernel.ipynb")


if __name__ == "__main__":
    main()
