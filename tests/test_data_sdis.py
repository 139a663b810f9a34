"""The SDIS reader's data rule, on the real DGSCGC files: a zero total means the service did not report."""

from __future__ import annotations

import pandas as pd

from eigkit import data
from eigkit.data import sdis
from eigkit.paths import kit_root

SAMPLES = kit_root() / "shared" / "eigkit" / "data" / "samples" / "sdis"


def raw_row(year: int, numero: str) -> dict[str, str]:
    """The published cells of one service, read with the standard library (no kit code)."""
    import csv

    with open(SAMPLES / f"interventions{year}.csv", encoding="cp1252", newline="") as handle:
        rows = list(csv.reader(handle, delimiter=";"))
    header, body = rows[0], rows[1:]
    (row,) = [line for line in body if line[header.index("Numéro")].strip().upper() == numero]
    return dict(zip(header, row, strict=True))


def test_a_zero_total_makes_every_count_of_the_row_not_reported():
    published = raw_row(2018, "972")  # Martinique 2018: total 0, "opérations diverses" 0, others N.C.
    assert published["Total interventions"].strip() == "0"
    assert published["Opérations diverses"].strip() == "0"
    frame = data.read("sdis.interventions", SAMPLES / "interventions2018.csv")
    martinique = frame[frame["sdis"] == "972"].iloc[0]
    counts = sdis.count_columns(frame)
    assert "total_interventions" in counts and "operations_diverses" in counts and "renseigne" not in counts
    assert all(pd.isna(martinique[column]) for column in counts)  # total and categories alike
    assert not martinique["renseigne"]
    assert int(frame["renseigne"].sum()) == len(frame) - 1


def test_reported_rows_keep_their_published_numbers_and_zeros():
    frame = data.read("sdis.interventions", SAMPLES / "interventions2018.csv")
    reported = frame[frame["renseigne"]]
    assert reported["total_interventions"].notna().all() and (reported["total_interventions"] > 0).all()
    bas_rhin = frame[frame["sdis"] == "67"].iloc[0]
    published = raw_row(2018, "67")["Opérations diverses"].replace(" ", "")
    assert int(bas_rhin["operations_diverses"]) == int(published) == 22014
    # a genuine zero in a category of a reported service stays a zero
    zeros = (reported[sdis.count_columns(frame)] == 0).sum().sum()
    assert zeros > 0


def test_the_rule_is_applied_by_load_for_every_year():
    frame = data.load("sdis.interventions", year=[2018, 2019, 2020, 2021, 2022], source="sample")
    assert not (frame["total_interventions"] == 0).any()
    assert frame.loc[~frame["renseigne"], ["annee", "sdis"]].astype(str).values.tolist() == [["2018", "972"]]
