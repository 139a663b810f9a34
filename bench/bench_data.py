"""Benchmark of the BAAC loaders: first load (parse + normalise) vs cached load, and memory vs a naive read.

Builds a realistic multi-year BAAC set in the published formats of each era (default 10 years, 2014-2023):

- before 2019: ``,`` separated, Latin-1, two-digit ``an``, ``hrmn`` HHMM, ``lat``/``long`` x 100000, 3-digit
  ``dep``/``com``, ``gps``, ``secu``, ``env1``; file names with ``_`` and CRLF line ends before 2017;
- 2019 and later: ``;`` separated, every field quoted, UTF-8, decimal commas, ``" -1"``/``"N/A"``/``"(1)"``,
  ``id_vehicule`` with no-break spaces, ``secu1-3``, ``vma``; ``Accident_Id`` and ``carcteristiques-2022.csv``
  in 2022; ``caract-2023.csv`` and ``id_usager`` from 2023;

at real sizes (about 55,000 accidents, 95,000 vehicles and 125,000 users a year), places it in a temporary
cache as if downloaded (``download.json`` + ``data.lock``), then in one run, on the same files, measures:

- first load: ``data.load(name, years=..., source="cache")`` for the 4 tables (verify, parse, normalise and
  write the parquet cache);
- cached load: the same calls again (verification of the raw files and of the parquet entries + parquet read);
- naive read: ``pd.read_csv(path, dtype=str, sep=..., encoding=...)`` of each file, with the right separator
  and encoding (what users write by hand: every value a string, codes and sentinels left as published);
- bare parquet: ``pyarrow.parquet.read_table(path).to_pandas()`` of the kit's own cached tables (the floor of
  a cached load: no verification, no multi-year concatenation);
- memory: ``memory_usage(deep=True)`` of the normalised frames vs the naive frames.

Prints every figure, then ``cached_vs_parquet=<cached / bare parquet>`` and, last, ``ratio=<first load / naive
read>``. Goals: ratio <= 1.5, cached <= 1.2 x bare parquet, memory <= 0.4 x naive.
``--repeat`` rounds of the four phases, one right after the other (parquet cache removed before each first
load); the best time of each phase counts.
Usage: ``python bench/bench_data.py [--years 10] [--last 2023] [--scale 1.0] [--repeat 2] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from eigkit import data
from eigkit.data import lock
from eigkit.data.cache import file_sha256, store_download, target_dir
from eigkit.data.registry import entry
from eigkit.paths import data_cache_dir

ACCIDENTS, VEHICLES, USERS = 55_000, 95_000, 125_000
TABLES = ("caracteristiques", "lieux", "vehicules", "usagers")
DEPS = [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B", "971", "972", "973", "974", "976"]
WAYS = ["RUE", "AVENUE", "BOULEVARD", "CHEMIN", "ROUTE", "IMPASSE", "PLACE", "ALLÉE"]
NAMES = [
    "VICTOR HUGO",
    "JEAN JAURÈS",
    "DE LA PAIX",
    "DU MOULIN",
    "DES ÉCOLES",
    "DE LA GARE",
    "PASTEUR",
    "FOCH",
    "DU GÉNÉRAL DE GAULLE",
    "DE LA RÉPUBLIQUE",
    "GAMBETTA",
    "DE PARIS",
    "DE L'ÉGLISE",
    "DES LILAS",
    "DU STADE",
    "DE LA MAIRIE",
    "CARNOT",
    "JULES FERRY",
    "DU CHÂTEAU",
    "DES VIGNES",
    "LECLERC",
    "DE LA LIBÉRATION",
    "DU 8 MAI 1945",
    "DE VERDUN",
    "SAINT-MARTIN",
    "DES TILLEULS",
    "DU PORT",
    "DE LA FONTAINE",
    "MARÉCHAL JOFFRE",
    "ÉMILE ZOLA",
    "DES PRÉS",
    "DE LA FORÊT",
    "DU COMMERCE",
    "DES ACACIAS",
    "DE LYON",
    "DE BORDEAUX",
    "DE LA LOIRE",
    "DU LAC",
    "DES CHAMPS",
    "DE LA PLAGE",
]
ROADS = ["D", "RD", "N", "RN", "A", "AUTOROUTE A", "VC"]
NBSP = "\u00a0"


@dataclass(frozen=True)
class Year:
    """The random structure shared by the 4 tables of one year (accidents, vehicles, users)."""

    year: int
    keys: np.ndarray  # accident numbers, one per accident
    veh_acc: np.ndarray  # accident index of each vehicle
    usr_veh: np.ndarray  # vehicle index of each user
    num_veh: np.ndarray  # "A01", "B01"... one per vehicle
    deps: np.ndarray  # INSEE département of each accident
    lat: np.ndarray
    lon: np.ndarray
    rng: np.random.Generator

    @property
    def sizes(self) -> tuple[int, int, int]:
        """Counts of accidents, vehicles, users."""
        return len(self.keys), len(self.veh_acc), len(self.usr_veh)

    def codes(self, low: int, high: int, size: int, *, pad: int = 0) -> np.ndarray:
        """Random integer codes as text, optionally zero-padded (``'07'``)."""
        values = self.rng.integers(low, high + 1, size).astype(str)
        return np.char.zfill(values, pad) if pad else values

    def addresses(self, size: int) -> np.ndarray:
        """``adr`` as published: numbered streets, roads (``D 934``), empty; about half distinct in a year."""
        streets = _words(self.codes(1, 399, size), self.pick(WAYS, size), self.pick(NAMES, size))
        roads = _words(self.pick(ROADS, size), self.codes(1, 999, size))
        kind = self.rng.random(size)
        return np.where(kind < 0.5, streets, np.where(kind < 0.85, roads, "")).astype(object)

    def pick(self, values: list[str], size: int) -> np.ndarray:
        """Random picks among ``values``."""
        return np.asarray(values, dtype=object)[self.rng.integers(0, len(values), size)]


def _words(*parts: np.ndarray) -> np.ndarray:
    """Element-wise ``" ".join`` of arrays of text."""
    text = parts[0].astype(str)
    for part in parts[1:]:
        text = np.char.add(np.char.add(text, " "), part.astype(str))
    return text


def draw_year(year: int, rng: np.random.Generator, scale: float) -> Year:
    """Accidents, their vehicles (at least one each) and their users (at least one per vehicle)."""
    n_acc, n_veh, n_usr = (max(10, int(count * scale)) for count in (ACCIDENTS, VEHICLES, USERS))
    veh_acc = np.sort(np.concatenate([np.arange(n_acc), rng.integers(0, n_acc, n_veh - n_acc)]))
    usr_veh = np.sort(np.concatenate([np.arange(n_veh), rng.integers(0, n_veh, n_usr - n_veh)]))
    rank = np.arange(n_veh) - np.searchsorted(veh_acc, veh_acc)  # vehicle rank inside its accident
    letters = np.array([chr(ord("A") + index) for index in range(26)], dtype=object)
    return Year(
        year=year, keys=np.char.add(str(year), np.char.zfill(np.arange(1, n_acc + 1).astype(str), 8)),
        veh_acc=veh_acc, usr_veh=usr_veh, num_veh=letters[np.minimum(rank, 25)] + "01",
        deps=np.asarray(DEPS, dtype=object)[rng.integers(0, len(DEPS), n_acc)],
        lat=rng.uniform(42.5, 50.5, n_acc), lon=rng.uniform(-4.5, 7.5, n_acc), rng=rng,
    )  # fmt: skip


def _hours(y: Year) -> tuple[np.ndarray, np.ndarray]:
    n_acc = y.sizes[0]
    return y.rng.integers(0, 24, n_acc), y.rng.integers(0, 60, n_acc)


def _grouped(number: int, size: int) -> np.ndarray:
    """``155 680 557``: consecutive ids with no-break spaces as thousands separators (2019+ ids)."""
    return np.array([f"{number + index:,}".replace(",", NBSP) for index in range(size)], dtype=object)


def tables_before_2019(y: Year) -> dict[str, pd.DataFrame]:
    """The 4 tables in the pre-2019 layout."""
    n_acc, n_veh, n_usr = y.sizes
    c, pick = y.codes, y.pick
    hours, minutes = _hours(y)
    dep3 = np.array([{"2A": "201", "2B": "202"}.get(d, d if len(d) == 3 else d + "0") for d in y.deps])
    return {
        "caracteristiques": pd.DataFrame({
            "Num_Acc": y.keys, "an": str(y.year % 100), "mois": c(1, 12, n_acc), "jour": c(1, 28, n_acc),
            "hrmn": [f"{h}{m:02d}" if h else str(m) for h, m in zip(hours, minutes, strict=True)],
            "lum": c(1, 5, n_acc), "agg": c(1, 2, n_acc), "int": c(1, 9, n_acc),
            "atm": c(1, 9, n_acc), "col": c(1, 7, n_acc), "com": c(1, 700, n_acc, pad=3),
            "adr": y.addresses(n_acc), "gps": "M", "lat": (y.lat * 100000).round().astype(int).astype(str),
            "long": (y.lon * 100000).round().astype(int).astype(str), "dep": dep3,
        }),
        "lieux": pd.DataFrame({
            "Num_Acc": y.keys, "catr": c(1, 6, n_acc), "voie": c(1, 999, n_acc), "v1": "",
            "v2": pick(["", "A", "C", "D"], n_acc), "circ": c(1, 4, n_acc), "nbv": c(0, 4, n_acc, pad=2),
            "pr": "", "pr1": "", "vosp": c(0, 3, n_acc), "prof": c(1, 4, n_acc),
            "plan": c(1, 4, n_acc), "lartpc": "", "larrout": c(0, 200, n_acc), "surf": c(1, 9, n_acc),
            "infra": c(0, 7, n_acc), "situ": c(1, 5, n_acc), "env1": pick(["00", "99", "3"], n_acc),
        }),
        "vehicules": pd.DataFrame({
            "Num_Acc": y.keys[y.veh_acc], "senc": c(0, 2, n_veh), "catv": c(1, 99, n_veh, pad=2),
            "occutc": c(0, 0, n_veh, pad=3), "obs": c(0, 16, n_veh, pad=2), "obsm": c(0, 9, n_veh),
            "choc": c(0, 9, n_veh), "manv": c(0, 24, n_veh, pad=2), "num_veh": y.num_veh,
        }),
        "usagers": pd.DataFrame({
            "Num_Acc": y.keys[y.veh_acc[y.usr_veh]], "place": c(1, 9, n_usr), "catu": c(1, 3, n_usr),
            "grav": c(1, 4, n_usr), "sexe": c(1, 2, n_usr), "trajet": c(0, 9, n_usr),
            "secu": pick(["11", "21", "13", ""], n_usr), "locp": "0", "actp": "0", "etatp": "0",
            "an_nais": c(1930, 2015, n_usr), "num_veh": y.num_veh[y.usr_veh],
        }),
    }  # fmt: skip


def tables_from_2019(y: Year) -> dict[str, pd.DataFrame]:
    """The 4 tables in the 2019+ layout (``Accident_Id`` in 2022, ``id_usager`` from 2023)."""
    n_acc, n_veh, n_usr = y.sizes
    c, pick = y.codes, y.pick
    hours, minutes = _hours(y)
    id_veh = _grouped(155_680_000 + (y.year - 2019) * 200_000, n_veh)
    communes = y.rng.integers(1, 99, n_acc)
    tables = {
        "caracteristiques": pd.DataFrame({
            "Accident_Id" if y.year == 2022 else "Num_Acc": y.keys, "jour": c(1, 28, n_acc, pad=2),
            "mois": c(1, 12, n_acc, pad=2), "an": str(y.year),
            "hrmn": [f"{h:02d}:{m:02d}" for h, m in zip(hours, minutes, strict=True)], "lum": c(1, 5, n_acc),
            "dep": y.deps, "com": [d + (f"{c:03d}" if len(d) == 2 else f"{c:02d}")
                                   for d, c in zip(y.deps, communes, strict=True)],
            "agg": c(1, 2, n_acc), "int": c(1, 9, n_acc), "atm": c(-1, 9, n_acc),
            "col": c(-1, 7, n_acc), "adr": y.addresses(n_acc),
            "lat": np.char.replace(np.char.mod("%.10f", y.lat), ".", ","),
            "long": np.char.replace(np.char.mod("%.10f", y.lon), ".", ","),
        }),
        "lieux": pd.DataFrame({
            "Num_Acc": y.keys, "catr": c(1, 7, n_acc), "voie": c(1, 999, n_acc), "v1": "0",
            "v2": pick(["", "N/A", "A"], n_acc), "circ": pick(["1", "2", " -1", "3"], n_acc),
            "nbv": pick(["1", "2", "N/A", "3"], n_acc), "vosp": pick(["0", " -1", "1"], n_acc),
            "prof": c(1, 4, n_acc), "pr": pick(["(1)", "12", "", "3"], n_acc),
            "pr1": pick(["(1)", "433", "", "0"], n_acc), "plan": c(1, 4, n_acc), "lartpc": "",
            "larrout": pick(["", "6,5", "-1", "7"], n_acc), "surf": c(1, 9, n_acc),
            "infra": c(0, 9, n_acc), "situ": c(1, 8, n_acc),
            "vma": pick(["30", "50", "80", "90", "110", "130"], n_acc),
        }),
        "vehicules": pd.DataFrame({
            "Num_Acc": y.keys[y.veh_acc], "id_vehicule": id_veh, "num_veh": y.num_veh,
            "senc": pick(["1", "2", " -1", "0"], n_veh), "catv": c(1, 99, n_veh, pad=2),
            "obs": c(0, 17, n_veh), "obsm": c(0, 9, n_veh), "choc": c(0, 9, n_veh),
            "manv": c(0, 26, n_veh), "motor": c(1, 6, n_veh), "occutc": "",
        }),
        "usagers": pd.DataFrame({
            "Num_Acc": y.keys[y.veh_acc[y.usr_veh]], "id_vehicule": id_veh[y.usr_veh],
            "num_veh": y.num_veh[y.usr_veh], "place": c(1, 10, n_usr), "catu": c(1, 3, n_usr),
            "grav": c(1, 4, n_usr), "sexe": c(1, 2, n_usr), "an_nais": c(1930, 2015, n_usr),
            "trajet": c(0, 9, n_usr), "secu1": c(0, 8, n_usr), "secu2": c(-1, 8, n_usr), "secu3": "-1",
            "locp": pick([" -1", "0", "2"], n_usr), "actp": pick([" -1", "0", "A"], n_usr), "etatp": " -1",
        }),
    }  # fmt: skip
    if y.year >= 2023:
        tables["usagers"].insert(1, "id_usager", _grouped(203_851_000 + (y.year - 2023) * 300_000, n_usr))
    return tables


def file_name(table: str, year: int) -> str:
    """Published file name: ``_`` before 2017, the 2022 typo, ``caract-`` from 2023."""
    if year < 2017:
        return f"{table}_{year}.csv"
    if table == "caracteristiques" and year == 2022:
        return "carcteristiques-2022.csv"
    if table == "caracteristiques" and year >= 2023:
        return f"caract-{year}.csv"
    return f"{table}-{year}.csv"


def csv_options(year: int) -> dict:
    """How the files of ``year`` are written."""
    if year >= 2019:
        return {"sep": ";", "quoting": csv.QUOTE_ALL, "encoding": "utf-8", "lineterminator": "\n"}
    return {"sep": ",", "quoting": csv.QUOTE_MINIMAL, "encoding": "latin-1",
            "lineterminator": "\r\n" if year < 2017 else "\n"}  # fmt: skip


def build_year(folder: Path, year: int, rng: np.random.Generator, scale: float) -> dict[str, Path]:
    """Write the 4 tables of ``year`` in the format of its era; return their paths."""
    drawn = draw_year(year, rng, scale)
    tables = tables_from_2019(drawn) if year >= 2019 else tables_before_2019(drawn)
    paths = {}
    for table, frame in tables.items():
        path = folder / file_name(table, year)
        frame.to_csv(path, index=False, **csv_options(year))
        paths[table] = path
    return paths


def place_in_cache(table: str, year: int, source: Path) -> Path:
    """Put ``source`` where a verified download would be, with its download.json and data.lock entry."""
    item = entry(f"baac.{table}")
    target_dir(item, year).mkdir(parents=True, exist_ok=True)
    url = f"https://www.data.gouv.fr/fr/datasets/r/bench-{table}-{year}"
    stored = store_download(item, year, source, url=url, sha256=file_sha256(source))
    lock.record(item.name, year, url=url, size=stored.size, sha256=stored.sha256, file=stored.path.name)
    return stored.path


def megabytes(frames: list[pd.DataFrame]) -> float:
    """Deep memory of ``frames`` in MB."""
    return sum(frame.memory_usage(deep=True).sum() for frame in frames) / 1e6


def naive_read(files: list[tuple[int, Path]]) -> tuple[float, list[pd.DataFrame]]:
    """``pd.read_csv(dtype=str)`` of every file, with its right separator and encoding: seconds and frames."""
    started = time.perf_counter()
    frames = []
    for year, path in files:
        options = csv_options(year)
        frames.append(pd.read_csv(path, dtype=str, sep=options["sep"], encoding=options["encoding"]))
    return time.perf_counter() - started, frames


def bare_parquet() -> float:
    """Seconds of ``pq.read_table(...).to_pandas()`` of every parquet table the kit cached."""
    started = time.perf_counter()
    frames = [pq.read_table(path).to_pandas() for path in sorted(data_cache_dir().rglob("*.parquet"))]
    seconds = time.perf_counter() - started
    del frames
    return seconds


def kit_load(years: list[int]) -> tuple[float, list[pd.DataFrame]]:
    """``data.load(..., source="cache")`` of the 4 tables: seconds and frames."""
    started = time.perf_counter()
    frames = [data.load(f"baac.{table}", years=years, source="cache") for table in TABLES]
    return time.perf_counter() - started, frames


def measure(years: list[int], files: list[tuple[int, Path]], *, repeat: int) -> tuple[dict[str, float], dict]:
    """``repeat`` rounds of: first load (parquet cache removed), naive read, cached load, bare parquet read,
    one right after the other so that each round's four figures meet the same load on a shared machine; the
    best time of each phase counts (other work only ever adds time). Also returns the frames' MB."""
    timings: dict[str, list[float]] = {"first": [], "naive": [], "cached": [], "parquet": []}
    memory = {}
    for round_ in range(1, repeat + 1):
        for parquet in data_cache_dir().rglob("*.parquet*"):
            parquet.unlink()
        seconds, frames = kit_load(years)
        timings["first"].append(seconds)
        del frames
        seconds, frames = naive_read(files)
        timings["naive"].append(seconds)
        memory["naive"] = megabytes(frames)
        del frames
        seconds, frames = kit_load(years)
        timings["cached"].append(seconds)
        memory["normalised"] = megabytes(frames)
        del frames
        timings["parquet"].append(bare_parquet())
        print(
            f"round {round_}: "
            + ", ".join(f"{phase} {values[-1]:.2f} s" for phase, values in timings.items())
        )
    return {phase: min(values) for phase, values in timings.items()}, memory


