"""Remote resolution and verified download: data.gouv.fr API v1 -> resource of the year -> pooch -> cache.

- ``GET {api}/datasets/{id-or-slug}/`` (``api`` = ``$EIG_DATAGOUV_API``, default ``https://www.data.gouv.fr/api/1``)
  lists the resources; the registry's ``resource_pattern`` (with ``{year}``) picks one by title or file name.
- Only HTTPS is accepted, except plain HTTP to a loopback host (127.0.0.1, localhost, ::1: test servers);
  a redirect is checked before it is followed.
- The file is downloaded by pooch into a temporary folder beside its final place, its size and checksum are
  checked against what the API announced, archives are extracted inside their folder only, then the file is
  moved into the cache atomically and recorded in ``data.lock``. A failure leaves the cache as it was.
- ``$EIG_DATA_TIMEOUT`` (seconds, default 60) bounds every network wait.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urljoin, urlparse

from filelock import FileLock

from eigkit.data import cache, lock
from eigkit.data.errors import DataError
from eigkit.data.registry import Entry

API_ENV = "EIG_DATAGOUV_API"
DEFAULT_API = "https://www.data.gouv.fr/api/1"
TIMEOUT_ENV = "EIG_DATA_TIMEOUT"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
ARCHIVES = (".zip", ".tar", ".tar.gz", ".tgz")
HASHES = {"sha1": "sha1", "sha2": "sha256", "sha256": "sha256", "md5": "md5"}


@dataclass(frozen=True)
class Resource:
    """One file of a data.gouv.fr dataset, as the API describes it."""

    url: str
    filename: str
    title: str = ""
    filesize: int | None = None
    checksum_type: str | None = None
    checksum_value: str | None = None


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


def _way_out(item: Entry, year: int | None) -> str:
    where = f" --year {year}" if year is not None else ""
    return (
        f"Work offline with source='sample' (embedded samples), or source='cache' once `eig data fetch "
        f"{item.name}{where}` has run on a connected machine."
    )


def _get_json(url: str, item: Entry, year: int | None) -> dict:
    import requests

    check_url(url)
    try:
        response = requests.get(url, timeout=timeout(), headers={"Accept": "application/json"},
                                hooks={"response": refuse_insecure_redirect})  # fmt: skip
    except requests.RequestException as error:
        raise DataError(
            f"Cannot reach the data.gouv.fr API ({url}): {type(error).__name__}. No network? "
            f"{_way_out(item, year)}"
        ) from error
    if response.status_code != 200:
        raise DataError(
            f"The data.gouv.fr API answered {response.status_code} for {url}: check the dataset "
            f"{item.datagouv_dataset!r} of {item.name!r} still exists (or set {API_ENV})."
        )
    try:
        return response.json()
    except ValueError as error:
        raise DataError(f"The data.gouv.fr API sent something that is not JSON for {url}.") from error


def _filename(url: str) -> str:
    return unquote(PurePosixPath(urlparse(url).path).name) or "download"


def resolve(item: Entry, year: int | None) -> Resource:
    """Which file to download for ``item``/``year``."""
    if item.url:
        return Resource(url=item.url, filename=_filename(item.url), title=item.title)
    document = _get_json(f"{api_base()}/datasets/{item.datagouv_dataset}/", item, year)
    pattern = re.compile(item.resource_pattern.replace("{year}", str(year or "")), re.IGNORECASE)
    candidates = []
    for resource in document.get("resources", []):
        url = resource.get("url") or resource.get("latest") or ""
        names = [resource.get("title") or "", _filename(url)]
        if any(pattern.search(name) for name in names):
            candidates.append(resource)
    if not candidates:
        titles = ", ".join(str(resource.get("title")) for resource in document.get("resources", [])[:20])
        raise DataError(
            f"No resource of data.gouv.fr dataset {item.datagouv_dataset!r} matches {pattern.pattern!r} for "
            f"{item.name} {year or ''}. Resources: {titles}. Check the year (published: "
            f"{item.years or 'n/a'})."
        )
    chosen = max(candidates, key=lambda resource: str(resource.get("last_modified") or ""))
    checksum = chosen.get("checksum") or {}
    url = chosen.get("url") or chosen["latest"]
    title_name = chosen.get("title") or ""
    from_url = _filename(url)
    looks_like_file = "." in from_url and (pattern.search(from_url) or from_url.lower().endswith(ARCHIVES))
    filename = from_url if looks_like_file else title_name or from_url
    return Resource(
        url=url,
        filename=filename,
        title=title_name,
        filesize=int(chosen["filesize"]) if chosen.get("filesize") not in (None, "") else None,
        checksum_type=checksum.get("type"),
        checksum_value=checksum.get("value"),
    )


def _hash(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(resource: Resource, folder: Path, item: Entry, year: int | None) -> Path:
    import pooch
    import requests

    pooch.get_logger().setLevel(logging.WARNING)
    check_url(resource.url)
    downloader = pooch.HTTPDownloader(progressbar=False, timeout=timeout(),
                                      hooks={"response": refuse_insecure_redirect})  # fmt: skip
    try:
        return Path(pooch.retrieve(resource.url, known_hash=None, fname=resource.filename, path=folder,
                                   downloader=downloader))  # fmt: skip
    except requests.HTTPError as error:
        status = error.response.status_code if error.response is not None else "?"
        raise DataError(
            f"Download of {resource.url} failed: HTTP {status}"
            f". The file may have moved: retry later or report it. {_way_out(item, year)}"
        ) from error
    except requests.RequestException as error:
        raise DataError(
            f"Download of {resource.url} failed ({type(error).__name__}: no network, or the server "
            "did not answer "
            f"within {timeout():g} s). {_way_out(item, year)}"
        ) from error


def _check_announced(path: Path, resource: Resource) -> None:
    size = path.stat().st_size
    if resource.filesize is not None and size != resource.filesize:
        raise DataError(
            f"Download of {resource.url} refused: {size} bytes received, the API announced "
            f"{resource.filesize}. "
            "The transfer was cut or the file is being replaced: retry later (the cache was left unchanged)."
        )
    algorithm = HASHES.get((resource.checksum_type or "").lower())
    if algorithm and resource.checksum_value:
        actual = _hash(path, algorithm)
        if actual.lower() != resource.checksum_value.lower():
            raise DataError(
                f"Download of {resource.url} refused: its {resource.checksum_type} is {actual}, "
                "the API announced "
                f"{resource.checksum_value}. The file is corrupted: retry later (the cache was "
                "left unchanged)."
            )


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
    pattern = re.compile(item.resource_pattern.replace("{year}", str(year or "")), re.IGNORECASE)
    matching = [path for path in files if pattern.search(path.name)] if item.resource_pattern else files
    if len(matching) != 1:
        raise DataError(
            f"{archive}: expected one member matching {pattern.pattern!r}, found "
            f"{[path.name for path in matching] or [path.name for path in files]}."
        )
    return matching[0]


def fetch(item: Entry, year: int | None, *, refresh: bool = False) -> cache.Download:
    """Download (or reuse) the verified file of ``item``/``year``; serialised between processes."""
    folder = cache.target_dir(item, year)
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder / ".fetch.lock")):
        existing = cache.cached(item, year)
        if existing is not None and not refresh:
            cache.verify(item, year, existing)
            return existing
        resource = resolve(item, year)
        staging = Path(tempfile.mkdtemp(dir=folder, prefix=".download-"))
        try:
            downloaded = _download(resource, staging, item, year)
            _check_announced(downloaded, resource)
            if downloaded.name.lower().endswith(ARCHIVES):
                downloaded = _pick_member(
                    safe_extract(downloaded, staging / "extracted"), item, year, downloaded
                )
            from eigkit.data.loading import file_sha256

            sha256 = file_sha256(downloaded)
            if not refresh:
                lock.check(item.name, year, sha256, downloaded)
            final = folder / downloaded.name
            os.replace(downloaded, final)
            result = cache.Download(path=final, url=resource.url, size=final.stat().st_size, sha256=sha256)
            cache.write_meta(folder, result)
            lock.record(item.name, year, url=result.url, size=result.size, sha256=sha256, file=final.name)
            return result
        finally:
            shutil.rmtree(staging, ignore_errors=True)
