"""The data.gouv.fr side: API v1 (datasets, resources, years) and verified downloads into a staging folder.

- ``GET {api}/datasets/{id-or-slug}/`` (``api`` = ``$EIG_DATAGOUV_API``, default ``https://www.data.gouv.fr/api/1``)
  lists the resources; the registry's ``resource_pattern`` (with ``{year}``) picks one by title or file name,
  and tells which years are published.
- Only HTTPS is accepted, except plain HTTP to a loopback host (127.0.0.1, localhost, ::1: test servers);
  a redirect is checked before it is followed.
- A file is downloaded by pooch into a staging folder; pooch checks it against the checksum the API announced
  (``known_hash``), its size is checked, archives are extracted inside their folder only. Storing it in the
  cache and recording it in ``data.lock`` is the caller's job (:mod:`eigkit.data.loading`).
- ``$EIG_DATA_TIMEOUT`` (seconds, default 60) bounds every network wait.
"""

from __future__ import annotations

import logging
import os
import re
import tarfile
import warnings
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlparse

import requests

from eigkit.atomic import write_bytes
from eigkit.data.registry import Entry
from eigkit.errors import DataError

with warnings.catch_warnings():  # pooch imports tqdm.auto, which warns in a kernel without ipywidgets
    warnings.filterwarnings("ignore", message="IProgress not found")
    import pooch

API_ENV = "EIG_DATAGOUV_API"
DEFAULT_API = "https://www.data.gouv.fr/api/1"
TIMEOUT_ENV = "EIG_DATA_TIMEOUT"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz")
#: checksum types of the API -> hashlib names (pooch's ``known_hash`` prefixes); others (crc) are not checked
HASHES = {"sha1": "sha1", "sha2": "sha256", "sha256": "sha256", "md5": "md5"}
YEAR = r"(?P<year>(?:19|20)\d{2})"


@dataclass(frozen=True)
class Resource:
    """One file of a data.gouv.fr dataset, as the API describes it."""

    url: str
    filename: str
    title: str = ""
    id: str = ""
    format: str = ""
    filesize: int | None = None
    last_modified: str = ""
    checksum_type: str | None = None
    checksum_value: str | None = None

    @property
    def known_hash(self) -> str | None:
        """The announced checksum as pooch's ``known_hash`` (``"sha1:..."``), or None when unusable."""
        algorithm = HASHES.get((self.checksum_type or "").lower())
        return f"{algorithm}:{self.checksum_value}" if algorithm and self.checksum_value else None


@dataclass(frozen=True)
class RemoteDataset:
    """A data.gouv.fr dataset as the API describes it: title, publisher and its resources (files)."""

    id: str
    title: str
    publisher: str
    resources: list[Resource] = field(default_factory=list)

    def pick(self, resource: str = "", *, file_format: str = "csv") -> Resource:
        """The resource whose id or title is ``resource``; by default the first one in ``file_format``.

        :class:`DataError` listing the resources when none fits.
        """
        if resource:
            found = [item for item in self.resources if resource in (item.id, item.title)]
        else:
            found = [item for item in self.resources if item.format.lower() == file_format.lower()]
        if not found:
            listed = "; ".join(
                f"{item.title} ({item.format or '?'}, id {item.id})" for item in self.resources
            )
            wanted = f"id or title {resource!r}" if resource else f"format {file_format!r}"
            raise DataError(
                f"data.gouv.fr dataset {self.id!r}: no resource with {wanted}. Resources: "
                f"{listed or 'none'}. Pass one of these ids or titles."
            )
        return found[0]


@dataclass(frozen=True)
class Head:
    """The beginning of a remote file saved locally: where, how many complete lines, whether it is whole."""

    path: Path
    lines: int
    complete: bool


def api_base() -> str:
    """The data.gouv.fr API v1 base URL."""
    return os.environ.get(API_ENV, DEFAULT_API).rstrip("/")


def timeout() -> float:
    """Seconds to wait for the network."""
    return float(os.environ.get(TIMEOUT_ENV, "60"))


def check_url(url: str) -> None:
    """Refuse anything but HTTPS (plain HTTP only to a loopback test server)."""
    parsed = urlparse(url)
    if parsed.scheme == "https" or (parsed.scheme == "http" and parsed.hostname in LOOPBACK):
        return
    raise DataError(
        f"Refusing to download {url!r}: only https:// URLs are accepted (http only for loopback)."
    )


def refuse_insecure_redirect(response, *args, **kwargs) -> None:
    """``requests`` response hook: check a redirect's target with :func:`check_url` before it is followed
    (an https link must not lead to plain http)."""
    if response.is_redirect:
        target = urljoin(response.url, response.headers["Location"])
        try:
            check_url(target)
        except DataError as error:
            raise DataError(f"{response.url} redirects to {target}: {error}") from None


