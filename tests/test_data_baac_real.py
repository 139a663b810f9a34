"""The BAAC reader on the real published files (full 2013 year, real 2021 rows, 2018 extracts): INSEE codes,
"not filled in" markers and units, each checked against an independent reading with the csv module."""

from __future__ import annotations

import csv
import gzip
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from eigkit import data
from eigkit.cli import main
from eigkit.data import baac, baac_rules

REAL = Path(__file__).parent / "data" / "baac"
Y2021 = REAL / "2021-extraits"


@pytest.fixture(scope="session")
def year_2013(tmp_path_factory) -> Path:
    """The full real 2013 tables, decompressed (byte-identical to the published files)."""
    folder = tmp_path_factory.mktemp("baac-2013")
    for path in (REAL / "2013").glob("*.csv.gz"):
        with gzip.open(path) as source, (folder / path.name.removesuffix(".gz")).open("wb") as target:
            shutil.copyfileobj(source, target)
    return folder


def _rows(path: Path, *, delimiter: str = ",", encoding: str = "latin-1") -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def _insee_departement(dep3: str) -> str:
    """Pre-2019 ``dep`` (département x 10, Corse 201/202, overseas 97x) as an INSEE code, written apart."""
    return {"201": "2A", "202": "2B"}.get(dep3) or (dep3 if dep3.startswith("97") else dep3[:2])


def test_every_departement_of_the_real_2013_year_is_read(year_2013):
    path = year_2013 / "caracteristiques_2013.csv"
    frame = data.read("baac.caracteristiques", path)
    raw = _rows(path)
    assert len(frame) == len(raw) == 58397
    expected = Counter(_insee_departement(row["dep"]) for row in raw)
    assert frame["dep"].astype("str").value_counts().to_dict() == dict(expected)
    assert {"2A", "2B", "971", "972", "973", "974", "976"} <= set(expected)
    guadeloupe = next(index for index, row in enumerate(raw) if row["dep"] == "971")
    assert frame.loc[guadeloupe, "com"] == "971" + raw[guadeloupe]["com"][1:]  # '001' -> '97101'
    corsica = next(index for index, row in enumerate(raw) if row["dep"] == "201")
    assert frame.loc[corsica, "com"] == "2A" + raw[corsica]["com"]


def test_overseas_collectivities_of_2019_and_later_are_read():
    frame = data.read("baac.caracteristiques", Y2021 / "caracteristiques-2021_first25.csv")
    raw = _rows(Y2021 / "caracteristiques-2021_first25.csv", delimiter=";", encoding="utf-8")
    assert frame["dep"].astype("str").tolist() == [row["dep"] for row in raw]
    polynesie = frame[frame["dep"] == "987"].iloc[0]
    assert polynesie["com"] == "98715"
    assert polynesie["lat"] == pytest.approx(-17.584522) and polynesie["long"] == pytest.approx(-149.568578)
    for code in ("975", "977", "978", "986", "987", "988", "971", "976", "2A", "2B", "01", "95"):
        assert baac.DEPARTEMENT.fullmatch(code), code
    for not_code in ("00", "20", "96", "970", "979", "985", "989", "2C", "590"):
        assert not baac.DEPARTEMENT.fullmatch(not_code), not_code


def test_a_value_that_is_not_a_code_names_the_value_column_and_line(tmp_path):
    text = (Y2021 / "caracteristiques-2021_first25.csv").read_text(encoding="utf-8")
    assert text.splitlines()[8].split(";")[6] == '"987"'  # line 9 is the Polynésie accident
    damaged = tmp_path / "caracteristiques-2021.csv"
    damaged.write_text(text.replace('"987";"98715"', '"Tahiti";"98715"'), encoding="utf-8")
    with pytest.raises(data.DataError, match=r"column 'dep' holds 'Tahiti' at line 9, not an INSEE") as error:
        data.read("baac.caracteristiques", damaged)
    assert "spreadsheet" not in str(error.value)  # nothing in these bytes betrays a spreadsheet
    crlf = tmp_path / "crlf" / "caracteristiques-2021.csv"
    crlf.parent.mkdir()
    crlf.write_bytes(damaged.read_bytes().replace(b"\n", b"\r\n"))
    with pytest.raises(data.DataError, match=r"line 9.*signs of a spreadsheet re-save \(CRLF line ends\)"):
        data.read("baac.caracteristiques", crlf)


def test_no_marker_of_the_real_2013_lieux_survives_as_a_number(year_2013):
    path = year_2013 / "lieux_2013.csv"
    frame = data.read("baac.lieux", path)
    raw = pd.DataFrame(_rows(path))
    for column, markers in (("larrout", {"", "000"}), ("lartpc", {"", "000"}), ("nbv", {"", "00"})):
        missing = raw[column].isin(markers).to_numpy()
        assert missing.sum() > 1000, column  # the 20,246 larrout '000' and 6,626 nbv '00' are there
        assert frame[column].isna().to_numpy().tolist() == missing.tolist(), column
    assert frame["nbv"].dropna().min() >= 1
    # widths: decimetres as published, metres once read
    filled = raw["larrout"].where(~raw["larrout"].isin(["", "000"]))
    expected = filled.dropna().astype(int) / 10
    np.testing.assert_allclose(frame.loc[expected.index, "larrout"], expected)
    assert frame["larrout"].median() == 7.0 and frame["larrout"].min() > 0
    assert frame["pr"].isna().sum() == (raw["pr"] == "").sum()  # 0 is a real marker post


