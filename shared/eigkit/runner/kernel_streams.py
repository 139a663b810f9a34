"""An IPython extension loaded into the kit's kernels: what a cell writes straight to file descriptors 1 and 2
(a C library's warning, a subprocess's output) reaches that cell's outputs, every time.

ipykernel sends those descriptors into a pipe that a thread of its own reads and passes on to the cell's
stream. Nothing waits for that thread when a cell ends: on a loaded machine it passes on late, and the text
goes to no cell, or to the next one; ``eig run`` and ``eig check`` then disagree on a correct notebook. After
each cell, this extension waits (at most :data:`WAIT_SECONDS`) until the pipe is empty and the thread is back
waiting to read it (Linux's ``/proc/self/task/<id>/syscall``): all the cell wrote has then been passed on.
Elsewhere it waits until the pipe is empty only. Nothing is written into the pipe.
"""

from __future__ import annotations

import fcntl
import os
import struct
import sys
import termios
import threading
import time
from typing import Any

WAIT_SECONDS = 5.0  # a reader thread still busy by then (its terminal blocked...) is left to itself
POLL_SECONDS = 0.001
# The number of the read system call, as /proc/self/task/<id>/syscall shows it, by machine.
READ_SYSCALL = {
    "x86_64": 0, "amd64": 0, "aarch64": 63, "arm64": 63, "riscv64": 63,
    "i386": 3, "i686": 3, "armv7l": 3, "ppc64le": 3, "ppc64": 3, "s390x": 3,
}.get(os.uname().machine)  # fmt: skip


class PipeDrain:
    """Waits until ipykernel's reader thread of one stream has passed on all that was written to it."""

    def __init__(self, stream: Any) -> None:
        self.reader: threading.Thread = stream.watch_fd_thread
        self.pipe: int = stream._fid  # the read end
        self.descriptor: int = stream._original_stdstream_fd
        self.watched = _identity(self.descriptor)  # what the descriptor is while ipykernel watches it
        self.syscall_file = f"/proc/self/task/{self.reader.native_id}/syscall"
        self.stream = stream
        self.stuck = False  # the reader did not come back in WAIT_SECONDS (it cannot copy to its terminal)

    def wait(self, *_: Any) -> None:
        """Return once the pipe is empty and its reader waits on it, then send what the stream holds if the
        cell replaced it in ``sys`` (ipykernel then flushes the replacement only). Return at once when the
        descriptor no longer goes into the pipe (a cell redirected it), when the reader is gone, or while a
        reader that did not come back last time is still away."""
        if not self.reader.is_alive() or _identity(self.descriptor) != self.watched:
            return
        if self.stuck and not self._reader_waits():
            return
        deadline = time.monotonic() + WAIT_SECONDS
        while not (drained := self._drained()) and time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
        self.stuck = not drained
        if self.stream is not sys.stdout and self.stream is not sys.stderr:
            self.stream.flush()

    def _drained(self) -> bool:
        return _unread(self.pipe) == 0 and self._reader_waits()

    def _reader_waits(self) -> bool:
        """True when the reader thread is blocked reading the pipe (unknown without /proc: True)."""
        if READ_SYSCALL is None:
            return True
        try:
            with open(self.syscall_file) as file:
                fields = file.read().split()
        except OSError:
            return True
        return len(fields) > 1 and fields[0] == str(READ_SYSCALL) and int(fields[1], 16) == self.pipe


def _unread(pipe: int) -> int:
    """How many bytes wait in ``pipe``."""
    try:
        return struct.unpack("i", fcntl.ioctl(pipe, termios.FIONREAD, b"\0\0\0\0"))[0]
    except OSError:
        return 0


def _identity(descriptor: int) -> tuple[int, int] | None:
    try:
        info = os.fstat(descriptor)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def watched_streams() -> list[Any]:
    """This kernel's output streams whose file descriptor ipykernel watches through a pipe."""
    streams = (sys.stdout, sys.stderr)
    return [s for s in streams if getattr(s, "_should_watch", False) and getattr(s, "watch_fd_thread", None)]


def load_ipython_extension(ipython: Any) -> None:
    """IPython's entry point: drain the watched pipes after every cell, before ipykernel's final flush."""
    for stream in watched_streams():
        ipython.events.register("post_run_cell", PipeDrain(stream).wait)
