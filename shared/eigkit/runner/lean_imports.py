"""Faster start of the processes that run and check notebooks: skip what they import and never use.

- nbformat (imported by papermill, nbclient, nbconvert and nbval) imports jsonschema, whose format module
  imports ``rfc3987_syntax`` when it is installed (JupyterLab's jupyter-events pulls it in). That module
  compiles about 35 Earley grammars at import time: 2.7 s of CPU on a 2-core machine, paid again by every
  process that reads a notebook (python-jsonschema/jsonschema#1428). It only serves the ``iri`` and
  ``iri-reference`` formats, which no notebook schema uses. Marking it absent before jsonschema is imported
  makes jsonschema leave out those two checkers, as it does when the package is not installed.
- papermill imports its ``s3://`` notebook handler at import, and with it boto3 when installed (the kit's
  ``s3`` extra brings it): 0.3 s in every process that imports papermill. The kit gives papermill local
  notebook paths only (S3 data goes through the kit's own cache), so ``papermill.s3`` is marked absent:
  papermill then keeps its "install boto3" stub for ``s3://`` paths, as when boto3 is not installed.

Nothing else changes. Import this module first in processes the kit owns (``eig``, pool workers,
``eig check``, ``eig lab``: :func:`run_module_code`).
"""

from __future__ import annotations

import sys

SKIPPED = "rfc3987_syntax"
PAPERMILL_S3 = "papermill.s3"


def skip_unused_iri_checker() -> bool:
    """Keep jsonschema from importing ``rfc3987_syntax``; False when jsonschema is already imported."""
    if "jsonschema" in sys.modules:
        return False
    sys.modules.setdefault(SKIPPED, None)  # type: ignore[assignment]  # None: "import" raises ImportError
    return True


def skip_papermill_s3_handler() -> bool:
    """Keep papermill from importing its ``s3://`` handler (and boto3); False when papermill is imported."""
    if "papermill" in sys.modules:
        return False
    sys.modules.setdefault(PAPERMILL_S3, None)  # type: ignore[assignment]
    return True


def run_module_code(module: str) -> str:
    """Code for ``python -c``: ``python -m module`` with this module imported first (the lean imports), for
    the processes the kit starts (``eig check``'s pytest, ``eig lab``'s JupyterLab)."""
    return (
        "import runpy, eigkit.runner.lean_imports; "
        f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)"
    )


skip_unused_iri_checker()
skip_papermill_s3_handler()
