"""eigkit.spatial and eigkit.maps: time-consistent nearest cameras per territory in projected CRS, equal to a
brute-force haversine search on the embedded samples; choropleths with overseas and Île-de-France insets."""

from __future__ import annotations

import contextlib
import io
import math
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from eigkit import data, spatial
from eigkit.data.errors import DataError
from eigkit.maps import choropleth
from eigkit.spatial import area_km2, nearest, points_around, projected_crs, territory_of

# Haversine (sphere of mean radius) against ellipsoidal projected distances: the sphere is off by up to 0.5 %,
# Lambert-93's scale by up to 0.3 % in metropolitan France (UTM overseas: 0.04 %). Tolerance: 1 % + 1 m.
RELATIVE_TOLERANCE = 0.01
EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1: float, lon1: float, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    lat2, lon2 = np.asarray(lat2, dtype=float), np.asarray(lon2, dtype=float)
    phi1, phi2 = math.radians(lat1), np.radians(lat2)
    a = (
        np.sin((phi2 - phi1) / 2) ** 2
        + math.cos(phi1) * np.cos(phi2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))


def camera(identifier: int, lat: float, lon: float, installed: str, dep: str = "31") -> dict:
    return {"id": identifier, "lat": lat, "long": lon, "dep": dep,
            "date_installation": pd.Timestamp(installed, tz="UTC")}  # fmt: skip


def test_a_camera_installed_after_the_accident_is_not_matched_to_it():
    cameras = pd.DataFrame(
        [
            camera(1, 43.6000, 1.4400, "2019-06-02"),  # 100 m from the accidents, installed on 2 June 2019
            camera(2, 43.6500, 1.4400, "2010-01-01"),  # about 5.5 km away, in service long before
        ]
    ).set_index("id")
    accidents = pd.DataFrame(
        {
            "lat": [43.6009, 43.6009, 43.6009],
            "long": [1.4400, 1.4400, 1.4400],
            "dep": ["31", "31", "31"],
            "datetime": pd.to_datetime(["2019-06-01 23:50", "2019-06-02 08:00", "2020-01-01 12:00"]),
        }
    )
    found = nearest(accidents, cameras, date="datetime", since="date_installation")
    assert found["target"].tolist() == [2, 1, 1]
    assert found["distance_km"].iloc[0] == pytest.approx(haversine_km(43.6009, 1.44, 43.65, 1.44), rel=0.01)
    assert found["distance_km"].iloc[1] == pytest.approx(0.1, abs=0.002)
    undated = nearest(accidents, cameras)  # without the date rule the future camera wins
    assert undated["target"].tolist() == [1, 1, 1]


def test_points_never_meet_targets_of_another_territory():
    cameras = pd.DataFrame([camera(7, -21.1, 55.5, "2010-01-01", dep="974")]).set_index("id")
    accidents = pd.DataFrame(
        {"lat": [-12.78, -21.11, np.nan], "long": [45.23, 55.51, 55.5], "dep": ["976", "974", "974"],
         "datetime": pd.to_datetime(["2019-05-01"] * 3)}
    )  # fmt: skip
    found = nearest(accidents, cameras, date="datetime", since="date_installation")
    assert np.isnan(found["distance_km"].iloc[0]) and pd.isna(found["target"].iloc[0])  # Mayotte: none
    assert found["target"].iloc[1] == 7 and found["distance_km"].iloc[1] < 2
    assert np.isnan(found["distance_km"].iloc[2])  # no coordinates
    assert territory_of("2A") == "metropole" and territory_of("976") == "976"


def test_nearest_asks_for_both_dates_or_none():
    frame = pd.DataFrame({"lat": [45.0], "long": [1.0], "dep": ["19"]})
    with pytest.raises(DataError, match="both"):
        nearest(frame, frame, date="datetime")
    with pytest.raises(DataError, match="no column datetime"):
        nearest(frame, frame, date="datetime", since="datetime")


