"""Processes that die with the one that drives them, whatever kills it (SIGKILL included).

A pool worker calls :func:`die_with` first thing: on Linux the kernel sends it ``signal`` as soon as its
parent exits (``prctl(PR_SET_PDEATHSIG)``), and everywhere a daemon thread watches the driving process's pid
and sends the same signal when it is gone (the parent of a worker is multiprocessing's fork server, which
itself ends when the driver does). The signal is SIGTERM, so the worker stops its kernel the way it does
on Ctrl-C, and the kernel is never left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1
WATCH_INTERVAL = 0.5  # seconds between two looks at the watched process


def pid_alive(pid: int) -> bool:
    """True when a process ``pid`` exists and has not exited (a zombie counts as exited)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stream:
            state = stream.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (macOS): os.kill said it exists
    return state not in {"Z", "X"}


def process_start_time(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot (Linux), to tell a reused pid apart; else None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stream:
            return int(stream.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def set_parent_death_signal(signum: int) -> bool:
    """Linux: have the kernel send ``signum`` to this process when its parent exits. False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0
    return False


def watch(pid: int, signum: int, interval: float = WATCH_INTERVAL) -> threading.Thread:
    """Start a daemon thread that sends ``signum`` to this process once process ``pid`` is gone."""
    me = os.getpid()

    def look() -> None:
        while pid_alive(pid):
            time.sleep(interval)
        os.kill(me, signum)

    thread = threading.Thread(target=look, name=f"eig-watch-{pid}", daemon=True)
    thread.start()
    return thread


def die_with(driver_pid: int, signum: int = signal.SIGTERM) -> None:
    """Make this process receive ``signum`` when its parent or ``driver_pid`` exits (at once if already)."""
    parent = os.getppid()
    set_parent_death_signal(signum)
    if os.getppid() != parent or not pid_alive(driver_pid):  # gone before the death signal was armed
        os.kill(os.getpid(), signum)
    watch(driver_pid, signum)
