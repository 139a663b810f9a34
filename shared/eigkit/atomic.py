"""Writes that never leave a half-written file at a final path, and never leave their temporary file.

Every final file of the kit (cached data, parquet tables, ``data.lock``, executed notebooks, manifests,
reports) goes through :func:`atomic_path`: the content is written to a temporary sibling, flushed, given the
mode a plain ``open()`` would give under the user's umask, then moved over the final path in one
``os.replace``. A reader sees the old file or the new one, never a part; a failure removes the temporary.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process's umask, read without changing it where the system tells it (Linux), else set back."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` with the user's file mode.

    Use it for writers that want a file name (``pyarrow.parquet.write_table``, ``shutil.copy``). On any
    exception the temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, 0o666 & ~current_umask())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def write_bytes(path: Path | str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, flushed to disk before it replaces the old file."""
    with atomic_path(path) as temporary, open(temporary, "wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())


def write_text(path: Path | str, text: str) -> None:
    """Write ``text`` as UTF-8 to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: Path | str, data: Any) -> None:
    """Write ``data`` as indented UTF-8 JSON to ``path`` atomically; NaN and infinities are refused."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False, default=str) + "\n")


def copy_file(source: Path | str, target: Path | str) -> None:
    """Copy the bytes of ``source`` to ``target`` atomically."""
    write_bytes(target, Path(source).read_bytes())