def test_distances_equal_a_brute_force_haversine_search_on_the_samples():
    accidents = data.load("baac.caracteristiques", source="sample").dropna(subset=["lat", "long"])
    accidents = accidents.reset_index(drop=True)
    cameras = data.load("radars", source="sample").set_index("id")
    found = nearest(accidents, cameras, date="datetime", since="date_installation")
    installed = cameras["date_installation"].dt.tz_localize(None).dt.normalize()
    territories = cameras["dep"].astype(str).map(territory_of)
    compared = 0
    for row in accidents.itertuples():
        usable = (territories == territory_of(row.dep)) & (installed <= row.datetime.normalize())
        if not usable.any():
            assert np.isnan(found.loc[row.Index, "distance_km"])
            continue
        distances = haversine_km(row.lat, row.long, cameras.loc[usable, "lat"], cameras.loc[usable, "long"])
        order = np.argsort(distances)
        best = float(distances[order[0]])
        assert found.loc[row.Index, "distance_km"] == pytest.approx(best, rel=RELATIVE_TOLERANCE, abs=1e-3)
        clear = len(order) == 1 or distances[order[1]] > best * (1 + 2 * RELATIVE_TOLERANCE) + 2e-3
        if clear:  # the same camera, unless two are closer to each other than the tolerance
            assert found.loc[row.Index, "target"] == cameras.index[usable][order[0]]
        compared += 1
    assert compared >= 100  # not vacuous: the samples hold hundreds of located accidents


def _projected_xy(frame: pd.DataFrame, crs: str) -> tuple[np.ndarray, np.ndarray]:
    import geopandas

    points = geopandas.points_from_xy(frame["long"], frame["lat"], crs="EPSG:4326").to_crs(crs)
    return np.asarray(points.x), np.asarray(points.y)


@pytest.mark.parametrize(
    ("cells", "per_epoch"),
    [(spatial.SEARCH_CELLS, spatial.POINTS_PER_EPOCH_JOIN), (1, 10**9), (spatial.SEARCH_CELLS, 0)],
    ids=["as-shipped", "searched-one-point-at-a-time", "joined-per-epoch"],
)
def test_the_nearest_camera_in_service_is_the_one_a_search_of_every_camera_in_service_finds(
    cells, per_epoch, monkeypatch
):
    """Exactly what trying every camera in service on the accident's day gives, in the territory's projected
    metres: the same camera (ties: the one listed first) and the same distance. On the real samples, where the
    nearest camera of the whole published park was often installed after the accident (those are searched, in
    blocks of ``cells`` distances, or joined per epoch)."""
    monkeypatch.setattr(spatial, "SEARCH_CELLS", cells)
    monkeypatch.setattr(spatial, "POINTS_PER_EPOCH_JOIN", per_epoch)
    accidents = data.load("baac.caracteristiques", source="sample").dropna(subset=["lat", "long"])
    accidents = accidents[~((accidents["lat"] == 0) & (accidents["long"] == 0))].reset_index(drop=True)
    cameras = data.load("radars", source="sample").set_index("id")
    found = nearest(accidents, cameras, date="datetime", since="date_installation")
    installed = cameras["date_installation"].dt.tz_localize(None).dt.normalize().to_numpy()
    camera_territory = cameras["dep"].astype(str).map(territory_of).to_numpy()
    compared = later_nearest = 0
    for territory, group in accidents.groupby(accidents["dep"].astype(str).map(territory_of)):
        mine = camera_territory == territory
        if not mine.any():
            assert found.loc[group.index, "distance_km"].isna().all()
            continue
        px, py = _projected_xy(group, projected_crs(territory))
        cx, cy = _projected_xy(cameras[mine], projected_crs(territory))
        dx, dy = px[:, None] - cx[None, :], py[:, None] - cy[None, :]
        metres = np.sqrt(dx * dx + dy * dy)  # as GEOS measures: near-ties fall the same way to the last bit
        days = group["datetime"].dt.normalize().to_numpy()
        in_service = np.isnat(installed[mine])[None, :] | (installed[mine][None, :] <= days[:, None])
        later_nearest += int((~in_service[np.arange(len(group)), metres.argmin(axis=1)]).sum())
        metres[~in_service] = np.inf
        best = metres.argmin(axis=1)  # the first of equal distances: the camera listed first
        for row, label in enumerate(group.index):
            if np.isinf(metres[row, best[row]]):
                assert pd.isna(found.loc[label, "target"])
                continue
            assert found.loc[label, "target"] == cameras.index[mine][best[row]]
            assert found.loc[label, "distance_km"] == pytest.approx(metres[row, best[row]] / 1000, abs=1e-6)
            compared += 1
    assert compared >= 100 and later_nearest >= 10  # both ways through nearest() are taken


