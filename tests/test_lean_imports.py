"""Skipping jsonschema's IRI checker keeps notebook validation intact and the slow grammar unloaded."""

from __future__ import annotations

import json
import re
import subprocess
import sys

PROBE = """
import json, sys
if sys.argv[1] == "lean":
    import eigkit.runner.lean_imports
import jsonschema, nbformat
from nbformat.v4 import new_code_cell, new_notebook
good = new_notebook(cells=[new_code_cell("1 + 1")])
bad = new_notebook(cells=[new_code_cell("1 + 1")])
bad.cells[0]["execution_count"] = "one"
errors = []
for notebook in (good, bad):
    try:
        nbformat.validate(notebook)
        errors.append(None)
    except nbformat.ValidationError as error:
        errors.append(error.message)
loaded = sys.modules.get("rfc3987_syntax") is not None
formats = sorted(jsonschema.Draft7Validator.FORMAT_CHECKER.checkers)
print(json.dumps({"errors": errors, "grammar_loaded": loaded, "formats": formats}))
"""


def python_output(code: str, *args: str) -> str:
    """What ``python -c code args`` prints in a new process (the test fails with its stderr if it fails)."""
    run = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    return run.stdout


def _probe(mode: str) -> dict:
    return json.loads(python_output(PROBE, mode))


def test_validation_is_unchanged_and_only_the_iri_formats_go() -> None:
    lean, full = _probe("lean"), _probe("full")
    assert lean["errors"][0] is None and "'one' is not of type" in lean["errors"][1]
    assert lean["errors"] == full["errors"]
    assert not lean["grammar_loaded"]
    assert set(full["formats"]) - set(lean["formats"]) <= {"iri", "iri-reference"}
    assert set(lean["formats"]) <= set(full["formats"])


PAPERMILL_PROBE = """
import json, sys
import eigkit.runner.lean_imports
import papermill
from papermill.iorw import papermill_io
try:
    papermill_io.read("s3://bucket/notebook.ipynb")
    said = ""
except Exception as error:
    said = f"{type(error).__name__}: {error}"
print(json.dumps({"boto3": "boto3" in sys.modules, "s3": said}))
"""


def test_papermill_loads_without_its_s3_handler_and_says_so_if_asked() -> None:
    """boto3 (0.3 s) stays unloaded in the kit's processes; papermill itself still works on local paths (every
    run test) and says what to install for an s3:// notebook, which the kit never gives it."""
    probe = json.loads(python_output(PAPERMILL_PROBE))
    assert probe["boto3"] is False
    assert "boto3" in probe["s3"] and "pip install" in probe["s3"]


HDFS_PROBE = """
import json, sys, tempfile
if sys.argv[1] == "pyarrow-first":
    import pyarrow
import eigkit.runner.lean_imports
import papermill
from papermill.iorw import HadoopFileSystem, papermill_io
loaded = "pyarrow" in sys.modules
try:
    papermill_io.read("hdfs://namenode/notebook.ipynb")
    said = ""
except Exception as error:
    said = f"{type(error).__name__}: {error}"
import pyarrow as pa, pyarrow.parquet as pq
with tempfile.TemporaryDirectory() as folder:
    pq.write_table(pa.table({"dep": ["2A", "971"]}), folder + "/t.parquet")
    read_back = pq.read_table(folder + "/t.parquet").column("dep").to_pylist()
print(json.dumps({"pyarrow_with_papermill": loaded, "hdfs": said, "parquet": read_back,
                  "real_handler": isinstance(HadoopFileSystem, type)}))
"""


def _hdfs_probe(mode: str) -> dict:
    return json.loads(python_output(HDFS_PROBE, mode))


def test_papermill_loads_without_pyarrow_which_still_imports_after_and_before() -> None:
    """pyarrow and numpy (0.3 s) stay out of the pool workers. papermill's hdfs:// handler, which the kit
    never uses, is papermill's own stub for a missing pyarrow (it fails, with a TypeError of papermill's).
    pyarrow imports as usual once papermill is loaded (parquet is written and read back), and a process that
    imported pyarrow first gives papermill its real handler."""
    lean = _hdfs_probe("papermill-first")
    assert lean["pyarrow_with_papermill"] is False
    assert lean["hdfs"].startswith("TypeError: missing_dependency_generator")
    assert lean["parquet"] == ["2A", "971"] and lean["real_handler"] is False
    usual = _hdfs_probe("pyarrow-first")
    assert usual["real_handler"] is True and usual["parquet"] == ["2A", "971"]


NESTED_PROBE = """
import pathlib, sys, tempfile
import eigkit.runner.lean_imports
folder = pathlib.Path(tempfile.mkdtemp())
# a stand-in papermill whose I/O module imports pyarrow itself, then a module that imports pyarrow and pandas
(folder / "papermill").mkdir()
(folder / "papermill" / "__init__.py").write_text("")
(folder / "papermill" / "iorw.py").write_text(
    "try:\\n    from pyarrow.fs import HadoopFileSystem\\n    direct = 'imported'\\n"
    "except ImportError:\\n    direct = 'skipped'\\nimport uses_pyarrow\\n"
)
(folder / "uses_pyarrow.py").write_text("import pyarrow\\nimport pandas\\n")
sys.path.insert(0, str(folder))
import papermill.iorw
from pandas.compat import pyarrow as seen  # its pa_version_under* flags are all True when pyarrow is missing
flags = [getattr(seen, name) for name in dir(seen) if name.startswith("pa_version_under")]
print(papermill.iorw.direct, sys.modules["uses_pyarrow"].pyarrow.__name__, bool(flags) and not all(flags))
"""


def test_only_papermill_io_s_own_import_statement_goes_without_pyarrow() -> None:
    """A module imported while papermill's I/O module runs (pandas, if it were) imports pyarrow as usual:
    pandas would otherwise believe pyarrow missing for the whole process."""
    assert python_output(NESTED_PROBE).split() == ["skipped", "pyarrow", "True"]


def test_every_process_the_kit_starts_before_nbformat_skips_the_iri_grammar() -> None:
    """A spawned pool worker (macOS, Windows) imports eigkit.runner.pool first, a Dask worker
    eigkit.runner.worker (its tasks' module); eig lab starts JupyterLab through LAB_MAIN (jupyter-events
    imports jsonschema). None loads the grammar (nor, with papermill, boto3 and pyarrow), and JupyterLab still
    starts (``--version`` goes through its whole command line)."""
    from eigkit.runner.lab import LAB_MAIN

    for first in ("eigkit.runner.pool", "eigkit.runner.worker"):
        loaded = "print(*(name in sys.modules for name in ('lark', 'boto3', 'pyarrow')))"
        assert python_output(f"import sys, {first}, papermill; {loaded}").split() == ["False"] * 3, first
    lab = subprocess.run([sys.executable, "-X", "importtime", "-c", LAB_MAIN, "--version"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert lab.returncode == 0, lab.stderr[-2000:]
    assert lab.stdout.strip().split(".")[0].isdigit(), lab.stdout  # JupyterLab's version
    assert "jupyter_events" in lab.stderr or "jupyter_server" in lab.stderr  # its start-up was imported
    assert not re.search(r"\|\s+lark$", lab.stderr, re.MULTILINE)  # the grammars' library was never imported
