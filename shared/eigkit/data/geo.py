"""Département and région outlines as GeoDataFrames (geopandas), overseas included.

:func:`read` returns one row per area: ``code`` (INSEE code as text: ``"01"``, ``"2A"``, ``"971"``), ``nom``,
``outre_mer`` (True for 971-976) and ``geometry`` (Polygon or MultiPolygon, WGS84 longitude/latitude,
``crs`` EPSG:4326). Maps are drawn outside the data package, by :mod:`eigkit.maps`.

geopandas is an optional extra: ``pip install 'eig-kit[geo]'`` (the road-safety kind's workspace installs it).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eigkit.data.errors import DataError

NORMALISER_VERSION = "geo-2"
WGS84 = "EPSG:4326"


def _geopandas() -> Any:
    try:
        import geopandas
    except ImportError as error:  # the extra is not installed
        raise DataError(
            "The geo.* datasets are GeoDataFrames and need geopandas: install the kit with its `geo` extra "
            "(pip install 'eig-kit[geo]')."
        ) from error
    return geopandas


def read(table: str, path: Path) -> Any:
    """Parse a GeoJSON FeatureCollection whose features carry ``code`` and ``nom`` properties."""
    geopandas = _geopandas()
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        features = document["features"]
        if not isinstance(features, list):
            raise TypeError("'features' is not a list")
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(
            f"{path}: not a GeoJSON FeatureCollection ({error}). Download the file again."
        ) from error
    for index, feature in enumerate(features):
        properties = feature.get("properties") or {}
        if "code" not in properties or "nom" not in properties:
            raise DataError(
                f"{path}: feature {index} has no 'code'/'nom' property (found {sorted(properties)})."
            )
        kind = (feature.get("geometry") or {}).get("type")
        if kind not in ("Polygon", "MultiPolygon"):
            raise DataError(f"{path}: feature {properties['code']!r} has a {kind!r} geometry, not a polygon.")
    frame = geopandas.GeoDataFrame.from_features(features, crs=WGS84)
    frame = frame[["code", "nom", "geometry"]].copy()
    frame["code"] = frame["code"].astype(str).astype("str")
    frame["nom"] = frame["nom"].astype(str).astype("str")
    frame.insert(2, "outre_mer", frame["code"].str.startswith("97"))
    return frame.reset_index(drop=True)
