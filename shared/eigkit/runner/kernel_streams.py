"""An IPython extension loaded into the kit's kernels: what a cell writes straight to file descriptors 1 and 2
(a C library's warning, a subprocess's output) reaches that cell's outputs, every time.

ipykernel sends those descriptors into a pipe that a thread of its own reads and passes on to the cell's
stream. Nothing waits for that thread when a cell ends: on a loaded machine it passes on late, and the text
goes to no cell, or to the next one; ``eig run`` and ``eig check`` then disagree on a correct notebook. After
each cell, this extension writes one mark byte into each pipe and waits until the reader thread has passed it
on (at most :data:`WAIT_SECONDS`): all that the cell wrote before it has then been passed on too. The mark
(a NUL byte) is taken out of the text; a NUL byte the cell itself writes to those descriptors is dropped.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

MARK = "\x00"
WAIT_SECONDS = 5.0  # a reader thread that has not passed the mark on by then is left to itself


class PipeDrain:
    """Waits until ipykernel's reader thread of one stream has passed on all that was written before."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.reader: threading.Thread = stream.watch_fd_thread
        self.descriptor: int = stream._original_stdstream_fd
        self.pipe = _identity(self.descriptor)  # what the descriptor is while ipykernel watches it
        self.passed = threading.Event()
        self._write = stream.write
        stream.write = self._write_without_mark  # the reader thread looks ``write`` up at every call

    def _write_without_mark(self, text: str) -> int | None:
        if MARK not in text or threading.current_thread() is not self.reader:
            return self._write(text)
        rest = text.replace(MARK, "")
        written = self._write(rest) if rest else 0
        self.passed.set()
        return written

    def wait(self, *_: Any) -> None:
        """Send the mark through the pipe and wait until the reader has passed it on; nothing when the
        descriptor no longer goes into the pipe (a cell redirected it) or the reader is gone."""
        if not self.reader.is_alive() or _identity(self.descriptor) != self.pipe:
            return
        self.passed.clear()
        try:
            os.write(self.descriptor, MARK.encode())
        except OSError:
            return
        self.passed.wait(WAIT_SECONDS)


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
