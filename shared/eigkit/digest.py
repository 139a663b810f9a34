"""The digest of a file's bytes (sha256 by default), without loading the file whole."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    """Hex digest of the file at ``path`` with ``algorithm`` (a :mod:`hashlib` name)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()
