"""Build the embedded BAAC samples from the real published files, deterministically.

- 2013 (pre-2019 format): a few hundred real accidents of the full 2013 year (``caracteristiques``, ``lieux``,
  ``vehicules``, consistent across the three tables). Selection: every ``STEP``-th accident in the published
  order (a systematic sample, so each département weighs as in the real year and a map by département shows
  the real contrasts), plus the first accident of every département the systematic sample missed (so every
  département of the year, overseas included, is on the map). Lines are copied byte for byte (Latin-1, LF,
  ``,``) with the published header.
- 2021 (2019+ format): the real first rows of the four 2021 tables, copied byte for byte.
- ``usagers_2013_SYNTHETIQUE.csv``: no real 2013 ``usagers`` file is at hand, so this one table is SYNTHETIC:
  format-exact (pre-2019 ``usagers``: ``,``, Latin-1, ``secu`` on two characters) for the real vehicles of the
  2013 sample, values drawn at random (seed ``SEED``) with a pedestrian wherever the real vehicle hit one
  (``obsm`` 1) and at least one victim per accident. Use it to run notebooks, never to draw conclusions.

Run from the repository: ``python shared/eigkit/data/samples/make_baac_samples.py [SOURCE]`` where SOURCE is
the folder holding ``2013/`` and ``2021-extraits/`` (default ``../shared/data/baac`` next to the repository).
The output is byte-identical at every run.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[4] / "shared" / "data" / "baac"
STEP = 150
SEED = 2013
TABLES_2013 = ("caracteristiques", "lieux", "vehicules")
EXTRACTS_2021 = {
    "caracteristiques": "caracteristiques-2021_first25.csv",
    "lieux": "lieux-2021_first70.csv",
    "vehicules": "vehicules-2021_first23.csv",
    "usagers": "usagers-2021_first26.csv",
}
SYNTHETIC_USAGERS = "usagers_2013_SYNTHETIQUE.csv"
USAGERS_HEADER = "Num_Acc,place,catu,grav,sexe,trajet,secu,locp,actp,etatp,an_nais,num_veh"


def _lines(path: Path) -> tuple[bytes, list[bytes], bool]:
    """(header, data lines without their end, whether the file ends with a newline) of a published CSV."""
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    final_newline = lines[-1] == b""
    if final_newline:
        lines = lines[:-1]
    return lines[0], lines[1:], final_newline


def _fields(line: bytes) -> list[str]:
    """The fields of one published line (quoted addresses may hold commas)."""
    return next(csv.reader([line.decode("latin-1")]))


def _field(line: bytes, index: int) -> str:
    return _fields(line)[index]


def select_accidents(caracteristiques: list[bytes], header: bytes) -> list[str]:
    """The ``Num_Acc`` of the sample, in published order (see the module docstring)."""
    dep_column = header.decode("latin-1").split(",").index("dep")
    chosen = set(range(0, len(caracteristiques), STEP))
    covered = {_field(caracteristiques[index], dep_column) for index in chosen}
    for index, line in enumerate(caracteristiques):
        dep = _field(line, dep_column)
        if dep not in covered:
            chosen.add(index)
            covered.add(dep)
    return [_field(caracteristiques[index], 0) for index in sorted(chosen)]


def _write(path: Path, header: bytes, lines: list[bytes], final_newline: bool) -> None:
    path.write_bytes(b"\n".join([header, *lines]) + (b"\n" if final_newline else b""))


def write_2013(source: Path, target: Path) -> list[bytes]:
    """The three real 2013 tables restricted to the selected accidents; return the vehicle lines."""
    header, lines, final = _lines(source / "2013" / "caracteristiques_2013.csv")
    keys = set(select_accidents(lines, header))
    kept = {}
    for table in TABLES_2013:
        header, lines, final = _lines(source / "2013" / f"{table}_2013.csv")
        kept[table] = [line for line in lines if _field(line, 0) in keys]
        _write(target / f"{table}_2013.csv", header, kept[table], final)
    return kept["vehicules"]


def copy_2021(source: Path, target: Path) -> None:
    """The real 2021 rows, byte for byte."""
    for table, name in EXTRACTS_2021.items():
        (target / f"{table}-2021.csv").write_bytes((source / "2021-extraits" / name).read_bytes())


def synthetic_usagers(vehicles: list[bytes], vehicle_header: list[str]) -> list[str]:
    """SYNTHETIC pre-2019 ``usagers`` rows for the real vehicles (driver, passengers, hit pedestrians)."""
    rng = np.random.default_rng(SEED)
    at = {name: index for index, name in enumerate(vehicle_header)}
    by_accident: dict[str, list[list[str]]] = {}
    for line in vehicles:
        fields = _fields(line)
        by_accident.setdefault(fields[at["Num_Acc"]], []).append(fields)
    rows = []
    for key, accident_vehicles in by_accident.items():
        people = []
        for fields in accident_vehicles:
            users = [{"catu": 1, "place": 1}]
            users += [{"catu": 2, "place": int(rng.choice([2, 3, 4, 5]))} for _ in range(rng.poisson(0.35))]
            if fields[at["obsm"]].strip() == "1":  # the real vehicle hit a pedestrian
                users.append({"catu": 3, "place": ""})
            for user in users:
                user["num_veh"] = fields[at["num_veh"]]
                user["grav"] = int(rng.choice([1, 2, 3, 4], p=[0.42, 0.03, 0.17, 0.38]))
            people += users
        if all(user["grav"] == 1 for user in people):
            people[0]["grav"] = 4
        for user in people:
            pedestrian = user["catu"] == 3
            secu = "" if pedestrian else str(rng.choice(["11", "21", "13", "12", "93"]))
            fields = [
                key, user["place"], user["catu"], user["grav"], int(rng.choice([1, 2], p=[0.68, 0.32])),
                int(rng.choice([0, 1, 2, 3, 4, 5, 9], p=[0.1, 0.2, 0.03, 0.1, 0.07, 0.4, 0.1])), secu,
                int(rng.integers(1, 6)) if pedestrian else 0, int(rng.integers(1, 4)) if pedestrian else 0,
                1 if pedestrian else 0, int(rng.integers(1930, 2010 if user["catu"] != 1 else 1996)),
                user["num_veh"],
            ]  # fmt: skip
            rows.append(",".join(str(value) for value in fields))
    return rows


def main(source: Path = DEFAULT_SOURCE, target: Path | None = None) -> None:
    """Write every BAAC sample file into ``target`` (default: ``samples/baac`` beside this script)."""
    target = target or HERE / "baac"
    target.mkdir(parents=True, exist_ok=True)
    vehicles = write_2013(source, target)
    copy_2021(source, target)
    vehicle_header = _lines(source / "2013" / "vehicules_2013.csv")[0].decode("latin-1").split(",")
    rows = synthetic_usagers(vehicles, vehicle_header)
    (target / SYNTHETIC_USAGERS).write_bytes("\n".join([USAGERS_HEADER, *rows, ""]).encode("latin-1"))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE)
