"""Distances on French territory with geopandas/shapely, in each territory's own projected CRS.

Metropolitan France (Corsica included) is measured in Lambert-93 (EPSG:2154); each overseas territory in its
legal projection (UTM zones of RGAF09, RGFG95, RGR92, RGM04, ...). A point is matched only with targets of its
own territory: an accident in Mayotte is never paired with a camera 1,400 km away in La Réunion, it has no
nearest camera (NaN) when its territory has none.

:func:`nearest` finds, for each point, the nearest target, optionally only among targets already in service at
the point's date (``since`` column: a camera installed after an accident is not matched to it).
:func:`points_around` draws seeded random points around given points, a reference for "near a target" shares.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from eigkit.data.errors import DataError

__all__ = [
    "METROPOLE",
    "TERRITORY_CRS",
    "area_km2",
    "nearest",
    "points_around",
    "projected_crs",
    "territory_of",
]

WGS84 = "EPSG:4326"
METROPOLE = "metropole"
SEARCH_CELLS = 2_000_000  # point-target distances computed at once by the search (16 MB per array)
POINTS_PER_EPOCH_JOIN = 300  # above this many points per group seeing the same targets, a join per group wins
#: projected CRS per territory (INSEE code of the département or collectivité; "metropole" for the rest)
TERRITORY_CRS = {
    METROPOLE: "EPSG:2154",  # RGF93 v1 / Lambert-93
    "971": "EPSG:5490",  # RGAF09 / UTM 20N (Guadeloupe)
    "972": "EPSG:5490",  # RGAF09 / UTM 20N (Martinique)
    "973": "EPSG:2972",  # RGFG95 / UTM 22N (Guyane)
    "974": "EPSG:2975",  # RGR92 / UTM 40S (La Réunion)
    "975": "EPSG:4467",  # RGSPM06 / UTM 21N (Saint-Pierre-et-Miquelon)
    "976": "EPSG:4471",  # RGM04 / UTM 38S (Mayotte)
    "977": "EPSG:5490",  # RGAF09 / UTM 20N (Saint-Barthélemy)
    "978": "EPSG:5490",  # RGAF09 / UTM 20N (Saint-Martin)
    "986": "EPSG:8903",  # RGWF96 / UTM 1S (Wallis-et-Futuna)
    "987": "EPSG:3297",  # RGPF / UTM 6S (Polynésie française)
    "988": "EPSG:3163",  # RGNC91-93 / Lambert Nouvelle-Calédonie
}


def territory_of(code: Any) -> str:
    """The territory of a département code: the code itself overseas (``"974"``), else ``"metropole"``."""
    text = str(code)
    return text if text in TERRITORY_CRS else METROPOLE


def projected_crs(territory: str) -> str:
    """The projected CRS in which distances of ``territory`` are measured (metres)."""
    try:
        return TERRITORY_CRS[territory]
    except KeyError:
        raise DataError(
            f"No projected CRS for territory {territory!r}; known: {', '.join(sorted(TERRITORY_CRS))}."
        ) from None


def _geopandas() -> Any:
    try:
        import geopandas
    except ImportError as error:
        raise DataError("Distances need geopandas: pip install 'eig-kit[geo]'.") from error
    return geopandas


def _projected(frame: pd.DataFrame, lon: str, lat: str, crs: str) -> Any:
    geopandas = _geopandas()
    points = geopandas.points_from_xy(frame[lon].to_numpy(float), frame[lat].to_numpy(float), crs=WGS84)
    return geopandas.GeoDataFrame(index=frame.index, geometry=points).to_crs(crs)


def _days(values: pd.Series) -> np.ndarray:
    """Calendar days of timestamps (time-zone aware ones in their own zone) as ``datetime64[D]``: whole days
    compare exactly at any date (nanoseconds would wrap past 2262); what does not read as a date is NaT."""
    values = pd.to_datetime(values)
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_localize(None)
    return values.to_numpy().astype("datetime64[D]")


def nearest(
    points: pd.DataFrame,
    targets: pd.DataFrame,
    *,
    lon: str = "long",
    lat: str = "lat",
    territory: str = "dep",
    date: str | None = None,
    since: str | None = None,
) -> pd.DataFrame:
    """For each row of ``points``, the nearest row of ``targets`` in the same territory.

    Both frames hold WGS84 coordinates in ``lon``/``lat`` and a département code in ``territory``. With
    ``date``
    (a column of ``points``) and ``since`` (a column of ``targets``), only targets whose ``since`` day is on
    or
    before the point's day compete (a missing ``since`` counts as always in service). Returns a frame indexed
    like ``points`` with ``target`` (the index label of the nearest target, NA when none) and ``distance_km``
    (NaN when the territory has no target in service, or the point has no coordinates or date). Ties go to the
    target listed first.
    """
    if (date is None) != (since is None):
        raise DataError("nearest(): give both date= (points) and since= (targets), or neither.")
    for frame, columns, what in ((points, (lon, lat, territory, date), "points"),
                                 (targets, (lon, lat, territory, since), "targets")):  # fmt: skip
        missing = [column for column in columns if column is not None and column not in frame.columns]
        if missing:
            raise DataError(f"nearest(): {what} have no column {', '.join(missing)}.")
    result = pd.DataFrame(
        {"target": pd.Series(pd.NA, index=points.index, dtype="object"), "distance_km": np.nan},
        index=points.index,
    )
    usable = points[lon].notna() & points[lat].notna()
    if date is not None:
        point_days = pd.Series(_days(points[date]), index=points.index)
        usable &= point_days.notna()
    point_territory = points[territory].astype(str).map(territory_of)
    target_territory = targets[territory].astype(str).map(territory_of)
    targets = targets[targets[lon].notna() & targets[lat].notna()]
    for name, group in points[usable].groupby(point_territory[usable], sort=True):
        candidates = targets[target_territory.loc[targets.index] == name]
        if candidates.empty:
            continue
        crs = projected_crs(name)
        projected_points = _projected(group, lon, lat, crs)
        projected_targets = _projected(candidates, lon, lat, crs)
        found = _nearest_of(projected_points, projected_targets)
        if date is not None:
            started, point_day = _days(candidates[since]), point_days[group.index].to_numpy()
            # Where the nearest of all targets was in service on the point's day, no target in service is
            # nearer, nor as near and listed before it: one join serves most points. The others are searched.
            later = ~_in_service(found["order"].to_numpy(), started, point_day)
            if later.any():
                searched = _nearest_in_service(
                    projected_points[later], projected_targets, point_day[later], started
                )
                for column in ("target", "distance_km"):
                    found.loc[later, column] = searched[column].to_numpy()
        result.loc[found.index, "target"] = found["target"].to_numpy()
        result.loc[found.index, "distance_km"] = found["distance_km"].to_numpy()
    return result


def _in_service(order: np.ndarray, started: np.ndarray, point_day: np.ndarray) -> np.ndarray:
    """Whether each point's target (``order``: its position among the targets, NaN for none) was in service
    on the point's day (``started`` on or before it, or unknown)."""
    matched = ~pd.isna(order)
    target_day = np.full(len(order), np.datetime64("NaT"), dtype=started.dtype)
    target_day[matched] = started[order[matched].astype(int)]
    return matched & (np.isnat(target_day) | (target_day <= point_day))


