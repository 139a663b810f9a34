"""``eig check``: nbval over the latest run's executed notebooks; committed notebooks must be clean."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from nbval.plugin import get_sanitize_patterns

from eigkit.runner import fastkernel
from eigkit.runner.check import KIT_SANITIZE, CheckError, check, notebooks_with_outputs, sanitize_file
from test_run_workspace import make_workspace


def _sanitize(text: str) -> str:
    for regex, replace in get_sanitize_patterns(KIT_SANITIZE.read_text(encoding="utf-8")):
        text = re.sub(regex, replace, text)
    return text


def test_kit_sanitize_file_hides_addresses_and_timings_only() -> None:
    assert (
        _sanitize("[<matplotlib.lines.Line2D at 0x7f3a2b1c9d60>]")
        == "[<matplotlib.lines.Line2D at 0xADDRESS>]"
    )
    assert _sanitize("Wall time: 12.5 ms") == "Wall time: TIME"
    assert _sanitize("total = 0x10 + 42 rows, 2023") == "total = 0x10 + 42 rows, 2023"  # real values stay
    assert (
        _sanitize("id0x7f3a2b1c9d60 _0x7f3a2b1c9d60") == "id0x7f3a2b1c9d60 _0x7f3a2b1c9d60"
    )  # not addresses
    timeit = "1.23 ms ± 45.6 µs per loop (mean ± std. dev. of 7 runs, 1,000 loops each)"
    assert (
        _sanitize(f"x {timeit}\n12.5 s ± 3 ms per loop (mean ± std. dev. of 1 run, 1 loop each)")
        == "x TIMEIT\nTIMEIT"
    )
    svg = '<path d="M 10.5 20.25 L 30 40.125 z"/>' * 1000  # numbers everywhere, nothing to hide
    assert _sanitize(svg) == svg


def test_workspace_sanitize_file_wins_over_the_kit_one(tmp_path: Path) -> None:
    assert sanitize_file(tmp_path) == KIT_SANITIZE
    own = tmp_path / "tests" / "nbval_sanitize.cfg"
    own.parent.mkdir()
    own.write_text("regex: x\nreplace: y\n")
    assert sanitize_file(tmp_path) == own


def test_committed_notebooks_with_outputs_or_counts_are_reported(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, {"01-clean": "params_demo", "02-dirty": "fails"})
    assert notebooks_with_outputs(root / "notebooks") == []
    dirty = root / "notebooks" / "02-dirty.ipynb"
    content = json.loads(dirty.read_text())
    content["cells"][0]["execution_count"] = 3
    dirty.write_text(json.dumps(content))
    (problem,) = notebooks_with_outputs(root / "notebooks")
    assert "02-dirty.ipynb" in problem and "nbstripout" in problem


def test_check_without_any_run_says_what_to_do(tmp_path: Path) -> None:
    root = make_workspace(tmp_path, {"01-a": "params_demo"})
    with pytest.raises(CheckError, match=r"no run yet.*eig run --params params/ci.yaml"):
        check(workspace=root)


@pytest.mark.slow
def test_check_passes_on_the_latest_run(
    shared_run: tuple[Path, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    root, run = shared_run
    result = check(workspace=root)
    assert result.returncode == 0, result
    assert result.notebooks == [run.run_dir / "01-demo.ipynb"]
    plugins = next(line for line in capfd.readouterr().out.splitlines() if line.startswith("plugins:"))
    assert "nbval-" in plugins and "anyio" not in plugins  # anyio's plugin serves no notebook


@pytest.mark.slow
def test_check_fails_on_a_changed_output_and_on_committed_outputs(
    shared_run: tuple[Path, Any], tmp_path_factory: pytest.TempPathFactory, capfd: pytest.CaptureFixture[str]
) -> None:
    _, run = shared_run
    copy_root = make_workspace(tmp_path_factory.mktemp("tampered"), {})
    executed = json.loads((run.run_dir / "01-demo.ipynb").read_text())
    for cell in executed["cells"]:
        for output in cell.get("outputs", []):
            if output.get("name") == "stdout":
                output["text"] = "".join(output["text"]).replace('"annee": 2023', '"annee": 1999')
    tampered = copy_root / "runs" / "manual" / "01-demo.ipynb"
    tampered.parent.mkdir(parents=True)
    tampered.write_text(json.dumps(executed))
    shutil.copy(run.run_dir / "01-demo.ipynb", copy_root / "notebooks" / "01-demo.ipynb")  # with outputs
    result = check([tampered], workspace=copy_root)
    output = capfd.readouterr()
    assert result.returncode != 0
    assert "1 failed" in output.out and "1999" in output.out  # nbval saw the changed output
    assert any("01-demo.ipynb: committed notebook carries outputs" in problem for problem in result.problems)


@pytest.mark.slow
@pytest.mark.skipif(not fastkernel.fork_supported(), reason="kernels are forked on Linux only")
@pytest.mark.parametrize("fast", ["1", "0"])
def test_check_forks_its_kernels_from_one_warm_server_like_eig_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], fast: str
) -> None:
    """Each notebook's kernel says, silently, whether pandas was already imported when it started (only
    in a fork of the warm server) and who its parent is: with the fast start, every kernel of the check is
    forked from the same server, and no kernel writes to the terminal (nbval silences its kernels)."""
    import nbformat

    root = make_workspace(tmp_path, {})
    probe = (
        "import os, sys\n"
        "with open(os.path.join(os.environ['EIG_WORKSPACE'], 'kernels.txt'), 'a') as out:\n"
        "    _ = out.write(f\"{'pandas' in sys.modules} {os.environ['JPY_PARENT_PID']} {os.getpid()}\\n\")\n"
        "_ = os.write(2, b'kernel stderr\\n')  # the process's own stderr, not the notebook's"
    )
    for name in ("01-a", "02-b", "03-c"):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(probe)])
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
        executed = root / "runs" / "checked" / f"{name}.ipynb"
        executed.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, executed)
    monkeypatch.setenv(fastkernel.DISABLE_ENV, fast)
    # -s: nbval's pytest must not capture the kernels' stderr, so that this test sees what leaks
    result = check([root / "runs" / "checked"], workspace=root, current_env=True, extra_args=["-s"])
    assert result.ok
    assert "kernel stderr" not in capfd.readouterr().err
    seen = [line.split() for line in (root / "kernels.txt").read_text().splitlines()]
    assert len(seen) == 3 and len({pid for _, _, pid in seen}) == 3  # a fresh kernel per notebook
    if fast == "1":
        assert {warm for warm, _, _ in seen} == {"True"} and len({parent for _, parent, _ in seen}) == 1
    else:
        assert {warm for warm, _, _ in seen} == {"False"}


@pytest.mark.slow
@pytest.mark.parametrize("fast_kernel", ["1", "0"])
def test_a_kernel_dying_in_a_cell_fails_that_cell_at_once_not_at_the_cell_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], fast_kernel: str
) -> None:
    """A kernel killed while a cell runs (as the OOM killer does on full data): nbval alone waits for the
    cell's reply until its timeout (2,000 s by default); eig check fails the cell within seconds, saying
    why."""
    import time

    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    monkeypatch.setenv("EIG_FAST_KERNEL", fast_kernel)
    root = make_workspace(tmp_path, {})
    printed_cell = [new_output("stream", text="avant\n")], [new_output("stream", text="après\n")]
    notebook = new_notebook(
        cells=[
            new_code_cell("print('avant')", execution_count=1, outputs=printed_cell[0]),
            new_code_cell("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", execution_count=2),
            new_code_cell("print('après')", execution_count=3, outputs=printed_cell[1]),
        ]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    executed = root / "runs" / "r" / "01-meurt.ipynb"
    executed.parent.mkdir(parents=True)
    nbformat.write(notebook, executed)
    started = time.monotonic()
    result = check([executed], workspace=root, extra_args=["--nbval-cell-timeout", "100"])
    seconds = time.monotonic() - started
    printed = capfd.readouterr().out
    assert result.returncode == 1, printed
    assert seconds < 60, f"the check waited {seconds:.0f} s for a dead kernel"
    assert "the kernel died while this cell ran" in printed and "1 passed" in printed, printed


# ipykernel passes what reaches file descriptor 2 on to the cell from a thread that reads a pipe: on a loaded
# machine it is late, and the text went to no cell (1 suite run in 3). This makes it late every time: the
# reader takes the text while the cell still runs (the cell sleeps, leaving it the GIL) and passes it on 0.5 s
# later (IPython puts the stream's write method back when the cell ends; the next cell does it where IPython
# does not).
LATE_READER = """import os, sys, threading, time
write = sys.stderr.write
def late(text):
    if threading.current_thread() is not threading.main_thread():
        time.sleep(0.5)
    return write(text)
