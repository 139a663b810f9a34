"""Rebuild ``dsfr-core.css`` from the DSFR distribution inside the django-dsfr wheel (MIT, except the fonts).

Run by hand when the DSFR version moves: ``python build_dsfr_css.py django_dsfr-<version>-py3-none-any.whl``
(``pip download --no-deps django-dsfr`` fetches the wheel). Keeps the DSFR core stylesheet and drops every
``@font-face`` rule and every rule that loads a file (the Marianne and Spectral fonts are not under the MIT
licence and are never shipped; reports stay self-contained and fetch nothing), so text falls back to the
DSFR's own font stack (Arial, sans-serif).
"""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

CORE = "dsfr/static/dsfr/dist/core/core.min.css"
HERE = Path(__file__).resolve().parent


def strip_external(css: str) -> str:
    """The stylesheet without @font-face rules and without declarations that load a file (``url(...)``)."""
    css = re.sub(r"@font-face\{[^}]*\}", "", css)
    return re.sub(r"[a-z-]+:[^;{}]*url\([^)]*\)[^;{}]*;?", "", css)


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as archive:
        css = archive.read(CORE).decode("utf-8")
        licence = archive.read("LICENSE").decode("utf-8")
    (HERE / "dsfr-core.css").write_text(strip_external(css) + "\n", encoding="utf-8")
    (HERE / "LICENSE-DSFR.md").write_text(licence, encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
