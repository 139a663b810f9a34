"""Verified, cached, offline-capable loaders for the défis' open data (data.gouv.fr).

Public API (``from eigkit import data``):

- ``data.datasets()`` -> DataFrame of the catalogue: name, title, publisher, datagouv_dataset, url, licence,
  years, has_sample, sample_kind (``real`` / ``synthetic`` / ``real 2018; synthetic 2019``), sample_years,
  format.
- ``data.load(name, *, year=None, source="remote"|"cache"|"sample", refresh=False, **filters)`` -> DataFrame.
  Filters: ``year=2018`` or ``years=[2018, 2019]`` (BAAC tables, sdis.interventions, secmar.operations,
  ccomptes.publications); ``dep="59"`` or ``departements=["2A", "971"]`` (baac.caracteristiques, radars,
  sdis.interventions, secmar.operations, geo.departements). Unknown filters raise DataError.
- ``data.read(name, path)`` -> DataFrame: parse + normalise ONE file as published (no network).
- ``data.fetch(name, *, year=None, refresh=False)`` -> Path of the verified download in the cache.
- ``data.cached_file(name, *, year=None)`` -> Path of the verified cached file (never touches the network);
  ``data.sample_files(name)`` -> the embedded sample files; ``data.published_years(name)`` -> the years
  data.gouv.fr lists today (asked of the API, never hard-coded).
- Any data.gouv.fr dataset: ``data.datagouv_dataset(id_or_slug)`` -> ``RemoteDataset`` (title, publisher,
  ``resources``; ``.pick(id_or_title)``); ``data.download_head(url, path, lines=n)`` -> ``Head`` (only the
  header and the first ``n`` lines are downloaded); ``data.sniff_csv(path)`` -> ``(CsvFormat, text)``
  (encoding and separator of a CSV as published).
- ``data.labels(family, column)`` -> ``{code: label}``: ``labels("baac", "grav")`` (ONISR codebook; codes are
  canonical strings as the loaders write them: ``frame["grav"].map(data.labels("baac", "grav"))``),
  ``labels("secmar", "evenement")`` (SECMAR code tables). ``data.label_of(family, column, code)`` for
  one code.
- ``data.load("geo.departements")`` / ``"geo.regions"`` return GeoDataFrames (``code``, ``nom``,
  ``outre_mer``, ``geometry`` in EPSG:4326; the ``geo`` extra installs geopandas); ``eigkit.maps`` draws them.
- ``data.DataError`` (a ValueError): every refusal, with the file, the column and what to do.

Datasets: baac.caracteristiques, baac.lieux, baac.vehicules, baac.usagers, radars, sdis.interventions,
secmar.operations, secmar.flotteurs, secmar.resultats_humain, secmar.operations_stats, geo.departements,
geo.regions, ccomptes.publications. Samples of baac.caracteristiques and baac.usagers are SYNTHETIC (see
``samples/PROVENANCE.md``); all other samples are real extracts.

Environment: ``EIG_DATA_DIR`` (cache folder; a read-only one still serves loads), ``EIG_DATA_LOCK`` (lock
file; default ``<workspace>/data.lock``), ``EIG_DATAGOUV_API`` (API v1 base URL), ``EIG_DATA_TIMEOUT``
(seconds), ``EIG_DATA_USAGE`` (usage log).

Modules, in the order data flows: ``registry`` (the catalogue table) -> ``loading`` (decides: sample, cache or
remote) -> ``remote`` (API and verified download) -> ``cache`` (stores and verifies files and parquet tables)
-> ``lock`` (records ``data.lock``) -> ``readers`` (which reader parses a family: ``baac``, ``radars``, ...)
-> ``frames`` (cached Arrow tables to one frame).
"""

from __future__ import annotations

from eigkit.data.labels import label_of, labels
from eigkit.data.loading import cached_file, fetch, load, published_years, read, sample_files
from eigkit.data.registry import datasets
from eigkit.data.remote import Head, RemoteDataset, Resource, download_head
from eigkit.data.remote import dataset as datagouv_dataset
from eigkit.data.sniff import CsvFormat
from eigkit.data.sniff import sniff as sniff_csv
from eigkit.errors import DataError

__all__ = [
    "CsvFormat", "DataError", "Head", "RemoteDataset", "Resource", "cached_file", "datagouv_dataset",
    "datasets", "download_head", "fetch", "label_of", "labels", "load", "published_years",
    "read", "sample_files", "sniff_csv",
]  # fmt: skip
