"""Issue 5's acceptance for every défi kind, as an entrepreneur types it: ``eig new "Test" --kind KIND
--no-input``, then in the workspace ``eig run --params params/ci.yaml`` and ``eig check``; ``reports/`` then
holds an HTML page per notebook, with its figures, that a browser finds accessible (issue 14: French, real
text alternatives, figures within the page, no serious axe-core violation). The bake, run and check are the
session's ``kind_run(kind)`` (conftest.py), whose executed notebooks the kind's own tests read too."""

from __future__ import annotations

from pathlib import Path

import pytest

from accessibility import CHROMIUM, audit
from eigkit.workspace.variables import template_defaults

KIT = Path(__file__).resolve().parents[1]
KINDS = template_defaults(KIT)["defi_kind"]
pytestmark = pytest.mark.slow


def test_every_kind_of_the_template_has_notebooks_and_both_params_files():
    assert sorted(KINDS) == sorted(path.name for path in (KIT / "notebooks").iterdir() if path.is_dir())
    for kind in KINDS:
        assert list((KIT / "notebooks" / kind).glob("*.ipynb")), f"notebooks/{kind}/ has no notebook"
        for params in ("ci.yaml", "default.yaml"):
            assert (KIT / "notebooks" / kind / "params" / params).is_file(), f"{kind}: no params/{params}"


@pytest.fixture(params=KINDS)
def accepted(request: pytest.FixtureRequest, kind_run):
    """The session's ``eig new``/``eig run``/``eig check`` of one kind (its time shows as the setup)."""
    return kind_run(request.param)


def test_eig_new_run_check_give_a_report_per_notebook(accepted, tmp_path: Path):
    kind = accepted.kind
    assert set(accepted.steps) == {"new", "run", "check"}
    for name, outcome in accepted.steps.items():
        output = f"{outcome.stdout[-3000:]}\n{outcome.stderr[-3000:]}"
        assert outcome.returncode == 0, f"eig {name} failed:\n{output}"
    print(f"{kind}: " + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in accepted.seconds.items()))
    notebooks = sorted(path.stem for path in (accepted.workspace / "notebooks").glob("*.ipynb"))
    assert notebooks == sorted(path.stem for path in (KIT / "notebooks" / kind).glob("*.ipynb"))
    for stem in notebooks:
        report = (accepted.workspace / "reports" / f"{stem}.html").read_text(encoding="utf-8")
        assert "<svg" in report or "data:image/png" in report, f"{kind}: {stem}.html has no figure"
        assert "Traceback" not in report, f"{kind}: {stem}.html shows an error"
        _assert_accessible(accepted.workspace / "reports" / f"{stem}.html", tmp_path / "audit")
    index = (accepted.workspace / "reports" / "index.html").read_text(encoding="utf-8")
    assert all(f'href="{stem}.html"' in index for stem in notebooks)


def _assert_accessible(page: Path, scratch: Path) -> None:
    assert CHROMIUM is not None, "the accessibility audit needs Debian's chromium (bash .ci/run installs it)"
    result = audit(page, scratch)
    assert result.lang == "fr", f"{page.name}: <html lang={result.lang!r}>"
    assert result.serious() == [], f"{page.name}: {result.serious()}"
    assert result.too_wide() == [], f"{page.name}: figures wider than the page: {result.too_wide()}"
    for image in result.images:
        assert image["alt"] and "No description" not in image["alt"], f"{page.name}: {image['alt']!r}"