def _nearest_in_service(
    points: Any, targets: Any, point_day: np.ndarray, started: np.ndarray
) -> pd.DataFrame:
    """For projected ``points``, the nearest of the projected ``targets`` in service on each point's day (the
    first listed of equal distances): one join per group of points that see the same targets in service when
    few groups hold many points (a large park installed on few days), else a search of every target."""
    days = np.unique(started[~np.isnat(started)])
    epoch = np.searchsorted(days, point_day, side="right")  # how many installation days are <= the point's
    epochs = np.unique(epoch)
    if len(points) > POINTS_PER_EPOCH_JOIN * len(epochs):
        return _by_epoch(points, targets, epoch, epochs, days, started)
    return _by_search(points, targets, point_day, started)


def _by_epoch(
    points: Any, targets: Any, epoch: np.ndarray, epochs: np.ndarray, days: np.ndarray, started: np.ndarray
) -> pd.DataFrame:
    """One nearest join per epoch: the points that see the same targets in service, on those targets."""
    found = pd.DataFrame({"target": pd.NA, "distance_km": np.nan}, index=points.index).astype(
        {"target": "object"}
    )
    for index in epochs:
        in_service = (np.isnat(started) | (started <= days[index - 1])) if index else np.isnat(started)
        if in_service.any():
            joined = _nearest_of(points[epoch == index], targets[in_service])
            for column in ("target", "distance_km"):
                found.loc[joined.index, column] = joined[column].to_numpy()
    return found


