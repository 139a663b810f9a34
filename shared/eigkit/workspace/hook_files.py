"""Keep cookiecutter's rendered hook scripts out of the system's temporary folder.

cookiecutter writes each hook, rendered with the template's answers (project name, mentor, e-mail...), to a
``NamedTemporaryFile(delete=False)`` and never removes it (cookiecutter issue #886, closed as intended): every
``eig new`` left two such scripts in ``/tmp``, every ``eig update`` four. Inside :func:`removed_afterwards`,
Python's temporary files go to a private folder that is deleted when the bake or update ends, however it ends.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

_lock = threading.Lock()  # tempfile.tempdir is process-wide: one bake or update at a time changes it


@contextlib.contextmanager
def removed_afterwards() -> Iterator[Path]:
    """Send the temporary files made meanwhile in this process (cookiecutter's hooks, cruft's clones) to a
    private folder, removed with its content on exit; yield that folder."""
    with _lock, tempfile.TemporaryDirectory(prefix="eig-bake-") as folder:
        previous = tempfile.tempdir
        tempfile.tempdir = folder
        try:
            yield Path(folder)
        finally:
            tempfile.tempdir = previous
