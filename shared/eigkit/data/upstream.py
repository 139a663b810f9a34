"""What data.gouv.fr says today about files a workspace already read: same bytes, a newer year, same format?

Only the API v1 is asked (through :mod:`eigkit.data.remote`'s resolution, one ``GET`` of the dataset per
dataset), and at most the first bytes of a changed file (an HTTP ``Range`` request): nothing is downloaded
into the cache and ``data.lock`` is left alone. :class:`Upstream` remembers the answers for one session so
that a run deciding about many notebooks asks once per dataset and year.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eigkit.data import remote
from eigkit.data.errors import DataError
from eigkit.data.loading import read
from eigkit.data.registry import entry

HEAD_BYTES = 64 * 1024
_ALGORITHMS = {"sha1": "sha1", "sha2": "sha256", "sha256": "sha256", "md5": "md5"}
_NOT_TEXT = (".zip", ".tar", ".tar.gz", ".tgz", ".gz", ".xlsx", ".xls", ".parquet")


@dataclass
class Upstream:
    """One session of questions to the data.gouv.fr API (answers memoised per dataset and year)."""

    _resources: dict[tuple[str, int | None], remote.Resource] = field(default_factory=dict)
    _documents: dict[str, dict[str, Any]] = field(default_factory=dict)

    def resource(self, name: str, year: int | None) -> remote.Resource:
        """The file the kit would download today for ``name``/``year`` (raises :class:`DataError`)."""
        key = (name, year)
        if key not in self._resources:
            self._resources[key] = remote.resolve(entry(name), year)
        return self._resources[key]

    def document(self, name: str) -> dict[str, Any]:
        """The API's description of the dataset behind ``name`` (empty for a dataset with a fixed URL)."""
        item = entry(name)
        if not item.datagouv_dataset:
            return {}
        if item.datagouv_dataset not in self._documents:
            url = f"{remote.api_base()}/datasets/{item.datagouv_dataset}/"
            self._documents[item.datagouv_dataset] = remote.get_json(url, advice=remote.way_out(name, None))
        return self._documents[item.datagouv_dataset]

    def published_years(self, name: str) -> list[int]:
        """The years the API lists a file of ``name`` for (empty for a dataset not published by year)."""
        item = entry(name)
        if "{year}" not in (item.resource_pattern or ""):
            return []
        pattern = re.compile(item.resource_pattern.replace("{year}", r"(?P<eig_year>\d{4})"), re.IGNORECASE)
        years = set()
        for resource in self.document(name).get("resources", []):
            for text in (resource.get("title") or "", resource.get("url") or ""):
                match = pattern.search(text.rsplit("/", 1)[-1])
                if match:
                    years.add(int(match.group("eig_year")))
        return sorted(years)

    def last_modified(self, name: str, url: str) -> str | None:
        """The API's ``last_modified`` of the resource at ``url``."""
        for resource in self.document(name).get("resources", []):
            if url in (resource.get("url"), resource.get("latest")):
                return resource.get("last_modified")
        return None


def change(resource: remote.Resource, *, sha256: str, size: int | None, url: str | None,
           path: Path | None) -> str | None:  # fmt: skip
    """Why ``resource`` (what the API announces today) is not the file read before, or ``None``.

    The announced checksum decides when it can be compared (sha256 directly; sha1 or md5 against the local
    copy at ``path``); otherwise a different size or address (data.gouv.fr gives every upload a new one).
    """
    algorithm = _ALGORITHMS.get((resource.checksum_type or "").lower())
    if algorithm and resource.checksum_value:
        if algorithm == "sha256":
            known = sha256
        elif path is not None and path.is_file():
            with path.open("rb") as handle:
                known = hashlib.file_digest(handle, algorithm).hexdigest()
        else:
            known = None
        if known is not None:
            if known.lower() != resource.checksum_value.lower():
                return f"new {resource.checksum_type} {resource.checksum_value[:12]}… (was {known[:12]}…)"
            return None
    if size is not None and resource.filesize is not None and size != resource.filesize:
        return f"new size {resource.filesize} bytes (was {size})"
    if url and resource.url != url:
        return f"new address {resource.url} (was {url})"
    return None


def first_bytes(url: str, limit: int = HEAD_BYTES) -> bytes:
    """The first ``limit`` bytes at ``url`` (a ``Range`` request; the rest is never read)."""
    import requests

    remote.check_url(url)
    headers = {"Range": f"bytes=0-{limit - 1}"}
    try:
        with requests.get(url, headers=headers, stream=True, timeout=remote.timeout(),
                          hooks={"response": remote.refuse_insecure_redirect}) as response:  # fmt: skip
            if response.status_code not in (200, 206):
                raise DataError(f"{url}: HTTP {response.status_code} while reading the file's first bytes.")
            chunks, received = [], 0
            for chunk in response.iter_content(chunk_size=8192):
                chunks.append(chunk)
                received += len(chunk)
                if received >= limit:
                    break
    except requests.RequestException as error:
        raise DataError(f"{url}: cannot read the file's first bytes ({type(error).__name__}).") from error
    return b"".join(chunks)[:limit]


def header_problem(name: str, filename: str, head: bytes) -> str | None:
    """Read the complete lines of ``head`` as a file of ``name``: the reader's refusal, or ``None`` if it
    still matches a format the kit knows (``"not checked"`` for archives and binary formats)."""
    if filename.lower().endswith(_NOT_TEXT):
        return "not checked (archive or binary file)"
    complete = head[: head.rfind(b"\n") + 1] if b"\n" in head else head
    with tempfile.TemporaryDirectory(prefix="eig-head-") as folder:
        path = Path(folder) / (Path(filename).name or "head.csv")
        path.write_bytes(complete)
        try:
            read(name, path)
        except DataError as error:
            return str(error).replace(str(path), filename)
        except Exception as error:  # a reader tripping on an unknown layout is a format change too
            return f"{type(error).__name__}: {error}".replace(str(path), filename)
    return None