def test_of_two_cameras_at_one_place_the_first_listed_in_service_wins():
    cameras = pd.DataFrame(
        [
            camera(1, 43.60, 1.44, "2019-06-02"),
            camera(2, 43.60, 1.44, "2010-01-01"),
            camera(3, 43.60, 1.44, "2010-01-01"),
        ]
    ).set_index("id")
    accidents = pd.DataFrame(
        {"lat": [43.601] * 2, "long": [1.44] * 2, "dep": ["31"] * 2,
         "datetime": pd.to_datetime(["2019-06-01 12:00", "2019-06-02 12:00"])}
    )  # fmt: skip
    found = nearest(accidents, cameras, date="datetime", since="date_installation")
    assert found["target"].tolist() == [2, 1]


def test_dates_far_ahead_unreadable_dates_near_ties_and_tuple_labels():
    """Found by an attack on nearest(): an installation in 9999 is not in service (nanoseconds wrap past
    2262), an unreadable accident date counts as missing, a near-tie falls as in the join
    (GEOS's distance formula, to the last bit) whatever other cameras exist; MultiIndex labels stay whole."""
    paris = {"dep": "75", "date": pd.to_datetime(["2020-06-01"])}
    far_ahead = pd.DataFrame(
        {
            "lat": [48.85, 48.90],
            "long": [2.35, 2.35],
            "dep": "75",
            "since": pd.to_datetime(["9999-12-31", "2015-01-01"]),
        },
        index=["near", "far"],
    )
    found = nearest(
        pd.DataFrame({"lat": [48.851], "long": [2.35], **paris}), far_ahead, date="date", since="since"
    )
    assert found["target"].tolist() == ["far"]

    unreadable = pd.DataFrame({"lat": [48.851], "long": [2.35], "dep": "75", "date": [""]})
    found = nearest(unreadable, far_ahead, date="date", since="since")
    assert pd.isna(found["target"].iloc[0]) and np.isnan(found["distance_km"].iloc[0])

    cameras = pd.DataFrame(
        {
            "long": [2.3627, 2.36353813856942, 2.3501],
            "lat": [48.8531, 48.850167650796244, 48.85],
            "dep": "75",
            "since": pd.to_datetime(["2010-01-01", "2010-01-01", "2030-01-01"]),
        },
        index=["A", "B", "C"],
    )
    accident = pd.DataFrame({"long": [2.35], "lat": [48.85], **paris})
    with_c = nearest(accident, cameras, date="date", since="since")
    assert with_c["target"].tolist() == nearest(accident, cameras.drop("C"))["target"].tolist() == ["A"]

    cameras.index = pd.MultiIndex.from_tuples([("paris", 1), ("paris", 2), ("paris", 3)])
    assert nearest(accident, cameras, date="date", since="since")["target"].tolist() == [("paris", 1)]


def test_reference_points_are_seeded_and_within_the_radius():
    accidents = data.load("baac.caracteristiques", source="sample").dropna(subset=["lat", "long"])
    first = points_around(accidents.head(50), radius_km=5, draws=4, seed=3)
    again = points_around(accidents.head(50), radius_km=5, draws=4, seed=3)
    pd.testing.assert_frame_equal(first, again)
    assert len(first) == 200 and (first["num_acc"].to_numpy()[::4] == accidents.head(50)["num_acc"]).all()
    origin = accidents.head(50).loc[accidents.head(50).index.repeat(4)]
    pairs = zip(origin["lat"], origin["long"], first["lat"], first["long"], strict=True)
    moved = [haversine_km(a, b, np.array([c]), np.array([d]))[0] for a, b, c, d in pairs]
    assert max(moved) <= 5 * (1 + RELATIVE_TOLERANCE) and np.median(moved) > 2