def way_out(name: str, year: int | None) -> str:
    """What to do without network, for dataset ``name``/``year``."""
    where = f" --year {year}" if year is not None else ""
    return (
        f"Work offline with source='sample' (embedded samples), or source='cache' once `eig data fetch "
        f"{name}{where}` has run on a connected machine."
    )


def get_json(url: str, *, advice: str) -> dict:
    """GET ``url`` as JSON; :class:`DataError` ending with ``advice`` when the network fails."""
    check_url(url)
    try:
        response = requests.get(url, timeout=timeout(), headers={"Accept": "application/json"},
                                hooks={"response": refuse_insecure_redirect})  # fmt: skip
    except requests.RequestException as error:
        raise DataError(
            f"Cannot reach the data.gouv.fr API ({url}): {type(error).__name__}. No network? {advice}"
        ) from error
    if response.status_code == 404:
        raise DataError(
            f"The data.gouv.fr API knows no {url}: copy the dataset's id or slug from the address of its "
            f"page on data.gouv.fr (or set {API_ENV})."
        )
    if response.status_code != 200:
        raise DataError(f"The data.gouv.fr API answered {response.status_code} for {url}: retry later.")
    try:
        return response.json()
    except ValueError as error:
        raise DataError(f"The data.gouv.fr API sent something that is not JSON for {url}.") from error


def _filename(url: str) -> str:
    return unquote(PurePosixPath(urlparse(url).path).name) or "download"


def _resource(document: dict) -> Resource:
    url = document.get("url") or document.get("latest") or ""
    checksum = document.get("checksum") or {}
    size = document.get("filesize")
    return Resource(
        url=url,
        filename=_filename(url),
        title=document.get("title") or "",
        id=str(document.get("id") or ""),
        format=str(document.get("format") or "").lower(),
        filesize=int(size) if size not in (None, "") else None,
        last_modified=str(document.get("last_modified") or ""),
        checksum_type=checksum.get("type"),
        checksum_value=checksum.get("value"),
    )


def dataset(identifier: str, *, advice: str = "") -> RemoteDataset:
    """The data.gouv.fr dataset ``identifier`` (its id, or its slug) with its resources."""
    document = get_json(f"{api_base()}/datasets/{identifier}/", advice=advice)
    organization = document.get("organization") or document.get("owner") or {}
    publisher = (
        organization.get("name")
        or " ".join(str(organization.get(key) or "") for key in ("first_name", "last_name")).strip()
    )
    return RemoteDataset(
        id=str(document.get("id") or identifier),
        title=str(document.get("title") or identifier),
        publisher=publisher,
        resources=[_resource(resource) for resource in document.get("resources", [])],
    )


def _pattern(item: Entry, year: int | str | None) -> re.Pattern:
    return re.compile(item.resource_pattern.replace("{year}", str(year or "")), re.IGNORECASE)


def _names(resource: Resource) -> list[str]:
    return [resource.title, resource.filename]


def published_years(item: Entry, remote: RemoteDataset | None = None) -> list[int]:
    """The years of ``item`` the dataset's resources hold today (asked of the API)."""
    remote = remote or dataset(item.datagouv_dataset, advice=way_out(item.name, None))
    pattern = _pattern(item, YEAR)
    found = {int(match.group("year")) for resource in remote.resources for name in _names(resource)
             if (match := pattern.search(name))}  # fmt: skip
    return sorted(found)


def resolve(item: Entry, year: int | None) -> Resource:
    """Which file to download for ``item``/``year``."""
    if item.url:
        return Resource(url=item.url, filename=_filename(item.url), title=item.title)
    remote = dataset(item.datagouv_dataset, advice=way_out(item.name, year))
    pattern = _pattern(item, year)
    candidates = [
        resource for resource in remote.resources if any(pattern.search(n) for n in _names(resource))
    ]
    if not candidates:
        titles = ", ".join(resource.title for resource in remote.resources[:20])
        years = published_years(item, remote) if item.by_year else []
        raise DataError(
            f"No resource of data.gouv.fr dataset {item.datagouv_dataset!r} matches {pattern.pattern!r} for "
            f"{item.name} {year or ''}. Resources: {titles}. "
            + (f"Years published today: {', '.join(map(str, years)) or 'none'}." if item.by_year else "")
        )
    chosen = max(candidates, key=lambda resource: resource.last_modified)
    from_url = chosen.filename
    looks_like_file = "." in from_url and (pattern.search(from_url) or from_url.lower().endswith(ARCHIVES))
    return replace(chosen, filename=from_url if looks_like_file else chosen.title or from_url)


