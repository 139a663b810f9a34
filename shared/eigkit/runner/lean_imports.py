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
- papermill imports pyarrow (and numpy with it) for its ``hdfs://`` handler: 0.3 s of CPU in every pool
  worker, which otherwise needs neither. For that import statement of ``papermill.iorw``, and only for it,
  pyarrow is absent: papermill keeps the stub it has for a missing pyarrow on ``hdfs://`` paths, which the
  kit never gives it. pyarrow imports as usual before and after (parquet), and a process that already
  imported it gives papermill the real handler.

Nothing else changes. Import this module first in processes the kit owns (``eig``, pool workers, Dask
workers through ``worker.py``, ``eig check``, ``eig lab``: :func:`run_module_code`).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType

SKIPPED = "rfc3987_syntax"
PAPERMILL_S3 = "papermill.s3"
PAPERMILL_IO = "papermill.iorw"  # imports pyarrow.fs for hdfs:// only


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


class _NoPyarrowForPapermillIO(importlib.abc.MetaPathFinder):
    """pyarrow is absent for the import statements of :data:`PAPERMILL_IO`'s own code, and only for them: a
    module that papermill's import brings in imports pyarrow as usual (pandas would otherwise take pyarrow
    for missing for the rest of the process)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == "pyarrow" and _importer() == PAPERMILL_IO:
            raise ModuleNotFoundError(f"pyarrow skipped for {PAPERMILL_IO} (eigkit.runner.lean_imports)")
        return None  # any other import goes on as usual


def _importer() -> str | None:
    """The name of the module whose code asked for the import being resolved: the first frame outside
    importlib's own machinery."""
    frame = sys._getframe(2)  # skip find_spec's frame and this one
    while frame is not None and frame.f_code.co_filename.startswith("<frozen importlib"):
        frame = frame.f_back
    return None if frame is None else frame.f_globals.get("__name__")


def skip_pyarrow_in_papermill_io() -> bool:
    """Keep papermill's ``hdfs://`` handler from importing pyarrow; False when papermill's I/O module or
    pyarrow is already imported (nothing to save)."""
    if PAPERMILL_IO in sys.modules or "pyarrow" in sys.modules:
        return False
    if not any(isinstance(finder, _NoPyarrowForPapermillIO) for finder in sys.meta_path):
        sys.meta_path.insert(0, _NoPyarrowForPapermillIO())
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
skip_pyarrow_in_papermill_io()
