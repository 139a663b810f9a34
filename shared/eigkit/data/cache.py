"""The download cache and the parquet cache of normalised tables.

Layout: ``<cache>/<dataset>/<year|all>/<file>`` plus ``download.json`` (url, size, sha256, file) and
``<file>.<sha256[:16]>.<normaliser version>.parquet``. ``<cache>`` is ``$EIG_DATA_DIR``, else
``<workspace>/data/raw``, else the user cache (``pooch.os_cache("eigkit")``). Writes are atomic
(temporary file
then rename) and downloads are serialised between processes with a file lock.
"""

from __future__ import annotations

import json
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from eigkit.data import lock
from eigkit.data.columns import code_order, concat_frames
from eigkit.data.errors import DataError
from eigkit.data.registry import Entry
from eigkit.paths import workspace_root

CACHE_ENV = "EIG_DATA_DIR"
META_FILE = "download.json"
NO_PARQUET = {"geo"}  # polygon rings do not round-trip through parquet; GeoJSON parses fast anyway


@dataclass(frozen=True)
class Download:
    """A verified file in the cache."""

    path: Path
    url: str
    size: int
    sha256: str


def cache_dir() -> Path:
    """The root of the cache."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    workspace = workspace_root()
    if workspace is not None:
        return workspace / "data" / "raw"
    import pooch

    return Path(pooch.os_cache("eigkit"))


def target_dir(item: Entry, year: int | None) -> Path:
    """Folder of the cached file of ``item``/``year``."""
    return cache_dir() / item.name / (str(year) if year is not None else "all")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "wb") as stream:
        stream.write(data)
    os.replace(temporary, path)


def write_meta(folder: Path, download: Download) -> None:
    """Record what the cached file is (after it has been verified and moved in place)."""
    meta = {**asdict(download), "path": download.path.name}
    write_atomic(folder / META_FILE, json.dumps(meta, indent=2).encode("utf-8"))


def cached(item: Entry, year: int | None) -> Download | None:
    """The cached download of ``item``/``year`` as recorded (not yet re-verified), or None."""
    folder = target_dir(item, year)
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    path = folder / meta["path"]
    if not path.is_file():
        return None
    return Download(path=path, url=meta["url"], size=int(meta["size"]), sha256=meta["sha256"])


def verify(item: Entry, year: int | None, download: Download) -> None:
    """Re-hash the cached bytes; refuse a file altered since download or differing from ``data.lock``."""
    from eigkit.data.loading import file_sha256

    actual = file_sha256(download.path)
    if actual != download.sha256:
        where = f" --year {year}" if year is not None else ""
        raise DataError(
            f"{download.path}: the cached file was modified after its download (sha256 "
            f"{actual[:12]}... instead of "
            f"{download.sha256[:12]}...). Re-fetch it: `eig data fetch {item.name}{where} --refresh`."
        )
    lock.check(item.name, year, actual, download.path)


def _download(item: Entry, year: int | None, *, source: str, refresh: bool) -> Download:
    """The verified cached download of ``item``/``year`` (fetched first for ``source="remote"``)."""
    from eigkit.data import remote

    if source == "remote":
        download = remote.fetch(item, year, refresh=refresh)
    else:
        download = cached(item, year)
        if download is None:
            where = f" --year {year}" if year is not None else ""
            raise DataError(
                f"load({item.name!r}, source='cache'): no cached file for year {year} in "
                f"{cache_dir()}. Download "
                f"it with `eig data fetch {item.name}{where}` (or source='remote'), or use source='sample'."
            )
        verify(item, year, download)
    return download


def load_normalised(item: Entry, year: int | None, *, source: str, refresh: bool = False) -> pd.DataFrame:
    """The normalised table of ``item``/``year`` from the cache (``source="cache"``) or after a fetch."""
    return load_years(item, [year], source=source, refresh=refresh)


def load_years(item: Entry, years: list[int | None], *, source: str, refresh: bool = False) -> pd.DataFrame:
    """The normalised tables of ``item`` for ``years`` as one frame (concatenated in Arrow when cached)."""
    from eigkit.data.loading import read, record_usage

    def verified(year: int | None) -> Download:
        return _download(item, year, source=source, refresh=refresh)

    workers = max(1, min(4, os.cpu_count() or 1, len(years)))
    with ThreadPoolExecutor(max_workers=workers) as pool:  # hashing and Arrow's parquet reads free the GIL
        # verifying cached files only re-hashes them (one year per thread); downloads go one after the
        # other, data.lock being written after each
        downloads = list(pool.map(verified, years)) if source == "cache" else [verified(y) for y in years]
        for year, download in zip(years, downloads, strict=True):  # the usage log stays in year order
            record_usage(name=item.name, year=year, source=source, path=download.path, sha256=download.sha256,
                         url=download.url)  # fmt: skip
        if item.family in NO_PARQUET:
            return concat_frames([read(item.name, download.path) for download in downloads])
        tables = list(pool.map(lambda download: normalised_table(item, download), downloads))
    return tables_to_frame(tables)


def _restore_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Parquet gives empty categoricals object categories: make them ``str`` like a fresh read."""
    for column in frame.columns:
        dtype = frame[column].dtype
        if isinstance(dtype, pd.CategoricalDtype) and dtype.categories.dtype == object:
            categories = pd.Index([str(value) for value in dtype.categories], dtype="str")
            codes = frame[column].cat.codes.to_numpy()
            frame[column] = pd.Categorical.from_codes(codes, categories=categories)
    return frame


