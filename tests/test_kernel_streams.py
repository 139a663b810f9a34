"""eigkit.runner.kernel_streams: after a cell, wait until what the cell wrote to its file descriptors has been
passed on by ipykernel's pipe reader, on a pipe and a reader thread built as ipykernel builds them."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from eigkit.runner import kernel_streams
from eigkit.runner.kernel_streams import PipeDrain


@dataclass
class WatchedStream:
    """What ipykernel's OutStream holds while it watches a descriptor: the pipe's read end, the descriptor
    that goes into the pipe, and a thread that reads the pipe and passes each chunk to ``write``."""

    _fid: int
    _original_stdstream_fd: int
    may_pass_on: threading.Event = field(default_factory=threading.Event)  # the reader is starved until set
    passed_on: list[str] = field(default_factory=list)
    watch_fd_thread: threading.Thread | None = None
    flushes: int = 0

    def flush(self) -> None:
        self.flushes += 1

    def write(self, text: str) -> None:
        self.may_pass_on.wait(30)
        self.passed_on.append(text)

    def read_pipe(self) -> None:
        while chunk := os.read(self._fid, 1000):
            self.write(chunk.decode())


@pytest.fixture
def stream() -> Iterator[WatchedStream]:
    read_end, write_end = os.pipe()
    watched = WatchedStream(read_end, write_end)
    watched.watch_fd_thread = threading.Thread(target=watched.read_pipe, daemon=True)
    watched.watch_fd_thread.start()
    yield watched
    watched.may_pass_on.set()
    os.close(watched._original_stdstream_fd)
    watched.watch_fd_thread.join(10)
    os.close(read_end)


LINUX_PROC = kernel_streams.READ_SYSCALL is not None and os.path.isdir("/proc/self/task")


@pytest.mark.skipif(not LINUX_PROC, reason="reads the reader thread's state in /proc")
def test_the_wait_ends_once_the_reader_has_passed_on_what_was_written(stream: WatchedStream) -> None:
    drain = PipeDrain(stream)
    os.write(stream._original_stdstream_fd, "un avertissement d'une bibliothèque C\n".encode())
    threading.Timer(0.3, stream.may_pass_on.set).start()  # the reader has read the pipe, not yet passed it on
    drain.wait()
    assert stream.passed_on == ["un avertissement d'une bibliothèque C\n"]


def test_no_wait_when_the_cell_has_sent_the_descriptor_elsewhere(stream: WatchedStream) -> None:
    drain = PipeDrain(stream)
    os.write(stream._original_stdstream_fd, b"avant\n")
    elsewhere = os.open(os.devnull, os.O_WRONLY)
    os.dup2(elsewhere, stream._original_stdstream_fd)  # as a cell that captures the descriptor itself
    os.close(elsewhere)
    threading.Timer(1.0, stream.may_pass_on.set).start()
    drain.wait()  # returns at once: waiting would have seen the reader pass "avant" on, a second later
    assert stream.passed_on == []


@pytest.mark.skipif(not LINUX_PROC, reason="reads the reader thread's state in /proc")
def test_a_reader_that_cannot_pass_on_is_waited_for_once_not_at_every_cell(
    stream: WatchedStream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its copy to the kernel's terminal blocks (eig run piped into a pager, a paused terminal): the next
    cells, printing nothing, must not each wait WAIT_SECONDS."""
    monkeypatch.setattr(kernel_streams, "WAIT_SECONDS", 0.2)
    drain = PipeDrain(stream)
    looks = []
    drained = drain._drained
    monkeypatch.setattr(drain, "_drained", lambda: looks.append(1) or drained())
    os.write(stream._original_stdstream_fd, b"beaucoup de texte\n")
    drain.wait()  # the reader stays held: this wait gives up
    assert drain.stuck and len(looks) > 1
    looks.clear()
    drain.wait()  # the next cell's: at once
    assert looks == []
    stream.may_pass_on.set()
    while not drain._reader_waits():  # the reader is back: waits resume
        threading.Event().wait(0.01)
    drain.wait()
    assert not drain.stuck and stream.passed_on == ["beaucoup de texte\n"]


def test_the_stream_is_flushed_when_a_cell_replaced_it_in_sys(
    stream: WatchedStream, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ipykernel flushes sys.stdout and sys.stderr as a cell ends: a stream no longer there is flushed."""
    stream.may_pass_on.set()
    drain = PipeDrain(stream)
    monkeypatch.setattr(sys, "stderr", stream)
    drain.wait()
    assert stream.flushes == 0  # ipykernel does it
    monkeypatch.setattr(sys, "stderr", sys.__stderr__)  # as `sys.stderr = sys.stdout` in a cell
    drain.wait()
    assert stream.flushes == 1


def test_only_streams_ipykernel_watches_are_drained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", WatchedStream(0, 1))  # no reader thread: not watched
    assert kernel_streams.watched_streams() == []
