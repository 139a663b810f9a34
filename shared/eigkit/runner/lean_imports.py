"""Faster start of the processes that run and check notebooks: skip one JSON-schema checker nobody uses.

nbformat (imported by papermill, nbclient, nbconvert and nbval) imports jsonschema, whose format module
imports ``rfc3987_syntax`` when it is installed (JupyterLab's jupyter-events pulls it in). That module
compiles about 35 Earley grammars at import time: 2.7 s of CPU on a 2-core machine, paid again by every
process that reads a notebook (python-jsonschema/jsonschema#1428). It only serves the ``iri`` and
``iri-reference`` formats, which no notebook schema uses. Marking it absent before jsonschema is imported
makes jsonschema leave out those two checkers, as it does when the package is not installed; nothing else
changes. Import this module first in processes the kit owns (``eig``, pool workers, ``eig check``).
"""

from __future__ import annotations

import sys

SKIPPED = "rfc3987_syntax"


def skip_unused_iri_checker() -> bool:
    """Keep jsonschema from importing ``rfc3987_syntax``; False when jsonschema is already imported."""
    if "jsonschema" in sys.modules:
        return False
    sys.modules.setdefault(SKIPPED, None)  # type: ignore[assignment]  # None: "import" raises ImportError
    return True


skip_unused_iri_checker()
