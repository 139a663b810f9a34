"""Find processes by pid from /proc: what a run started below its driver, and whether it is still alive."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

# An ``eig`` started as from a terminal, with Python's Ctrl-C handler: a test process started in the
# background by a non-interactive shell (`pytest &` in a script), or an xdist worker, has SIGINT ignored, and
# a child inherits that (POSIX: Python then leaves SIGINT ignored, as `eig run &` must): Ctrl-C would never
# reach it.
AS_FROM_A_TERMINAL = "import signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
EIG_FROM_A_TERMINAL = [sys.executable, "-c", AS_FROM_A_TERMINAL + "from eigkit.cli import main; main()"]


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie has exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in {"Z", "X"}


def command_line(pid: int) -> str:
    """The command line of ``pid`` ('' once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def run_watching(
    command: list[str], cwd: Path, env: dict[str, str], stderr: Path, timeout: float
) -> tuple[int, set[int]]:
    """Run ``command`` (stderr to a file: a pipe could fill up and block it); return its exit code and every
    process seen below it while it ran. Kills it and raises AssertionError when it outlives ``timeout``."""
    with open(stderr, "w") as stream:
        process = subprocess.Popen(command, cwd=cwd, env=env, stderr=stream)
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while process.poll() is None:
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"{' '.join(command)} hung for {timeout:.0f} s")
        seen |= descendants(process.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(0.2)
    return process.returncode, seen


def left_alive(pids: set[int], grace: float = 10.0) -> list[int]:
    """The processes of ``pids`` still alive after up to ``grace`` seconds."""
    deadline = time.monotonic() + grace
    while [pid for pid in pids if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.2)
    return [pid for pid in pids if alive(pid)]


def signal_masks(pid: int) -> str:
    """Each thread of ``pid`` with its signals pending, blocked, ignored and caught (hex masks from /proc):
    what to read when a process did not react to a signal."""
    lines = []
    for task in sorted(Path(f"/proc/{pid}/task").glob("*"), key=lambda path: int(path.name)):
        try:
            status = dict(
                line.split(":\t", 1) for line in (task / "status").read_text().splitlines() if ":\t" in line
            )
        except OSError:
            continue
        masks = " ".join(
            f"{key}={status.get(key, '?').strip()}"
            for key in ("SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt")
        )
        lines.append(f"thread {task.name} ({status.get('Name', '?').strip()}): {masks}")
    return "\n".join(lines)
