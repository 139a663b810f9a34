# ruff: noqa: E501  (row literals of the published formats read best on one line each)
"""Write the SYNTHETIC BAAC sample files, deterministically (fixed seed).

Why: the real extracts at hand hold only the 2018 ``lieux`` and ``vehicules`` tables. The notebooks also need
``caracteristiques`` (date, département, light, weather, coordinates) and ``usagers`` (severity), so
this script
writes format-exact files whose values are drawn at random with plausible distributions:

- ``baac/caracteristiques-2018.csv`` and ``baac/usagers-2018.csv``: pre-2019 format (``,`` separated, Latin-1,
  two-digit ``an``, ``hrmn`` as HHMM, ``lat``/``long`` as integers x 100000, ``dep`` on three digits,
  ``com`` on
  three digits inside the département, ``gps`` zone letter, ``secu`` on two characters); their ``Num_Acc`` are
  exactly the accidents of the real ``lieux-2018.csv`` extract, their vehicles those of
  ``vehicules-2018.csv``;
- ``baac/{caracteristiques,lieux,vehicules,usagers}-2019.csv``: the 2019+ format (``;`` separated, every field
  quoted, UTF-8, decimal commas, ``" -1"`` and ``"N/A"`` quirks, ``id_vehicule`` with no-break spaces).

Coordinates are drawn inside the département's polygon (geo samples). Run from anywhere:
``python shared/eigkit/data/samples/make_synthetic_baac.py``; the output is byte-identical at every run.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from matplotlib.path import Path as Polygon

HERE = Path(__file__).resolve().parent
SEED = 20180101
ACCIDENTS_2019 = 150
GPS_ZONE = {"971": "A", "972": "A", "973": "G", "974": "R", "976": "Y"}
BIG_CITIES = {"75", "92", "93", "94", "13", "69", "59", "33", "31", "06", "44", "34", "67", "76", "38"}


def _departement_polygons() -> dict[str, list[np.ndarray]]:
    polygons: dict[str, list[np.ndarray]] = {}
    for name in ("departements-version-simplifiee.geojson", "departements-outre-mer-simplifie.geojson"):
        for feature in json.loads((HERE / "geo" / name).read_text(encoding="utf-8"))["features"]:
            geometry = feature["geometry"]
            parts = (
                geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
            )
            polygons[feature["properties"]["code"]] = [np.asarray(part[0], dtype=float) for part in parts]
    return polygons


def _point_inside(rng: np.random.Generator, rings: list[np.ndarray]) -> tuple[float, float]:
    ring = max(rings, key=len)
    path = Polygon(ring)
    low, high = ring.min(axis=0), ring.max(axis=0)
    while True:
        point = rng.uniform(low, high)
        if path.contains_point(point):
            return float(point[1]), float(point[0])


def _draw_departements(rng: np.random.Generator, codes: list[str], count: int) -> list[str]:
    weights = np.array(
        [4.0 if code in BIG_CITIES else 0.4 if code.startswith("97") else 1.0 for code in codes]
    )
    return list(rng.choice(codes, size=count, p=weights / weights.sum()))


def _accident(rng: np.random.Generator, polygons: dict[str, list[np.ndarray]], dep: str) -> dict:
    hour = int(rng.choice(24, p=_HOUR_WEIGHTS))
    dark = hour < 7 or hour >= 20
    lum = int(rng.choice([3, 4, 5], p=[0.35, 0.05, 0.6])) if dark else int(rng.choice([1, 2], p=[0.9, 0.1]))
    lat, long = _point_inside(rng, polygons[dep])
    return {
        "mois": int(rng.integers(1, 13)),
        "jour": int(rng.integers(1, 29)),
        "hour": hour,
        "minute": int(rng.integers(0, 60)),
        "lum": lum,
        "agg": int(rng.choice([1, 2], p=[0.35, 0.65])),
        "int": int(rng.choice([1, 2, 3, 4, 6, 9], p=[0.68, 0.1, 0.1, 0.03, 0.06, 0.03])),
        "atm": int(
            rng.choice([1, 2, 3, 4, 5, 6, 7, 8, 9], p=[0.8, 0.1, 0.02, 0.01, 0.01, 0.01, 0.02, 0.02, 0.01])
        ),
        "col": int(rng.choice([1, 2, 3, 4, 5, 6, 7], p=[0.1, 0.15, 0.3, 0.05, 0.04, 0.26, 0.1])),
        "dep": dep,
        "com": int(rng.integers(1, 400)),
        "lat": lat,
        "long": long,
        "located": rng.random() > 0.08,
    }


_HOUR_WEIGHTS = np.array(
    [1, 1, 1, 1, 1, 2, 3, 5, 7, 5, 5, 5, 6, 5, 5, 6, 7, 8, 8, 6, 4, 3, 2, 1], dtype=float
)
_HOUR_WEIGHTS /= _HOUR_WEIGHTS.sum()


def _victims(rng: np.random.Generator, vehicle_count: int) -> list[list[dict]]:
    """Users per vehicle (driver + passengers), at least one victim per accident."""
    people = []
    for _ in range(vehicle_count):
        users = [{"catu": 1, "place": 1}]
        users += [{"catu": 2, "place": int(rng.choice([2, 3, 4, 5]))} for _ in range(rng.poisson(0.35))]
        if rng.random() < 0.06:
            users.append({"catu": 3, "place": 10})
        for user in users:
            user["grav"] = int(rng.choice([1, 2, 3, 4], p=[0.42, 0.03, 0.17, 0.38]))
            user["sexe"] = int(rng.choice([1, 2], p=[0.68, 0.32]))
            user["an_nais"] = int(rng.integers(1930, 2012 if user["catu"] != 1 else 2001))
            user["trajet"] = int(rng.choice([0, 1, 2, 3, 4, 5, 9], p=[0.1, 0.2, 0.03, 0.1, 0.07, 0.4, 0.1]))
        people.append(users)
    if all(user["grav"] == 1 for users in people for user in users):
        people[0][0]["grav"] = 4
    return people


def _write(path: Path, header: list[str], rows: list[list], *, encoding: str, quoted: bool) -> None:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(
            handle,
            delimiter=";" if quoted else ",",
            quoting=csv.QUOTE_ALL if quoted else csv.QUOTE_MINIMAL,
            lineterminator="\n",
        )
        writer.writerow(header)
        writer.writerows(rows)


def _read_real(name: str) -> list[list[str]]:
    with (HERE / "baac" / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))[1:]


def _decimal_comma(value: float) -> str:
    return f"{value:.10f}".replace(".", ",")


def write_2018(rng: np.random.Generator, polygons: dict[str, list[np.ndarray]]) -> None:
    """caracteristiques-2018 and usagers-2018 for the accidents of the real lieux/vehicules extracts."""
    keys = [row[0] for row in _read_real("lieux-2018.csv")]
    vehicles: dict[str, list[str]] = {}
    for row in _read_real("vehicules-2018.csv"):
        vehicles.setdefault(row[0], []).append(row[-1])
    deps = _draw_departements(rng, sorted(polygons), len(keys))
    caracteristiques, usagers = [], []
    for key, dep in zip(keys, deps, strict=True):
        acc = _accident(rng, polygons, dep)
        dep3 = {"2A": "201", "2B": "202"}.get(dep, dep if len(dep) == 3 else dep + "0")
        hrmn = f"{acc['hour']}{acc['minute']:02d}" if acc["hour"] else str(acc["minute"])
        located = acc["located"]
        caracteristiques.append(
            [key, "18", acc["mois"], acc["jour"], hrmn, acc["lum"], acc["agg"], acc["int"], acc["atm"],
             acc["col"], f"{acc['com']:03d}", f"{int(rng.integers(1, 200))} rue de la République",
             GPS_ZONE.get(dep, "M"), round(acc["lat"] * 100000) if located else "",
             round(acc["long"] * 100000) if located else "", dep3]
        )  # fmt: skip
        for num_veh, users in zip(vehicles[key], _victims(rng, len(vehicles[key])), strict=True):
            for user in users:
                pedestrian = user["catu"] == 3
                secu = "" if pedestrian else str(rng.choice(["11", "21", "13", "12", "93"]))
                usagers.append(
                    [key, user["place"], user["catu"], user["grav"], user["sexe"], user["trajet"], secu,
                     int(rng.integers(1, 6)) if pedestrian else 0, int(rng.integers(1, 4)) if pedestrian else 0,
                     1 if pedestrian else 0, user["an_nais"], num_veh]
                )  # fmt: skip
    header_c = [
        "Num_Acc",
        "an",
        "mois",
        "jour",
        "hrmn",
        "lum",
        "agg",
        "int",
        "atm",
        "col",
        "com",
        "adr",
        "gps",
        "lat",
        "long",
        "dep",
    ]
    header_u = [
        "Num_Acc",
        "place",
        "catu",
        "grav",
        "sexe",
        "trajet",
        "secu",
        "locp",
        "actp",
        "etatp",
        "an_nais",
        "num_veh",
    ]
    _write(
        HERE / "baac" / "caracteristiques-2018.csv",
        header_c,
        caracteristiques,
        encoding="latin-1",
        quoted=False,
    )
    _write(HERE / "baac" / "usagers-2018.csv", header_u, usagers, encoding="latin-1", quoted=False)


def write_2019(rng: np.random.Generator, polygons: dict[str, list[np.ndarray]]) -> None:
    """All four 2019 tables in the 2019+ format for a small set of synthetic accidents."""
    keys = [f"2019{index:08d}" for index in range(1, ACCIDENTS_2019 + 1)]
    deps = _draw_departements(rng, sorted(polygons), len(keys))
    tables: dict[str, list[list]] = {"caracteristiques": [], "lieux": [], "vehicules": [], "usagers": []}
    vehicle_id = 138_306_000
    for key, dep in zip(keys, deps, strict=True):
        acc = _accident(rng, polygons, dep)
        com = f"{dep}{acc['com']:03d}" if len(dep) == 2 else f"{dep}{acc['com'] % 100:02d}"
        tables["caracteristiques"].append(
            [key, f"{acc['jour']:02d}", f"{acc['mois']:02d}", "2019", f"{acc['hour']:02d}:{acc['minute']:02d}",
             acc["lum"], dep, com, acc["agg"], acc["int"], acc["atm"], acc["col"],
             f"{int(rng.integers(1, 200))} AVENUE JEAN JAURES", _decimal_comma(acc["lat"]),
             _decimal_comma(acc["long"])]
        )  # fmt: skip
        catr = int(rng.choice([1, 2, 3, 4, 9], p=[0.08, 0.05, 0.4, 0.45, 0.02]))
        tables["lieux"].append(
            [key, catr, int(rng.integers(1, 999)) if catr < 4 else "", "0", "N/A" if rng.random() < 0.1 else "",
             " -1" if rng.random() < 0.1 else int(rng.choice([1, 2, 3])), int(rng.choice([1, 2, 3, 4])),
             " -1" if rng.random() < 0.1 else "0", int(rng.choice([1, 2, 3, 4])),
             "(1)" if rng.random() < 0.05 else int(rng.integers(0, 60)), int(rng.integers(0, 900)),
             int(rng.choice([1, 2, 3, 4])), "", "", int(rng.choice([1, 2, 7])), int(rng.choice([0, 2, 5])),
             int(rng.choice([1, 3, 4])), int(rng.choice([30, 50, 70, 80, 90, 110, 130]))]
        )  # fmt: skip
        count = int(rng.choice([1, 2, 3], p=[0.35, 0.55, 0.1]))
        ids = []
        for index in range(count):
            vehicle_id += int(rng.integers(1, 40))
            ids.append((f"{vehicle_id:,}".replace(",", "\u00a0"), chr(ord("A") + index) + "01"))
            tables["vehicules"].append(
                [key, *ids[-1], int(rng.choice([0, 1, 2])), int(rng.choice([1, 2, 7, 10, 33, 50])),
                 int(rng.choice([0, 1, 2, 13])), int(rng.choice([0, 1, 2])), int(rng.integers(1, 10)),
                 int(rng.integers(1, 27)), int(rng.choice([1, 2, 3, 5])), ""]
            )  # fmt: skip
        for (id_vehicule, num_veh), users in zip(ids, _victims(rng, count), strict=True):
            for user in users:
                pedestrian = user["catu"] == 3
                tables["usagers"].append(
                    [key, id_vehicule, num_veh, user["place"], user["catu"], user["grav"], user["sexe"],
                     user["an_nais"], user["trajet"], "0" if pedestrian else int(rng.choice([1, 2, 8])),
                     "-1" if pedestrian else int(rng.choice([0, 1, 6])), "-1",
                     int(rng.integers(1, 6)) if pedestrian else " -1", str(rng.choice(["1", "3", "A"]))
                     if pedestrian else " -1", 1 if pedestrian else " -1"]
                )  # fmt: skip
    headers = {
        "caracteristiques": "Num_Acc jour mois an hrmn lum dep com agg int atm col adr lat long",
        "lieux": "Num_Acc catr voie v1 v2 circ nbv vosp prof pr pr1 plan lartpc larrout surf infra situ vma",
        "vehicules": "Num_Acc id_vehicule num_veh senc catv obs obsm choc manv motor occutc",
        "usagers": "Num_Acc id_vehicule num_veh place catu grav sexe an_nais trajet secu1 secu2 secu3 "
        "locp actp etatp",
    }
    for table, rows in tables.items():
        _write(
            HERE / "baac" / f"{table}-2019.csv", headers[table].split(), rows, encoding="utf-8", quoted=True
        )


def main() -> None:
    """Write every synthetic sample file."""
    rng = np.random.default_rng(SEED)
    polygons = _departement_polygons()
    write_2018(rng, polygons)
    write_2019(rng, polygons)


if __name__ == "__main__":
    main()
