"""Département and région outlines for choropleth maps with matplotlib alone (no geopandas).

:func:`read` returns one row per area: ``code``, ``nom``, ``rings`` (a list of ``(n, 2)`` float arrays of
(longitude, latitude), the outer ring of every polygon), ``lon``/``lat`` (a representative point: the mean of
the largest ring's vertices) and ``outre_mer`` (True for 971-976). :func:`plot_choropleth` draws a frame;
overseas départements are moved into insets west of the Bay of Biscay by default.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from eigkit.data.errors import DataError

NORMALISER_VERSION = "geo-1"
#: where each overseas département is drawn by plot_choropleth(overseas="inset"): (lon, lat) of the box centre
INSETS = {
    "971": (-7.0, 47.6),
    "972": (-7.0, 46.4),
    "973": (-7.0, 45.2),
    "974": (-7.0, 44.0),
    "976": (-7.0, 42.8),
}
INSET_SIZE = 1.0


def read(table: str, path: Path) -> pd.DataFrame:
    """Parse a GeoJSON FeatureCollection whose features carry ``code`` and ``nom`` properties."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        features = document["features"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(
            f"{path}: not a GeoJSON FeatureCollection ({error}). Download the file again."
        ) from error
    rows = []
    for index, feature in enumerate(features):
        properties = feature.get("properties") or {}
        if "code" not in properties or "nom" not in properties:
            raise DataError(
                f"{path}: feature {index} has no 'code'/'nom' property (found {sorted(properties)})."
            )
        geometry = feature.get("geometry") or {}
        if geometry.get("type") == "Polygon":
            polygons = [geometry["coordinates"]]
        elif geometry.get("type") == "MultiPolygon":
            polygons = geometry["coordinates"]
        else:
            raise DataError(
                f"{path}: feature {properties['code']!r} has a {geometry.get('type')!r} geometry."
            )
        rings = [np.asarray(polygon[0], dtype="float64")[:, :2] for polygon in polygons]
        largest = max(rings, key=len)
        code = str(properties["code"])
        rows.append(
            {
                "code": code,
                "nom": str(properties["nom"]),
                "rings": rings,
                "lon": float(largest[:, 0].mean()),
                "lat": float(largest[:, 1].mean()),
                "outre_mer": code.startswith("97"),
            }
        )
    frame = pd.DataFrame(rows)
    frame["code"] = frame["code"].astype("str")
    frame["nom"] = frame["nom"].astype("str")
    return frame


def _inset(rings: list[np.ndarray], code: str) -> list[np.ndarray]:
    points = np.concatenate(rings)
    low, high = points.min(axis=0), points.max(axis=0)
    scale = INSET_SIZE / max(float((high - low).max()), 1e-9)
    centre = (low + high) / 2
    return [(ring - centre) * scale + np.asarray(INSETS[code]) for ring in rings]


def plot_choropleth(
    ax: Any,
    frame: pd.DataFrame,
    values: pd.Series | Mapping[str, float] | str | None = None,
    *,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    missing_color: str = "lightgrey",
    edgecolor: str = "white",
    linewidth: float = 0.3,
    overseas: str = "inset",
    colorbar: bool = True,
    label: str | None = None,
) -> Any:
    """Draw ``frame`` (from ``data.load("geo.departements")``) on ``ax``, coloured by ``values``.

    ``values``: a Series or mapping indexed by ``code`` (e.g. accidents per département), or the name of a
    column of ``frame``, or None (outlines only). ``overseas``: ``"inset"`` (boxes west of France), ``"keep"``
    (true positions) or ``"drop"``. Returns the matplotlib ``PolyCollection``.
    """
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import Normalize

    if overseas not in ("inset", "keep", "drop"):
        raise DataError(f"plot_choropleth: overseas={overseas!r}; use 'inset', 'keep' or 'drop'.")
    if isinstance(values, str):
        values = frame.set_index("code")[values]
    lookup = pd.Series(values, dtype="float64") if values is not None else pd.Series(dtype="float64")
    lookup.index = lookup.index.astype(str)
    polygons, colours = [], []
    finite = lookup[np.isfinite(lookup)]
    norm = Normalize(
        vmin=vmin if vmin is not None else (finite.min() if len(finite) else 0),
        vmax=vmax if vmax is not None else (finite.max() if len(finite) else 1),
    )
    colour_map = colormaps[cmap]
    for code, rings in zip(frame["code"], frame["rings"], strict=True):
        if code.startswith("97") and overseas == "drop":
            continue
        if code in INSETS and overseas == "inset":
            rings = _inset(rings, code)
        value = lookup.get(code, np.nan)
        colour = colour_map(norm(value)) if np.isfinite(value) else missing_color
        polygons.extend(rings)
        colours.extend([colour] * len(rings))
    collection = PolyCollection(polygons, facecolors=colours, edgecolors=edgecolor, linewidths=linewidth)
    ax.add_collection(collection)
    ax.autoscale_view()
    ax.set_aspect(1 / np.cos(np.radians(46.5)))
    ax.set_axis_off()
    if colorbar and values is not None:
        mappable = ScalarMappable(norm=norm, cmap=colour_map)
        ax.figure.colorbar(mappable, ax=ax, shrink=0.7, label=label)
    return collection