def _loads(averages: tuple[float, float, float]) -> str:
    return "/".join(f"{value:.1f}" for value in averages)


def main() -> None:
    """Build, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--last", type=int, default=2023, help="last year of the set")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the real yearly sizes")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each phase (the best one counts)")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="eig-bench-data-"))
    root.mkdir(parents=True, exist_ok=True)
    os.environ["EIG_DATA_DIR"] = str(root / "cache")
    os.environ["EIG_DATA_LOCK"] = str(root / "data.lock")
    os.environ.pop("EIG_DATA_USAGE", None)
    try:
        years = list(range(args.last - args.years + 1, args.last + 1))
        rng = np.random.default_rng(2024)
        started = time.perf_counter()
        files: list[tuple[int, Path]] = []
        for year in years:
            for table, path in build_year(root, year, rng, args.scale).items():
                files.append((year, place_in_cache(table, year, path)))
        raw_mb = sum(path.stat().st_size for _, path in files) / 1e6
        print(f"built {len(files)} files ({years[0]}-{years[-1]}, {len(years)} years x 4 tables, "
              f"{raw_mb:.0f} MB) in {time.perf_counter() - started:.1f} s")  # fmt: skip
        load_before = os.getloadavg()
        timings, memory = measure(years, files, repeat=args.repeat)
        load_after = os.getloadavg()
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    first, cached, naive, parquet = (timings[phase] for phase in ("first", "cached", "naive", "parquet"))
    normalised_mb, naive_mb = memory["normalised"], memory["naive"]
    print(f"best of {args.repeat}: first load {first:.2f} s, cached load {cached:.2f} s, naive "
          f"pd.read_csv(dtype=str) {naive:.2f} s, bare parquet read {parquet:.2f} s")  # fmt: skip
    print(f"memory: normalised frames {normalised_mb:.0f} MB, naive pd.read_csv(dtype=str) "
          f"{naive_mb:.0f} MB, memory ratio {normalised_mb / naive_mb:.3f} (goal <= 0.4)")  # fmt: skip
    print(f"machine load (1/5/15 min averages, {os.cpu_count()} CPUs): before {_loads(load_before)}, after "
          f"{_loads(load_after)} (a shared machine only adds time: compare runs at equal load)")  # fmt: skip
    print(f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.0f} MB")
    print(f"goals: first <= 1.5 x naive {'met' if first <= 1.5 * naive else 'MISSED'}, cached <= 1.2 x bare "
          f"parquet {'met' if cached <= 1.2 * parquet else 'MISSED'}")  # fmt: skip
    print(f"cached_vs_parquet={cached / parquet:.3f}")
    print(f"ratio={first / naive:.3f}", flush=True)


if __name__ == "__main__":
    main()
