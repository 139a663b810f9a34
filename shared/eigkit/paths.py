"""Where things are: the current workspace's root, the data cache and ``data.lock``, and the kit's own
resources (template, notebooks)."""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path

import platformdirs

from eigkit.errors import EigError

WORKSPACE_ENV = "EIG_WORKSPACE"
DATA_DIR_ENV = "EIG_DATA_DIR"
DATA_LOCK_ENV = "EIG_DATA_LOCK"
DATA_LOCAL_DIR_ENV = "EIG_DATA_LOCAL_DIR"


def is_workspace(folder: Path) -> bool:
    """True when ``folder`` holds a ``pyproject.toml`` with a ``[tool.eig]`` table (a défi workspace)."""
    pyproject = folder / "pyproject.toml"
    if not pyproject.is_file():
        return False
    try:
        return "eig" in tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False


def workspace_root(start: Path | str | None = None) -> Path | None:
    """Return the défi workspace containing ``start`` (default: ``$EIG_WORKSPACE``, else the current folder).

    Walks up the folders until one :func:`is_workspace`; returns ``None`` outside any workspace.
    """
    if start is None and os.environ.get(WORKSPACE_ENV):
        return Path(os.environ[WORKSPACE_ENV]).resolve()
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if is_workspace(folder):
            return folder
    return None


def data_store_url() -> str | None:
    """The remote home of the data cache when ``$EIG_DATA_DIR`` is an ``s3://`` URL, else None."""
    value = os.environ.get(DATA_DIR_ENV, "").strip()
    return "s3://" + value[len("s3://") :].rstrip("/") if value.lower().startswith("s3://") else None


def data_cache_dir() -> Path:
    """The root of the (local) data cache: ``$EIG_DATA_DIR``, else ``<workspace>/data/raw``, else the user
    cache (``~/.cache/eigkit`` on Linux, the folder ``pooch.os_cache("eigkit")`` names).

    When ``$EIG_DATA_DIR`` is an ``s3://bucket/path`` URL, this is the local working copy mirrored to it:
    ``$EIG_DATA_LOCAL_DIR``, else ``<user cache>/s3/<bucket>/<path>``.
    """
    store = data_store_url()
    if store is not None:
        if os.environ.get(DATA_LOCAL_DIR_ENV):
            return Path(os.environ[DATA_LOCAL_DIR_ENV])
        return Path(platformdirs.user_cache_dir("eigkit"), "s3", *store[len("s3://") :].split("/"))
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV])
    workspace = workspace_root()
    if workspace is not None:
        return workspace / "data" / "raw"
    return Path(platformdirs.user_cache_dir("eigkit"))


def data_lock_path() -> Path:
    """Where ``data.lock`` lives: ``$EIG_DATA_LOCK``, else ``<workspace>/data.lock``, else in the cache."""
    if os.environ.get(DATA_LOCK_ENV):
        return Path(os.environ[DATA_LOCK_ENV])
    workspace = workspace_root()
    if workspace is not None:
        return workspace / "data.lock"
    return data_cache_dir() / "data.lock"


def kit_root() -> Path:
    """Return the folder that holds the kit's ``cookiecutter.json``, ``template/`` and ``notebooks/``.

    In a wheel they travel inside the package (``eigkit/_kit``); in a source checkout (editable install)
    they are at the repository's top level.
    """
    package = Path(__file__).resolve().parent
    bundled = package / "_kit"
    if (bundled / "template").is_dir():
        return bundled
    checkout = package.parent.parent
    if (checkout / "template").is_dir():
        return checkout
    raise FileNotFoundError(
        f"The kit's template was not found next to {package}: reinstall eig-kit (pip install eig-kit)."
    )


def kit_checkout() -> Path | None:
    """Return the kit's git checkout when eigkit runs from one (editable install), else ``None``."""
    root = kit_root()
    return root if (root / ".git").exists() else None


def temporary_folder() -> Path:
    """Python's temporary folder (``$TMPDIR``, else ``/tmp``, ``/var/tmp``, ``/usr/tmp``, the current folder);
    an :class:`EigError` saying what to set when none of them can be written to."""
    try:
        return Path(tempfile.gettempdir())
    except FileNotFoundError as error:  # tempfile's "No usable temporary directory found in [...]"
        raise EigError(
            f"no folder to write temporary files in: {error.strerror} (missing or read-only). "
            "Point TMPDIR to a folder you can write to (mkdir -p ~/tmp && export TMPDIR=~/tmp), then retry."
        ) from error
