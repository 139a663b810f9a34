"""Choropleth maps of France with geopandas: metropolitan France in Lambert-93, the five overseas
départements in insets (each in its own projection and at its own scale), and an Île-de-France inset where
Paris and the petite couronne are readable.

``choropleth(ax, data.load("geo.departements", source="sample"), values)`` colours each département by
``values`` (a Series indexed by département code); one colour scale is shared by the map and its insets.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd

from eigkit.notebook import french_axis
from eigkit.spatial import METROPOLE, projected_crs

__all__ = ["ILE_DE_FRANCE", "OVERSEAS", "PETITE_COURONNE", "choropleth"]

#: overseas insets, top to bottom in the left margin of the map
OVERSEAS = ("971", "972", "973", "974", "976")
ILE_DE_FRANCE = ("75", "92", "93", "94", "77", "78", "91", "95")
PETITE_COURONNE = ("75", "92", "93", "94")
#: where the insets sit, in fractions of the main axes: (x0, y0, width, height)
OVERSEAS_BOXES = {code: (0.0, 0.80 - 0.19 * rank, 0.17, 0.17) for rank, code in enumerate(OVERSEAS)}
ILE_DE_FRANCE_BOX = (0.80, 0.62, 0.20, 0.30)
MISSING = {"color": "#e0e0e0", "hatch": "///", "edgecolor": "#9e9e9e", "linewidth": 0.2}


def choropleth(
    ax: Any,
    areas: Any,
    values: pd.Series | Mapping[str, float] | None,
    *,
    cmap: str = "OrRd",
    vmin: float | None = None,
    vmax: float | None = None,
    label: str | None = None,
    overseas: bool = True,
    ile_de_france: bool = True,
    fontsize: float = 6,
    decimals: int | None = None,
) -> dict[str, Any]:
    """Draw ``areas`` (a GeoDataFrame with ``code``) on ``ax``, coloured by ``values`` indexed by code.

    Areas without a value are hatched grey ("non disponible"). ``overseas`` adds the insets of 971-976 in
    the left margin, ``ile_de_france`` an inset of the eight Île-de-France départements (Paris and the petite
    couronne outlined) in the right margin. ``decimals``: of the colour bar's French tick labels (default:
    from the range of values). Returns the axes drawn on: ``{"metropole": ax, "971": ...,
    "ile-de-france": ...}``.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    lookup = pd.Series(values if values is not None else {}, dtype="float64")
    lookup.index = lookup.index.astype(str)
    shown = areas.assign(valeur=areas["code"].astype(str).map(lookup).astype("float64"))
    finite = shown["valeur"][np.isfinite(shown["valeur"])]
    norm = Normalize(
        vmin=vmin if vmin is not None else (float(finite.min()) if len(finite) else 0.0),
        vmax=vmax if vmax is not None else (float(finite.max()) if len(finite) else 1.0),
    )
    style = {"column": "valeur", "cmap": cmap, "norm": norm, "edgecolor": "white", "linewidth": 0.3,
             "missing_kwds": MISSING}  # fmt: skip
    with _one_draw_at_the_end(ax.figure):
        drawn = _draw_all(ax, shown, style, overseas=overseas, ile_de_france=ile_de_france, fontsize=fontsize)
    if label is not None or values is not None:
        colorbar = ax.figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.6, pad=0.01)
        colorbar.set_label(label or "", fontsize=fontsize + 1)
        colorbar.ax.tick_params(labelsize=fontsize)
        span = norm.vmax - norm.vmin
        places = decimals if decimals is not None else (0 if span >= 10 else 1 if span >= 1 else 2)
        french_axis(colorbar.ax, "y", decimals=places)
    return drawn


@contextlib.contextmanager
def _one_draw_at_the_end(figure: Any) -> Iterator[None]:
    """Keep geopandas from rendering the whole figure after each of its plots (it ends every ``plot`` with
    ``canvas.draw_idle()``, which the Agg canvas of a notebook executes at once): a map with its insets
    was rendered seven times before being displayed. The figure is drawn once, when it is shown."""
    canvas = figure.canvas
    own = vars(canvas).get("draw_idle")  # a draw_idle already set on this very canvas is put back after
    canvas.draw_idle = lambda *args, **kwargs: None
    try:
        yield
    finally:
        if own is None:
            del canvas.draw_idle
        else:
            canvas.draw_idle = own


def _draw_all(
    ax: Any, shown: Any, style: dict[str, Any], *, overseas: bool, ile_de_france: bool, fontsize: float
) -> dict[str, Any]:
    """Metropolitan France on ``ax``, then the overseas and Île-de-France insets; the axes drawn, by name."""
    drawn = {}
    metropole = shown[~shown["code"].isin(OVERSEAS) & ~shown["outre_mer"]].to_crs(projected_crs(METROPOLE))
    _draw(ax, metropole, style)
    _leave_margins(ax, metropole.total_bounds, overseas, ile_de_france)
    drawn[METROPOLE] = ax
    if overseas:
        for code in OVERSEAS:
            area = shown[shown["code"] == code]
            if area.empty:
                continue
            inset = ax.inset_axes(OVERSEAS_BOXES[code])
            _draw(inset, area.to_crs(projected_crs(code)), style)
            inset.set_title(str(area["nom"].iloc[0]), fontsize=fontsize, pad=1)
            drawn[code] = inset
    if ile_de_france and shown["code"].isin(PETITE_COURONNE).any():
        drawn["ile-de-france"] = _ile_de_france(ax, metropole, style, fontsize)
    return drawn


def _draw(ax: Any, frame: Any, style: dict[str, Any]) -> None:
    frame.plot(ax=ax, **style)
    ax.set_aspect("equal")
    ax.set_axis_off()


def _leave_margins(ax: Any, bounds: np.ndarray, overseas: bool, ile_de_france: bool) -> None:
    """Widen the map's limits so that the insets sit beside metropolitan France, not on it."""
    xmin, ymin, xmax, ymax = bounds
    width = xmax - xmin
    left = width * 0.30 if overseas else width * 0.02
    right = width * 0.30 if ile_de_france else width * 0.02
    ax.set_xlim(xmin - left, xmax + right)
    ax.set_ylim(ymin - (ymax - ymin) * 0.02, ymax + (ymax - ymin) * 0.02)


def _ile_de_france(ax: Any, metropole: Any, style: dict[str, Any], fontsize: float) -> Any:
    inset = ax.inset_axes(ILE_DE_FRANCE_BOX)
    region = metropole[metropole["code"].isin(ILE_DE_FRANCE)]
    _draw(inset, region, style)
    core = region[region["code"].isin(PETITE_COURONNE)]
    core.boundary.plot(ax=inset, color="#333333", linewidth=0.6)
    xmin, ymin, xmax, ymax = core.total_bounds
    margin = max(xmax - xmin, ymax - ymin) * 0.15
    inset.set_xlim(xmin - margin, xmax + margin)
    inset.set_ylim(ymin - margin, ymax + margin)
    for row in core.itertuples():
        point = row.geometry.representative_point()
        inset.annotate(row.code, (point.x, point.y), fontsize=fontsize, ha="center", va="center")
    inset.set_title("Paris et petite couronne", fontsize=fontsize, pad=1)
    inset.set_axis_on()
    inset.set(xticks=[], yticks=[], xlabel="", ylabel="")
    return inset