def _downloader() -> pooch.HTTPDownloader:
    pooch.get_logger().setLevel(logging.WARNING)
    return pooch.HTTPDownloader(
        progressbar=False, timeout=timeout(), hooks={"response": refuse_insecure_redirect}
    )


def _network_error(url: str, error: requests.RequestException, advice: str) -> DataError:
    if isinstance(error, requests.HTTPError):
        status = error.response.status_code if error.response is not None else "?"
        return DataError(
            f"Download of {url} failed: HTTP {status}. The file may have moved: retry later or report it. "
            f"{advice}"
        )
    return DataError(
        f"Download of {url} failed ({type(error).__name__}: no network, or the server did not answer within "
        f"{timeout():g} s). {advice}"
    )


def download(resource: Resource, staging: Path, item: Entry, year: int | None) -> Path:
    """Download ``resource`` into ``staging``, checked against what the API announced (checksum through
    pooch's ``known_hash``, size), extracted when it is an archive; return the file of ``item``/``year``."""
    check_url(resource.url)
    try:
        path = Path(pooch.retrieve(resource.url, known_hash=resource.known_hash, fname=resource.filename,
                                   path=staging, downloader=_downloader()))  # fmt: skip
    except requests.RequestException as error:
        raise _network_error(resource.url, error, way_out(item.name, year)) from error
    except DataError:  # a refused redirect (a DataError is a ValueError too)
        raise
    except ValueError as error:  # pooch: the hash differs from the announced one
        raise DataError(
            f"Download of {resource.url} refused: its {resource.checksum_type} differs from the one the API "
            f"announced ({resource.checksum_value}). The file is corrupted: retry later (the cache was left "
            "unchanged)."
        ) from error
    size = path.stat().st_size
    if resource.filesize is not None and size != resource.filesize:
        raise DataError(
            f"Download of {resource.url} refused: {size} bytes received, the API announced "
            f"{resource.filesize}. The transfer was cut or the file is being replaced: retry later (the "
            "cache was left unchanged)."
        )
    if path.name.lower().endswith(ARCHIVES):
        return _pick_member(safe_extract(path, staging / "extracted"), item, year, path)
    return path


def download_head(url: str, target: Path, *, lines: int) -> Head:
    """Save the beginning of the file at ``url`` to ``target``: its header and ``lines`` complete lines
    after it (or the whole file when shorter). Only that beginning is downloaded."""
    check_url(url)
    chunks, ends = [], 0
    try:
        with requests.get(
            url, stream=True, timeout=timeout(), hooks={"response": refuse_insecure_redirect}
        ) as answer:
            answer.raise_for_status()
            for chunk in answer.iter_content(1 << 16):
                chunks.append(chunk)
                ends += chunk.count(b"\n")
                if ends > lines:
                    break
            complete = ends <= lines
    except requests.RequestException as error:
        raise _network_error(url, error, "Check the address, or retry later.") from error
    content = b"".join(chunks)
    if not complete:
        content = b"\n".join(content.split(b"\n", lines + 1)[: lines + 1]) + b"\n"
    write_bytes(target, content)
    return Head(path=target, lines=len(content.splitlines()) - 1 if complete else lines, complete=complete)


def safe_extract(archive: Path, target: Path) -> list[Path]:
    """Extract a zip or tar archive inside ``target``; refuse any member whose path escapes it."""
    target = target.resolve()
    target.mkdir(parents=True, exist_ok=True)

    def inside(name: str) -> Path:
        destination = (target / name).resolve()
        if destination != target and target not in destination.parents:
            raise DataError(f"{archive}: member {name!r} would be written outside {target}; archive refused.")
        return destination

    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            members = bundle.infolist()
            for member in members:
                inside(member.filename)
            bundle.extractall(target)
            return [inside(member.filename) for member in members if not member.is_dir()]
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as bundle:
            members = bundle.getmembers()
            for member in members:
                inside(member.name)
                if member.issym() or member.islnk() or not (member.isfile() or member.isdir()):
                    raise DataError(
                        f"{archive}: member {member.name!r} is a link or device; archive refused."
                    )
            bundle.extractall(target, filter="data")
            return [inside(member.name) for member in members if member.isfile()]
    raise DataError(f"{archive}: not a zip or tar archive although its name says so.")


def _pick_member(files: list[Path], item: Entry, year: int | None, archive: Path) -> Path:
    pattern = _pattern(item, year)
    matching = [path for path in files if pattern.search(path.name)] if item.resource_pattern else files
    if len(matching) != 1:
        raise DataError(
            f"{archive}: expected one member matching {pattern.pattern!r}, found "
            f"{[path.name for path in matching] or [path.name for path in files]}."
        )
    return matching[0]