def test_no_marker_of_the_real_2021_rows_survives_as_a_number():
    lieux = data.read("baac.lieux", Y2021 / "lieux-2021_first70.csv")
    raw = pd.DataFrame(_rows(Y2021 / "lieux-2021_first70.csv", delimiter=";", encoding="utf-8"))
    assert (raw["larrout"] == " -1").sum() == 67 and lieux["larrout"].isna().sum() == 67
    assert lieux["larrout"].mean() == pytest.approx((4 + 3 + 5.5) / 3)  # was -0.78 with the sentinels
    for column in ("nbv", "vma", "pr", "pr1"):
        markers = raw[column].str.strip().isin(["-1", "(1)", "N/A", ""]) | (
            raw[column].str.strip().eq("0") & (column in ("nbv", "vma"))
        )
        assert lieux[column].isna().tolist() == markers.tolist(), column
        assert (lieux[column].dropna() >= 0).all(), column
    usagers = data.read("baac.usagers", Y2021 / "usagers-2021_first26.csv")
    raw_u = _rows(Y2021 / "usagers-2021_first26.csv", delimiter=";", encoding="utf-8")
    assert usagers["an_nais"].isna().tolist() == [row["an_nais"].strip() in ("-1", "") for row in raw_u]
    vehicules = data.read("baac.vehicules", Y2021 / "vehicules-2021_first23.csv")
    assert vehicules["occutc"].dropna().tolist() == [4]


def test_code_columns_keep_the_published_not_filled_in_code(year_2013):
    lieux = data.read("baac.lieux", Y2021 / "lieux-2021_first70.csv")
    raw = pd.DataFrame(_rows(Y2021 / "lieux-2021_first70.csv", delimiter=";", encoding="utf-8"))
    assert (lieux["circ"] == "-1").sum() == (raw["circ"] == " -1").sum() == 4
    assert data.labels("baac", "circ")["-1"] == "Non renseigné"
    old = data.read("baac.lieux", year_2013 / "lieux_2013.csv")
    raw_old = pd.DataFrame(_rows(year_2013 / "lieux_2013.csv"))
    assert (old["circ"] == "0").sum() == (raw_old["circ"] == "0").sum() == 3796
    assert old["circ"].isna().sum() == (raw_old["circ"] == "").sum()
    assert data.labels("baac", "circ")["0"] == "Non renseigné"
    assert data.labels("baac", "infra")["0"] == "Aucun"  # a real code keeps its codebook label
    assert old["circ"].map(data.labels("baac", "circ")).notna().sum() == old["circ"].notna().sum()


def test_the_rule_table_covers_every_column_and_is_shown_by_eig_data_info():
    own_readers = {"num_acc", "an", "mois", "jour", "hrmn", "datetime", "id_vehicule", "id_usager"}
    for table, columns in baac.SCHEMA.items():
        for column in set(columns) - own_readers:
            assert (table, column) in baac_rules.rules(), f"{table}.{column} has no rule"
    result = CliRunner().invoke(main, ["data", "info", "baac.lieux"])
    assert result.exit_code == 0, result.output
    larrout = next(line for line in result.output.splitlines() if line.strip().startswith("larrout"))
    assert "measure" in larrout and "[m]" in larrout and "'000'" not in larrout
    assert "empty cell, '0', '.' | empty cell, '-1', '0', 'N/A'" in larrout
    assert "larrout in m (published x10 before 2019, converted)" in result.output
    assert "'(1)'" in result.output and "'#ERREUR'" in result.output


def test_other_published_markers_and_true_values_near_them(tmp_path):
    """'#ERREUR' (written in nbv by some 2019+ files) is a marker; a longitude of exactly -1 is a place."""
    lieux = (Y2021 / "lieux-2021_first70.csv").read_text(encoding="utf-8")
    first = lieux.splitlines()[1]
    assert first.split(";")[6] == '"2"'  # nbv of line 2
    changed = tmp_path / "lieux-2021.csv"
    changed.write_text(
        lieux.replace(first, first.replace(';"2";"2";', ';"2";"#ERREUR";', 1)), encoding="utf-8"
    )
    frame = data.read("baac.lieux", changed)
    assert pd.isna(frame.loc[0, "nbv"]) and frame["nbv"].notna().sum() == 70 - 1 - 4  # 1 ' -1', 3 '0'
    caracteristiques = (Y2021 / "caracteristiques-2021_first25.csv").read_text(encoding="utf-8")
    moved = tmp_path / "caracteristiques-2021.csv"
    moved.write_text(caracteristiques.replace('"4,3480220000"', '"-1"', 1), encoding="utf-8")
    assert data.read("baac.caracteristiques", moved).loc[0, "long"] == -1.0