def test_areas_in_projected_crs():
    areas = area_km2(data.load("geo.departements", source="sample"))
    # INSEE: Paris 105 km², Gironde 9,976 km², Mayotte 374 km², Guyane 83,534 km² (simplified outlines: 2 %)
    for code, expected in {"75": 105, "33": 9976, "976": 374, "973": 83534}.items():
        assert areas[code] == pytest.approx(expected, rel=0.02)


def test_choropleth_has_overseas_and_ile_de_france_insets():
    areas = data.load("geo.departements", source="sample")
    counts = data.load("baac.caracteristiques", source="sample")["dep"].astype(str).value_counts()
    figure, ax = plt.subplots()
    drawn = choropleth(ax, areas, counts, label="accidents")
    assert set(drawn) == {"metropole", "971", "972", "973", "974", "976", "ile-de-france"}
    assert drawn["976"].get_title() == "Mayotte"
    drawn_areas = sum(
        len(collection.get_paths()) for collection in ax.collections
    )  # valued + missing (hatched)
    assert drawn_areas >= 96  # every metropolitan département drawn (Lambert-93)
    xmin, xmax = drawn["ile-de-france"].get_xlim()
    assert xmax - xmin < 60_000, "the Île-de-France inset is zoomed on Paris and the petite couronne (metres)"
    figure.canvas.draw()  # colours are mapped from the values when the figure is drawn (shown)
    colours = {tuple(colour) for colour in ax.collections[0].get_facecolors()}
    assert len(colours) > 5
    plt.close(figure)


def test_a_choropleth_is_rendered_once_when_shown_and_looks_as_if_drawn_after_each_plot(
    monkeypatch: pytest.MonkeyPatch,
):
    """geopandas ends each plot with ``canvas.draw_idle()``: seven full renders of a map with insets before
    it is shown. choropleth keeps only the render that shows it; the picture is the same as when the figure
    was also rendered after each plot (what a figure's later draws may depend on)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    areas = data.load("geo.departements", source="sample")
    counts = data.load("baac.caracteristiques", source="sample")["dep"].astype(str).value_counts()
    plt.rcParams["svg.hashsalt"] = "eig"

    def svg(draw_after_each_plot: bool) -> bytes:
        figure, ax = plt.subplots()
        renders = []
        real_draw = FigureCanvasAgg.draw
        monkeypatch.setattr(FigureCanvasAgg, "draw", lambda canvas: renders.append(1) or real_draw(canvas))
        if draw_after_each_plot:  # what the drawing did before: a render at the end of each geopandas plot
            monkeypatch.setattr("eigkit.maps._one_draw_at_the_end", lambda figure: contextlib.nullcontext())
        choropleth(ax, areas, counts, label="accidents")
        assert len(renders) >= 7 if draw_after_each_plot else not renders
        assert "draw_idle" not in vars(figure.canvas)
        figure.tight_layout(rect=(0, 0.04, 1, 1))  # as show_figure lays it out
        image = io.BytesIO()
        figure.savefig(image, format="svg", metadata={"Date": None})
        monkeypatch.undo()
        plt.close(figure)
        return image.getvalue()

    assert svg(draw_after_each_plot=False) == svg(draw_after_each_plot=True)


def test_geo_loader_returns_a_geodataframe_without_drawing_code():
    import geopandas

    areas = data.load("geo.departements", source="sample", departements=["2A", "971"])
    assert isinstance(areas, geopandas.GeoDataFrame) and areas.crs == "EPSG:4326"
    assert list(areas.columns) == ["code", "nom", "outre_mer", "geometry"]
    assert areas.set_index("code")["outre_mer"].to_dict() == {"2A": False, "971": True}
    assert not hasattr(data, "plot_choropleth")


def test_without_the_geo_extra_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch):
    from eigkit.data.registry import SAMPLES_DIR

    monkeypatch.setitem(sys.modules, "geopandas", None)  # import geopandas now raises ImportError
    outlines = SAMPLES_DIR / "geo" / "departements-version-simplifiee.geojson"
    with pytest.raises(DataError, match=r"eig-kit\[geo\]"):
        data.read("geo.departements", outlines)
    points = pd.DataFrame({"lat": [45.0], "long": [1.0], "dep": ["19"]})
    with pytest.raises(DataError, match=r"eig-kit\[geo\]"):
        nearest(points, points)