def _sorted_dictionaries(table: pa.Table) -> pa.Table:
    """Dictionaries (categories) of a multi-year table in code order (``'2'`` before ``'10'``), indices
    remapped; expects the chunks of each column to share one dictionary (``unify_dictionaries``)."""
    for index, field in enumerate(table.schema):
        column = table.column(index)
        if not pa.types.is_dictionary(field.type) or column.num_chunks == 0:
            continue
        dictionary = column.chunk(0).dictionary
        order = code_order(dictionary)
        if np.array_equal(order, np.arange(len(order))):
            continue
        position = np.empty(len(order), dtype=np.int32)
        position[order] = np.arange(len(order), dtype=np.int32)
        ordered = dictionary.take(pa.array(order))
        chunks = [
            pa.DictionaryArray.from_arrays(pc.take(pa.array(position), chunk.indices), ordered)
            for chunk in column.chunks
        ]
        table = table.set_column(index, field, pa.chunked_array(chunks, type=field.type))
    return table


def tables_to_frame(tables: list[pa.Table]) -> pd.DataFrame:
    """One pandas frame from the Arrow tables of several years (dictionaries unified, codes in order).

    Concatenating in Arrow avoids pandas' slow union of string categories; tables that do not fit one
    schema fall back to :func:`~eigkit.data.columns.concat_frames`.
    """
    if len(tables) == 1:
        return _restore_dtypes(tables[0].to_pandas(split_blocks=True))
    wide = pa.schema(
        [
            field.with_type(pa.dictionary(pa.int32(), field.type.value_type))
            if pa.types.is_dictionary(field.type)
            else field
            for field in tables[0].schema
        ],
        metadata=tables[0].schema.metadata,
    )
    try:
        table = pa.concat_tables([table.cast(wide) for table in tables], promote_options="permissive")
        table = _sorted_dictionaries(table.unify_dictionaries())
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, ValueError):
        return concat_frames([_restore_dtypes(table.to_pandas()) for table in tables])
    return _restore_dtypes(table.to_pandas(split_blocks=True))


def normalised_table(item: Entry, download: Download) -> pa.Table:
    """Read the parquet of the normalised table, or build it (keyed by raw sha256 + normaliser version)."""
    from eigkit.data.loading import READERS, read

    version = READERS[item.family].NORMALISER_VERSION
    parquet = download.path.with_name(f"{download.path.name}.{download.sha256[:16]}.{version}.parquet")
    if parquet.is_file():
        try:
            return pq.read_table(parquet)
        except (OSError, ValueError):
            parquet.unlink(missing_ok=True)  # a damaged cache entry is rebuilt, never trusted
    table = pa.Table.from_pandas(read(item.name, download.path), preserve_index=False)
    handle, temporary = tempfile.mkstemp(dir=parquet.parent, prefix=f".{parquet.name}.")
    os.close(handle)
    try:
        pq.write_table(table, temporary)
        os.replace(temporary, parquet)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return table


def normalised(item: Entry, download: Download) -> pd.DataFrame:
    """The normalised table of one cached download as a frame (parsed once, then read from parquet)."""
    if item.family in NO_PARQUET:
        from eigkit.data.loading import read

        return read(item.name, download.path)
    return tables_to_frame([normalised_table(item, download)])
