"""Benchmark of ``eigkit.spatial.nearest`` with the installation-date rule, against one join per epoch.

    .venv/bin/python bench/bench_spatial.py [--points 55000] [--repeat 2]

Workload: the embedded real speed-camera park (2,577 located cameras, installation dates from 2003 on) and
``--points`` accidents (default: about one year of BAAC) drawn from the embedded real accident sample: each
real located accident repeated with its département and a date spread over 2013-2021, and its position moved
by up to 2 km (seeded), so that many accidents meet a camera installed after them.

Side by side, on the same frames, in one run:
- per epoch: what ``nearest`` did before, one ``geopandas.sjoin_nearest`` per territory and per group of
  accidents that see the same cameras in service (one group per installation day at most);
- ``nearest``: one join per territory, then, for the accidents whose nearest camera was installed after them,
  a search of the cameras in service (or one join per epoch, when few epochs hold many of them).
It checks that both give the same camera and distance for every accident, prints the times (best of
``--repeat``), then last ``ratio=<nearest / per epoch>``.
"""

from __future__ import annotations

import argparse
import time

import geopandas
import numpy as np
import pandas as pd

from eigkit import data
from eigkit.spatial import nearest, projected_crs, territory_of


def workload(points: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``points`` accidents built from the real sample, and the real camera park indexed by id."""
    rng = np.random.default_rng(seed)
    real = data.load("baac.caracteristiques", source="sample").dropna(subset=["lat", "long"])
    real = real[~((real["lat"] == 0) & (real["long"] == 0))].reset_index(drop=True)
    picked = real.iloc[rng.integers(0, len(real), points)].reset_index(drop=True)
    days = pd.Timestamp("2013-01-01") + pd.to_timedelta(rng.integers(0, 9 * 365, points), unit="D")
    accidents = pd.DataFrame(
        {
            "lat": picked["lat"].to_numpy(float) + rng.uniform(-0.018, 0.018, points),
            "long": picked["long"].to_numpy(float) + rng.uniform(-0.025, 0.025, points),
            "dep": picked["dep"].astype(str).to_numpy(),
            "datetime": days + pd.to_timedelta(rng.integers(0, 86_400, points), unit="s"),
        }
    )
    cameras = data.load("radars", source="sample").dropna(subset=["lat", "long"]).set_index("id")
    return accidents, cameras


def per_epoch(accidents: pd.DataFrame, cameras: pd.DataFrame) -> pd.DataFrame:
    """The earlier method: one nearest join per territory and per set of cameras in service."""
    result = pd.DataFrame({"target": pd.NA, "distance_km": np.nan}, index=accidents.index, dtype="object")
    started = cameras["date_installation"].dt.tz_localize(None).dt.normalize()
    camera_territory = cameras["dep"].astype(str).map(territory_of)
    for territory, group in accidents.groupby(accidents["dep"].astype(str).map(territory_of)):
        mine = cameras[camera_territory == territory]
        if mine.empty:
            continue
        crs = projected_crs(territory)
        left = geopandas.GeoDataFrame(
            index=group.index, geometry=geopandas.points_from_xy(group["long"], group["lat"], crs="EPSG:4326")
        ).to_crs(crs)
        right = geopandas.GeoDataFrame(
            {"label": mine.index, "order": range(len(mine))},
            geometry=geopandas.points_from_xy(mine["long"], mine["lat"], crs="EPSG:4326"),
        ).to_crs(crs)
        mine_started = started[mine.index].to_numpy()
        days = np.sort(pd.unique(mine_started[~pd.isna(mine_started)]))
        epoch = np.searchsorted(days, group["datetime"].dt.normalize().to_numpy(), side="right")
        for index in np.unique(epoch):
            in_service = pd.isna(mine_started) | ((index > 0) & (mine_started <= days[max(index - 1, 0)]))
            if not in_service.any():
                continue
            members = left[epoch == index]
            joined = geopandas.sjoin_nearest(members, right[in_service], how="left", distance_col="metres")
            joined = joined.sort_values("order", kind="stable")
            joined = joined[~joined.index.duplicated(keep="first")]
            result.loc[joined.index, "target"] = joined["label"].to_numpy()
            result.loc[joined.index, "distance_km"] = joined["metres"].to_numpy() / 1000
    return result


def best_time(function, repeat: int) -> tuple[float, pd.DataFrame]:
    """The best wall time of ``repeat`` calls, and the last result."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=55_000)
    parser.add_argument("--repeat", type=int, default=2)
    options = parser.parse_args()
    accidents, cameras = workload(options.points)
    new_s, found = best_time(
        lambda: nearest(accidents, cameras, date="datetime", since="date_installation"), options.repeat
    )
    old_s, expected = best_time(lambda: per_epoch(accidents, cameras), options.repeat)
    later = nearest(accidents, cameras)["target"].astype("object") != found["target"].astype("object")
    same_target = (found["target"].astype("object") == expected["target"].astype("object")) | (
        found["target"].isna() & expected["target"].isna()
    )
    close = np.isclose(found["distance_km"].astype(float), expected["distance_km"].astype(float), atol=1e-6)
    close |= found["distance_km"].isna() & expected["distance_km"].isna()
    if not (same_target.all() and close.all()):
        raise SystemExit(f"results differ for {int((~(same_target & close)).sum())} accidents")
    print(f"accidents={len(accidents)} cameras={len(cameras)} nearest_installed_later={int(later.sum())}")
    print(f"per_epoch_s={old_s:.2f} nearest_s={new_s:.2f} (same camera and distance for every accident)")
    print(f"ratio={new_s / old_s:.3f}")


if __name__ == "__main__":
    main()
