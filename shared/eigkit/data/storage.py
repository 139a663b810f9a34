"""Where the data cache is mirrored: nowhere (a local cache), or an S3-compatible prefix.

With ``EIG_DATA_DIR=s3://bucket/path`` (SSP Cloud / Onyxia, MinIO, AWS), the cache keeps working on a local
folder (its working copy: staging, raw files, parquet tables, as on a pod's disk) and this module copies files
between that folder and the prefix, each keyed by its path relative to the folder. It moves bytes only: what a
file is and whether its sha256 is right is :mod:`~eigkit.data.cache`'s job, which re-hashes everything it
pulls. s3fs (the ``s3`` extra) is imported only for an ``s3://`` cache. Endpoint and credentials come from the
usual variables: ``AWS_ENDPOINT_URL_S3``, ``AWS_ENDPOINT_URL`` or Onyxia's ``AWS_S3_ENDPOINT`` (a host without
scheme, https assumed), ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``,
``AWS_DEFAULT_REGION`` / ``AWS_REGION``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from eigkit.errors import DataError
from eigkit.paths import data_cache_dir, data_store_url

ENDPOINT_ENVS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_S3_ENDPOINT")
CREDENTIAL_ENVS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                   "AWS_DEFAULT_REGION", "AWS_REGION")  # fmt: skip


class Mirror(Protocol):
    """The remote copy of the cache. Files are named by their local path in the cache folder; the mirror
    maps it to its own key."""

    url: str | None

    def read(self, local: Path) -> bytes | None:
        """The bytes of the remote copy of ``local``, or None when there is none."""

    def pull(self, local: Path, into: Path) -> bool:
        """Copy the remote copy of ``local`` to the path ``into``; False when there is none."""

    def push(self, local: Path) -> None:
        """Copy ``local`` to its remote copy."""

    def files(self, folder: Path) -> list[Path]:
        """The local paths of the remote files under ``folder`` (empty when none)."""


class NoMirror:
    """A local cache: nothing is mirrored."""

    url: str | None = None

    def read(self, local: Path) -> bytes | None:
        return None

    def pull(self, local: Path, into: Path) -> bool:
        return False

    def push(self, local: Path) -> None:
        return None

    def files(self, folder: Path) -> list[Path]:
        return []


def endpoint_url() -> str | None:
    """The S3 endpoint the environment names (``None``: AWS itself); a bare host gets ``https://``."""
    for name in ENDPOINT_ENVS:
        value = os.environ.get(name, "").strip()
        if value:
            return value if "://" in value else f"https://{value}"
    return None


