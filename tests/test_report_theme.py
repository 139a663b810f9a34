"""The DSFR report theme is opt-in: `eig run --theme dsfr` or `[tool.eig] theme = "dsfr"`, with the partner
named from `[tool.eig] administration`; a theme the kit does not know is refused before any kernel starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from test_run_workspace import make_workspace

EIG = str(Path(sys.executable).parent / "eig")
pytestmark = pytest.mark.slow


def _workspace(folder: Path, settings: str = "") -> Path:
    root = make_workspace(folder, {"01-demo": "params_demo"}, params='departement: "01"\nannee: 2023\n')
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + settings, encoding="utf-8")
    return root


def _eig(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EIG, *args], cwd=root, capture_output=True, text=True, timeout=300)


def test_theme_from_the_command_line_and_from_the_workspace(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", 'administration = "SDIS du Var"\n')
    assert _eig(root, "run", "--params", "params/ci.yaml").returncode == 0
    neutral = (root / "reports" / "01-demo.html").read_text(encoding="utf-8")
    assert "DSFR v" not in neutral
    assert _eig(root, "run", "--params", "params/ci.yaml", "--theme", "dsfr").returncode == 0
    dsfr = (root / "reports" / "01-demo.html").read_text(encoding="utf-8")
    assert "DSFR v1." in dsfr and "SDIS du Var" in dsfr

    chosen = _workspace(tmp_path / "ws2", 'theme = "dsfr"\n')
    assert _eig(chosen, "run", "--params", "params/ci.yaml").returncode == 0
    assert "DSFR v1." in (chosen / "reports" / "01-demo.html").read_text(encoding="utf-8")


def test_an_unknown_theme_is_refused_before_anything_runs(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", 'theme = "marine"\n')
    result = _eig(root, "run", "--params", "params/ci.yaml")
    assert result.returncode == 1
    assert "[tool.eig] theme is 'marine': choose one of neutral, dsfr" in result.stderr
    assert "Traceback" not in result.stderr and not (root / "runs").exists()


def test_a_reused_run_gets_the_look_asked_for_now_without_a_kernel(tmp_path: Path) -> None:
    """Nothing the notebook depends on changed, so it is reused; but its page follows today's theme and
    --with-code (a mentor asking for the DSFR page must not get last night's neutral one). A page whose look
    did not change is shared with the earlier run, not rendered again."""
    import nbformat

    from eigkit.runner.execute import run

    root = make_workspace(tmp_path, {})
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(6 * 7)  # marqueur-du-code")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / "notebooks" / "01-a.ipynb")
    published = root / "reports" / "01-a.html"

    def reused_run(**options: object) -> tuple[Path, str]:
        result = run(workspace=root, progress=False, **options)
        (entry,) = result.runs
        assert result.ok and entry["reuse"]["reused"], entry["reuse"]
        return result.run_dir / "reports" / "01-a.html", published.read_text(encoding="utf-8")

    first = run(workspace=root, progress=False)
    assert first.ok and "DSFR v" not in published.read_text(encoding="utf-8")
    page, _ = reused_run()
    assert page.samefile(first.run_dir / "reports" / "01-a.html")  # same look: shared, not re-rendered
    page, text = reused_run(theme="dsfr")
    assert "DSFR v1." in text and "DSFR v1." in page.read_text(encoding="utf-8")
    assert "DSFR v" not in (first.run_dir / "reports" / "01-a.html").read_text(encoding="utf-8")  # untouched
    _, text = reused_run(with_code=True)
    assert "marqueur-du-code" in text and "DSFR v" not in text
    _, text = reused_run()
    assert "marqueur-du-code" not in text and "DSFR v" not in text