def _by_search(points: Any, targets: Any, point_day: np.ndarray, started: np.ndarray) -> pd.DataFrame:
    """Every target in service tried for every point, :data:`SEARCH_CELLS` distances at a time, each measured
    as GEOS measures it (so that near-ties fall as in the join)."""
    px, py = np.asarray(points.geometry.x), np.asarray(points.geometry.y)
    tx, ty = np.asarray(targets.geometry.x), np.asarray(targets.geometry.y)
    always = np.isnat(started)[None, :]
    step = max(1, SEARCH_CELLS // max(len(tx), 1))
    best = np.empty(len(px), dtype=int)
    metres = np.empty(len(px))
    for first in range(0, len(px), step):
        block = slice(first, first + step)
        dx, dy = px[block, None] - tx[None, :], py[block, None] - ty[None, :]
        distance = np.sqrt(dx * dx + dy * dy)
        distance[~(always | (started[None, :] <= point_day[block, None]))] = np.inf
        best[block] = distance.argmin(axis=1)  # the first of equal distances
        metres[block] = distance[np.arange(len(distance)), best[block]]
    found = np.isfinite(metres)
    labels = pd.Series(list(targets.index), dtype="object").to_numpy()  # tuples of a MultiIndex stay whole
    target = pd.Series(pd.NA, index=points.index, dtype="object")
    target[found] = labels[best[found]]
    return pd.DataFrame(
        {"target": target, "distance_km": np.where(found, metres / 1000, np.nan)}, index=points.index
    )


def _nearest_of(points: Any, targets: Any) -> pd.DataFrame:
    """sjoin_nearest of projected ``points`` on projected ``targets``: target label, its position in
    ``targets`` (``order``) and distance (km)."""
    geopandas = _geopandas()
    order = pd.RangeIndex(len(targets))
    right = geopandas.GeoDataFrame({"target_label": targets.index, "target_order": order},
                                   geometry=targets.geometry.to_numpy(), crs=targets.crs)  # fmt: skip
    joined = geopandas.sjoin_nearest(points[["geometry"]], right, how="left", distance_col="distance_m")
    joined = joined.sort_values("target_order", kind="stable")
    joined = joined[~joined.index.duplicated(keep="first")].reindex(points.index)  # ties: first listed
    return pd.DataFrame(
        {
            "target": joined["target_label"].to_numpy(dtype="object"),
            "order": joined["target_order"].to_numpy(),
            "distance_km": joined["distance_m"].to_numpy() / 1000,
        },
        index=points.index,
    )


def points_around(
    points: pd.DataFrame,
    radius_km: float,
    draws: int = 1,
    seed: int = 0,
    *,
    lon: str = "long",
    lat: str = "lat",
    territory: str = "dep",
) -> pd.DataFrame:
    """``draws`` random points uniformly in a disc of ``radius_km`` around each point, seeded.

    The result has the other columns of ``points`` repeated (dates, codes) and new ``lon``/``lat``, computed
    in
    each territory's projected CRS; points without coordinates are left out.
    """
    if radius_km <= 0 or draws < 1:
        raise DataError(f"points_around(): radius_km={radius_km} and draws={draws} must be positive.")
    rng = np.random.default_rng(seed)
    located = points[points[lon].notna() & points[lat].notna()]
    repeated = located.loc[located.index.repeat(draws)].reset_index(drop=True)
    distance = radius_km * 1000 * np.sqrt(rng.random(len(repeated)))
    angle = 2 * np.pi * rng.random(len(repeated))
    names = repeated[territory].astype(str).map(territory_of)
    for name in sorted(names.unique()):
        rows = (names == name).to_numpy()
        projected = _projected(repeated[rows], lon, lat, projected_crs(name))
        moved = (
            _geopandas()
            .GeoSeries.from_xy(
                projected.geometry.x + distance[rows] * np.cos(angle[rows]),
                projected.geometry.y + distance[rows] * np.sin(angle[rows]),
                crs=projected.crs,
            )
            .to_crs(WGS84)
        )
        repeated.loc[rows, lon] = moved.x.to_numpy()
        repeated.loc[rows, lat] = moved.y.to_numpy()
    return repeated


def area_km2(areas: Any, *, code: str = "code") -> pd.Series:
    """Area (km²) of each polygon of ``areas`` (a GeoDataFrame), measured in its territory's projected CRS.

    Returns a Series indexed by ``areas[code]``.
    """
    names = areas[code].astype(str).map(territory_of)
    surfaces = pd.Series(np.nan, index=areas.index)
    for name in sorted(names.unique()):
        rows = names == name
        surfaces[rows] = areas[rows].to_crs(projected_crs(name)).area.to_numpy() / 1e6
    return pd.Series(surfaces.to_numpy(), index=areas[code].astype(str).to_numpy(), name="surface_km2")
