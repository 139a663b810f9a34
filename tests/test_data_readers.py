"""Each reader on real files (the embedded samples and tests/data hold real copies) and on format-exact era
fixtures of the editions no real copy is at hand of."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eigkit import data
from eigkit.data.registry import SAMPLES_DIR

FIXTURES = Path(__file__).parent / "data"
ERAS = FIXTURES / "baac"


def test_pre2019_real_lieux_keeps_every_row_and_unpads_codes():
    path = ERAS / "lieux-2018-extrait.csv"  # real rows (see tests/data/PROVENANCE.md)
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame = data.read("baac.lieux", path)
    assert len(frame) == len(raw) == 2000
    assert frame["num_acc"].tolist() == raw["Num_Acc"].tolist()
    assert (frame["an"] == 2018).all()
    # '02' and '2' are one number; '00' lanes is the pre-2019 "not filled in" marker, so NA
    assert frame["nbv"].isna().tolist() == raw["nbv"].isin(["", "00", "0"]).tolist()
    assert frame.loc[0, "nbv"] == int(raw.loc[0, "nbv"])
    assert frame["env1"].iloc[0] == str(int(raw["env1"].iloc[0]))
    assert frame["vma"].isna().all()


def test_codes_have_one_representation_across_eras():
    old = data.read("baac.vehicules", ERAS / "vehicules-2018-extrait.csv")
    new = data.read("baac.vehicules", ERAS / "vehicules-2021.csv")
    assert "07" not in set(old["catv"].dropna()) and "7" in set(old["catv"].dropna())
    assert new.loc[0, "catv"] == "7" and new.loc[2, "senc"] == "-1"
    assert new["id_vehicule"].tolist() == ["201764", "201765", "1155680557"]
    assert new.loc[2, "occutc"] == 12 and pd.isna(new.loc[0, "occutc"])
    assert list(old.columns) == list(new.columns)
    both = data.load("baac.vehicules", source="sample")
    assert isinstance(both["catv"].dtype, pd.CategoricalDtype)


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        ("caracteristiques_2009.csv", [("2A", "2A004", 41.923, 8.738), ("971", "97120", 16.245, -61.55)]),
        ("caracteristiques_2016.csv", [("59", "59005", 50.55737, 2.94992), ("13", "13011", np.nan, np.nan)]),
        ("caracteristiques-2020.csv", [("2A", "2A004", 41.923, 8.738), ("971", "97120", 16.245, -61.55)]),
        (
            "carcteristiques-2022.csv",
            [("26", "26198", 44.55942, 4.72572), ("25", "25204", 46.92973, 6.34571)],
        ),
        ("caract-2023.csv", [("01", "01003", 45.94861, 5.40412)]),
    ],
)
def test_caracteristiques_one_schema_whatever_the_era(file, expected):
    frame = data.read("baac.caracteristiques", ERAS / file)
    assert list(frame.columns) == list(data.load("baac.caracteristiques", source="sample").columns)
    assert frame["num_acc"].str.fullmatch(r"\d{12}").all()
    year = int(frame["num_acc"].iloc[0][:4])
    assert (frame["an"] == year).all() and (frame["datetime"].dt.year == year).all()
    for row, (dep, com, lat, long) in enumerate(expected):
        assert (frame.loc[row, "dep"], frame.loc[row, "com"]) == (dep, com)
        np.testing.assert_allclose(
            [frame.loc[row, "lat"], frame.loc[row, "long"]], [lat, long], equal_nan=True
        )


def test_hours_light_weather_and_missing_values():
    old = data.read("baac.caracteristiques", ERAS / "caracteristiques_2009.csv")
    assert old["hrmn"].tolist() == ["08:30", "00:05", "23:59"]
    assert old["datetime"].tolist() == [pd.Timestamp(2009, 1, 12, 8, 30), pd.Timestamp(2009, 7, 3, 0, 5),
                                        pd.Timestamp(2009, 12, 31, 23, 59)]  # fmt: skip
    assert old.loc[2, "dep"] == "59" and np.isnan(old.loc[2, "lat"])
    new = data.read("baac.caracteristiques", ERAS / "caracteristiques-2020.csv")
    assert new.loc[1, "atm"] == "-1" and pd.isna(new.loc[1, "col"])  # " -1" and "N/A"
    assert new.loc[2, "adr"] == "AVENUE DES CHAMPS-ÉLYSÉES"
    latin1 = data.read("baac.caracteristiques", ERAS / "caracteristiques_2016.csv")
    assert latin1.loc[0, "adr"] == "12, rue de l'Église"


def test_lieux_2019_quirks_and_usagers_both_eras():
    lieux = data.read("baac.lieux", ERAS / "lieux-2020.csv")
    assert lieux.loc[0, "vosp"] == "-1" and pd.isna(lieux.loc[0, "v2"]) and pd.isna(lieux.loc[1, "nbv"])
    assert lieux.loc[0, "larrout"] == 6.5 and lieux["vma"].tolist() == [80, 50]
    old = data.read("baac.usagers", ERAS / "usagers-2017.csv")
    new = data.read("baac.usagers", ERAS / "usagers-2023.csv")
    assert list(old.columns) == list(new.columns)
    assert old["grav"].tolist() == ["3", "2"] and old.loc[0, "secu"] == "11" and pd.isna(old.loc[0, "secu1"])
    assert new["id_usager"].tolist() == ["203851184", "203851185"] and new.loc[1, "catu"] == "3"
    assert new["an_nais"].tolist() == [1978, 1951]


@pytest.mark.parametrize(
    ("name", "file", "message"),
    [
        (
            "baac.caracteristiques",
            "caracteristiques-2020-scientific.csv",
            r"'Num_Acc' holds '2,02E\+11'.*re-saved",
        ),
        (
            "baac.caracteristiques",
            "caracteristiques-2020-truncated.csv",
            r"'lat'.*cut to 2 decimals.*re-saved",
        ),
        ("baac.caracteristiques", "caracteristiques-2020-comma.csv", r"must be ';' separated.*re-saved"),
        ("baac.lieux", "lieux-2018-shifted.csv", r"line 3 has 17 fields where the header has 18.*shifted"),
        ("baac.lieux", "lieux-2018-extra-field.csv", r"line 3 has 20 fields.*more fields than the header"),
    ],
)
def test_damaged_files_are_refused_with_the_file_and_column(name, file, message):
    path = FIXTURES / "damaged" / file
    with pytest.raises(data.DataError, match=message) as raised:
        data.read(name, path)
    assert str(path) in str(raised.value)


def test_wrong_table_or_missing_file_is_named():
    with pytest.raises(data.DataError, match=r"'usagers' file, not 'lieux'"):
        data.read("baac.lieux", ERAS / "usagers-2017.csv")
    with pytest.raises(data.DataError, match="no such file"):
        data.read("radars", FIXTURES / "nope.csv")
    with pytest.raises(data.DataError, match="not a radars file"):
        data.read("radars", ERAS / "lieux-2020.csv")


def test_sdis_real_files_thousands_cp1252_and_brigades():
    path = SAMPLES_DIR / "sdis" / "interventions2018.csv"
    frame = data.read("sdis.interventions", path)
    assert len(frame) == 99 and frame.columns.is_unique
    assert all(column.isascii() and column == column.lower() for column in frame.columns)
    bspp = frame[frame["sdis"] == "BSPP"].iloc[0]
    assert bspp["dep"] == "75" and bspp["total_interventions"] == 522880  # "522 880" in the file
    assert set(frame.loc[frame["sdis"].isin(["2A", "2B", "01", "971"]), "dep"]) == {"2A", "2B", "01", "971"}
    assert pd.isna(bspp["malaises_a_domicile_carence"])  # "N.C."
    assert frame["total_interventions"].dtype == "Int32"
    assert (frame["region"] == "Provence-Alpes-Côte d'Azur").any()


def test_radars_real_file():
    frame = data.read("radars", SAMPLES_DIR / "radars" / "radars.csv")
    assert len(frame) == 3350 and frame["id"].is_unique
    assert frame["lat"].between(-22, 52).all() and frame["dep"].notna().all()
    assert str(frame["date_installation"].dt.tz) == "UTC"


def test_secmar_real_tables_typed_from_the_publisher_doc():
    operations = data.read("secmar.operations", SAMPLES_DIR / "secmar" / "operations.csv")
    assert operations["est_metropolitain"].dtype == "boolean" and operations["operation_id"].dtype == "Int64"
    assert (operations["operation_id"] < 0).any()
    assert str(operations["date_heure_reception_alerte"].dt.tz) == "UTC"
    assert operations.loc[operations["departement"] == "Morbihan", "dep"].iloc[0] == "56"
    stats = data.read("secmar.operations_stats", SAMPLES_DIR / "secmar" / "operations_stats.csv")
    assert stats["est_jour_ferie"].dtype == "boolean"
    with pytest.raises(data.DataError, match="not columns of the published SECMAR"):
        data.read("secmar.flotteurs", SAMPLES_DIR / "secmar" / "operations.csv")


def test_ccomptes_both_files():
    meta = data.read("ccomptes.publications", SAMPLES_DIR / "ccomptes" / "metadonnees.csv")
    assert meta["date"].notna().all() and set(meta["annee"].unique()) <= {2015, 2016, 2017}
    assert not meta["type"].astype("str").str.contains("'?", regex=False).any()
    texts = data.read("ccomptes.publications", SAMPLES_DIR / "ccomptes" / "data.csv")
    assert texts["texte"].notna().all() and list(meta.columns) == list(texts.columns)


def test_geo_outlines():
    deps = data.load("geo.departements", source="sample")
    assert {"01", "2A", "2B", "971", "976"} <= set(deps["code"]) and len(deps) == 101
    assert deps["code"].is_unique and deps.loc[deps["code"] == "29", "nom"].iloc[0] == "Finistère"
    paris = deps.loc[deps["code"] == "75", "geometry"].iloc[0].centroid
    assert deps.crs == "EPSG:4326" and 2.2 < paris.x < 2.5 and 48.8 < paris.y < 48.9