sys.stderr.write = late"""
ON_TIME_READER = "sys.stderr.write = write"


@pytest.mark.slow
@pytest.mark.parametrize("fast_kernel", ["1", "0"])
def test_what_a_cell_writes_to_file_descriptor_2_is_recorded_by_eig_run_and_checked_by_eig_check(
    tmp_path: Path, fast_kernel: str
) -> None:
    """A C library's warning or a subprocess's stderr reaches file descriptor 2, not sys.stderr: ipykernel
    records it as the cell's stderr in eig run, and must do the same under eig check's pytest (which it
    does not when the kernel sees pytest's PYTEST_CURRENT_TEST), or the check fails a correct notebook."""
    import os
    import subprocess
    import sys

    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    root = make_workspace(tmp_path, {})
    written = "os.write(2, 'écrit sur le descripteur 2\\n'.encode())\ntime.sleep(0.1)"  # the reader takes it
    cell = f"{LATE_READER}\n{written}\nprint('fin')"
    notebook = new_notebook(cells=[new_code_cell(cell), new_code_cell(ON_TIME_READER)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / "notebooks" / "01-descripteur.ipynb")
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}  # as typed in a terminal
    env |= {"EIG_FAST_KERNEL": fast_kernel, "EIG_WORKSPACE": str(root)}
    eig = [sys.executable, "-c", "from eigkit.cli import main; main()"]
    ran = subprocess.run([*eig, "run"], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr
    assert "\x00" not in ran.stderr  # the kernels echo fd 2 here: nothing but what the cell wrote
    (executed,) = (root / "runs").glob("*/01-descripteur.ipynb")
    cells = nbformat.read(executed, as_version=4).cells
    assert [out.get("text") for out in cells[0].outputs if out.get("name") == "stderr"] == [
        "écrit sur le descripteur 2\n"
    ]
    assert cells[1].outputs == []  # not late, in the next cell
    checked = subprocess.run([*eig, "check"], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout[-3000:]


@pytest.mark.slow
def test_kernels_started_within_pytest_record_file_descriptor_2_as_from_a_terminal(tmp_path: Path) -> None:
    """eigkit.run called from a test (as here, or in a défi's own tests): its kernels do not see pytest's
    PYTEST_CURRENT_TEST either, so what a cell writes to file descriptor 2 is recorded as from a terminal."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from eigkit.runner.execute import run

    root = make_workspace(tmp_path, {})
    cell = "import os\nos.write(2, b'sur le descripteur 2\\n')\nprint(os.environ.get('PYTEST_CURRENT_TEST'))"
    notebook = new_notebook(cells=[new_code_cell(cell)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, root / "notebooks" / "01-descripteur.ipynb")
    result = run(workspace=root, progress=False)
    assert result.ok
    outputs = nbformat.read(result.run_dir / result.runs[0]["output"], as_version=4).cells[0].outputs
    texts = {out.get("name"): out.get("text", "") for out in outputs}
    assert "sur le descripteur 2" in texts.get("stderr", "") and texts.get("stdout") == "None\n", outputs


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find the kernel processes")
def test_ctrl_c_during_a_check_exits_130_like_eig_run_and_leaves_no_kernel_nor_its_files(
    tmp_path: Path,
) -> None:
    import os
    import signal
    import subprocess
    import tempfile
    import time

    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from processes import EIG_FROM_A_TERMINAL, descendants, left_alive

    root = make_workspace(tmp_path, {})
    cell = "import os, time\nopen(os.environ['EIG_WORKSPACE'] + '/checking', 'w').close()\ntime.sleep(120)"
    notebook = new_notebook(cells=[new_code_cell(cell, execution_count=1)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    (root / "runs" / "r").mkdir(parents=True)
    nbformat.write(notebook, root / "runs" / "r" / "01-long.ipynb")
    scratch = Path(tempfile.mkdtemp(prefix="eig-t-"))  # short: socket paths must fit
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"}
    env |= {"EIG_WORKSPACE": str(root), "TMPDIR": str(scratch)}
    command = [*EIG_FROM_A_TERMINAL, "check", "runs/r"]
    checking = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while not (root / "checking").exists():
        assert checking.poll() is None and time.monotonic() < deadline, checking.communicate()
        time.sleep(0.1)
    below = descendants(checking.pid)
    os.killpg(checking.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole foreground group
    _, stderr = checking.communicate(timeout=60)
    assert checking.returncode == 130, stderr
    assert stderr.rstrip().endswith("Interrupted (Ctrl-C).") and "Traceback" not in stderr, stderr
    assert left_alive(below) == [], "the check left processes behind"
    left = sorted(path.name for path in scratch.iterdir())  # no kernel key, socket or scratch folder
    shutil.rmtree(scratch)
    assert left == []