class S3Mirror:
    """The cache mirrored under an ``s3://bucket/path`` prefix, through s3fs."""

    def __init__(self, url: str, root: Path) -> None:
        self.url = url.rstrip("/")
        self.root = root
        self.bucket, _, prefix = self.url.removeprefix("s3://").partition("/")
        self._prefix = "/".join(part for part in (self.bucket, prefix.strip("/")) if part)
        if not self.bucket:
            raise DataError(f"EIG_DATA_DIR={url}: no bucket named. Use s3://<bucket>/<path>.")
        self.endpoint = endpoint_url()
        self._fs = _filesystem(url, self.endpoint)
        self._fs_errors = _transport_errors()
        self._checked = False

    def key(self, local: Path) -> str:
        """The object key (``bucket/path/...``) of the local cache file ``local``."""
        return f"{self._prefix}/{local.relative_to(self.root).as_posix()}"

    def read(self, local: Path) -> bytes | None:
        with self._errors(local):
            try:
                return self._fs.cat_file(self.key(local))
            except FileNotFoundError:
                return None

    def pull(self, local: Path, into: Path) -> bool:
        with self._errors(local):
            try:
                self._fs.get_file(self.key(local), str(into))
            except FileNotFoundError:
                return False
        return True

    def push(self, local: Path) -> None:
        with self._errors(local):
            try:
                self._fs.put_file(str(local), self.key(local))
            except FileNotFoundError as error:  # the bucket went away since it was checked
                raise self._no_bucket() from error

    def files(self, folder: Path) -> list[Path]:
        with self._errors(folder):
            found = self._fs.find(self.key(folder))
        return [self.root / key.removeprefix(self._prefix + "/") for key in found]

    @contextlib.contextmanager
    def _errors(self, local: Path) -> Iterator[None]:
        """Turn what the server or the network says into a DataError naming the URL and what to do."""
        where = f"s3://{self.key(local)}"
        try:
            if not self._checked:
                self._check_bucket()
            yield
        except PermissionError as error:
            raise DataError(
                f"{where}: access denied by the S3 server ({error}). Check AWS_ACCESS_KEY_ID, "
                "AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN (on SSP Cloud they expire: copy fresh ones from "
                "'Mon compte > Connexion au stockage' or restart the service), and that they may write "
                f"bucket {self.bucket!r}."
            ) from error
        except FileNotFoundError:
            raise
        except (OSError, *self._fs_errors) as error:  # botocore's connection errors are not OSErrors
            raise DataError(
                f"{where}: the S3 server at {self.endpoint or 'AWS'} could not be reached or refused the "
                f"request ({type(error).__name__}: {error}). Check AWS_ENDPOINT_URL (or AWS_S3_ENDPOINT on "
                "SSP Cloud) and your network, or set EIG_DATA_DIR to a local folder."
            ) from error

    def _check_bucket(self) -> None:
        try:
            self._fs.call_s3("head_bucket", Bucket=self.bucket)
        except FileNotFoundError as error:
            raise self._no_bucket() from error
        self._checked = True

    def _no_bucket(self) -> DataError:
        return DataError(
            f"EIG_DATA_DIR={self.url}: bucket {self.bucket!r} does not exist on {self.endpoint or 'AWS'}. "
            "Create it (on SSP Cloud your bucket is your user name, e.g. s3://<user>/eig-data), or fix "
            "EIG_DATA_DIR."
        )


def _filesystem(url: str, endpoint: str | None) -> Any:
    try:
        import s3fs
    except ImportError as error:
        raise DataError(
            f"EIG_DATA_DIR={url}: a data cache on S3 needs the `s3` extra of eig-kit (s3fs). Add it to the "
            "eig-kit dependency (`eig-kit[s3] @ ...` in the workspace's pyproject.toml) and reinstall, or "
            "`pip install 'eig-kit[s3]'`; or set EIG_DATA_DIR to a local folder."
        ) from error
    config = {"connect_timeout": 10, "retries": {"max_attempts": 2}}
    return s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True, use_listings_cache=False,
                             config_kwargs=config)  # fmt: skip


def _transport_errors() -> tuple[type[Exception], ...]:
    """The errors botocore raises for a request that never got an answer (not OSErrors)."""
    from botocore.exceptions import BotoCoreError

    return (BotoCoreError,)


_current: tuple[tuple[str | None, ...], Mirror] | None = None  # the mirror of the last environment seen
_current_lock = threading.Lock()  # the years of one load are pulled in threads: one mirror for them all


def mirror() -> Mirror:
    """The mirror of the current cache: :class:`NoMirror` for a local ``EIG_DATA_DIR``, else the
    :class:`S3Mirror` for the URL, endpoint and credentials in the environment, reused while they stay the
    same. Only that one is kept: when they change (SSP Cloud's temporary credentials are renewed every few
    hours), the previous mirror and its S3 client (the S3 API model, some megabytes) are let go."""
    global _current
    url = data_store_url()
    if url is None:
        return NoMirror()
    root = data_cache_dir()
    key = (url, str(root), endpoint_url(), *(os.environ.get(name) for name in CREDENTIAL_ENVS))
    with _current_lock:
        if _current is None or _current[0] != key:
            _current = (key, S3Mirror(url, root))  # no request yet: the client connects at first use
        return _current[1]
