"""Damaged copies of the era fixtures (one alteration each, as a spreadsheet or a cut download makes them)
are refused with the file, the place and the cause; harmless variants of the bytes read the same."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from eigkit import data
from eigkit.cli import main
from eigkit.data.registry import SAMPLES_DIR

ERAS = Path(__file__).parent / "data" / "baac"


def _altered(tmp_path: Path, file: str, old: str, new: str, *, encoding: str = "utf-8") -> Path:
    """A copy of the fixture ``file`` with the first ``old`` replaced by ``new``."""
    text = (ERAS / file).read_bytes().decode(encoding)
    assert old in text, f"{old!r} is not in {file}"
    path = tmp_path / file
    path.write_bytes(text.replace(old, new, 1).encode(encoding))
    return path


@pytest.mark.parametrize(
    ("name", "file", "old", "new", "message"),
    [
        # a pre-2019 key shown in scientific notation with a decimal point (README's `2.023E+11`)
        ("caracteristiques", "caracteristiques_2016.csv", "201600000002", "2.016E+11",
         r"'Num_Acc' holds '2\.016E\+11'.*\(row 3\).*re-saved"),
        # pre-2019 coordinates are integers x 100000: a decimal one was recomputed by a spreadsheet
        ("caracteristiques", "caracteristiques_2016.csv", "5055737", "50.55737",
         r"'lat' holds '50\.55737'.*integers x 100000.*re-saved"),
        ("caracteristiques", "caracteristiques_2016.csv", ",1445,", ",14h45,", r"'hrmn' holds '14h45'"),
        ("caracteristiques", "caracteristiques-2020.csv", '"08";"05"', '"08";"15"',
         r"'mois'/'jour'.*shifted"),
        ("caracteristiques", "caracteristiques-2020.csv", '"2A";"2A004"', '"2A004";"2A"',
         r"'dep' holds '2A004'.*shifted"),
        # a text where a code is expected, with the right number of fields
        ("lieux", "lieux-2020.csv", '"202000000002";"4"', '"202000000002";"Route de Bailleul"',
         r"'catr' holds 'Route de Bailleul'.*shifted"),
        ("usagers", "usagers-2023.csv", '"1978"', '"1978,5"',
         r"'an_nais' holds '1978,5'.*Download the original"),
        # a quoted 2019+ row that lost a field
        ("vehicules", "vehicules-2021.csv", '"B01";"2";', '"B01";',
         r"line 2 has 10 fields where the header has 11"),
    ],
)  # fmt: skip
def test_damaged_copies_are_refused(tmp_path, name, file, old, new, message):
    path = _altered(tmp_path, file, old, new, encoding="latin-1" if "_" in file else "utf-8")
    with pytest.raises(data.DataError, match=message) as raised:
        data.read(f"baac.{name}", path)
    assert str(path) in str(raised.value)


def test_a_download_cut_short_is_refused_not_padded(tmp_path):
    original = (ERAS / "vehicules-2021.csv").read_bytes()
    assert len(data.read("baac.vehicules", ERAS / "vehicules-2021.csv")) == 3
    cut = tmp_path / "vehicules-2021.csv"
    cut.write_bytes(original[: original.rindex(b'"0";"0"')])  # the last row stops after its 'obs'
    with pytest.raises(data.DataError, match=r"line 4 has 6 fields where the header has 11.*cut short"):
        data.read("baac.vehicules", cut)


def test_harmless_variants_read_the_same(tmp_path):
    """A UTF-8 byte-order mark, CRLF line ends, cp1252 bytes or a header alone are not damage."""
    source = ERAS / "caracteristiques-2020.csv"
    expected = data.read("baac.caracteristiques", source)
    text = source.read_text(encoding="utf-8")
    variants = {
        "bom.csv": b"\xef\xbb\xbf" + source.read_bytes(),
        "crlf.csv": text.replace("\n", "\r\n").encode("utf-8"),
        "cp1252.csv": text.encode("cp1252"),
    }
    for file, body in variants.items():
        (tmp_path / file).write_bytes(body)
        pd.testing.assert_frame_equal(data.read("baac.caracteristiques", tmp_path / file), expected, obj=file)
    (tmp_path / "header.csv").write_text(text.split("\n")[0] + "\n", encoding="utf-8")
    empty = data.read("baac.caracteristiques", tmp_path / "header.csv")
    assert len(empty) == 0 and list(empty.columns) == list(expected.columns)


# Hostile copies of the real files of every reader: compressed or binary bytes, dates that are not dates,
# codes that are not codes. Each is refused with a DataError naming the file (and the value and line).
REAL_FILES = {
    "baac.caracteristiques": SAMPLES_DIR / "baac" / "caracteristiques_2013.csv",
    "baac.lieux": SAMPLES_DIR / "baac" / "lieux-2021.csv",
    "radars": SAMPLES_DIR / "radars" / "radars.csv",
    "secmar.operations": SAMPLES_DIR / "secmar" / "operations.csv",
    "ccomptes.publications": SAMPLES_DIR / "ccomptes" / "metadonnees.csv",
    "sdis.interventions": SAMPLES_DIR / "sdis" / "interventions2018.csv",
}


def _zip(body: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.csv", body)
    return buffer.getvalue()


BINARY = {
    "gzip": (gzip.compress, r"this is a gzip-compressed file, not a CSV text file: decompress it first"),
    "zip": (_zip, r"this is a zip archive \(or an \.xlsx/\.ods workbook\)"),
    "utf16": (lambda body: body.decode("latin-1").encode("utf-16"), r"this is text in UTF-16.*UTF-8"),
    "nul": (lambda body: body[:200] + b"\x00\x07\x00" + body[200:], r"a binary file \(it holds NUL bytes\)"),
}


@pytest.mark.parametrize("name", sorted(REAL_FILES))
@pytest.mark.parametrize("kind", sorted(BINARY))
def test_binary_or_compressed_copies_are_refused_by_what_they_are(tmp_path, name, kind):
    alter, message = BINARY[kind]
    path = tmp_path / f"copy-{kind}.csv"
    path.write_bytes(alter(REAL_FILES[name].read_bytes()))
    with pytest.raises(data.DataError, match=message) as raised:
        data.read(name, path)
    assert str(path) in str(raised.value)


def test_eig_data_read_on_a_gzip_file_says_what_it_is_without_a_traceback(tmp_path):
    path = tmp_path / "lieux-2021.csv.gz"
    path.write_bytes(gzip.compress((SAMPLES_DIR / "baac" / "lieux-2021.csv").read_bytes()))
    result = CliRunner().invoke(main, ["data", "read", "baac.lieux", str(path)])
    assert result.exit_code == 1
    assert "gzip-compressed file" in result.output and "gunzip" in result.output
    assert "Traceback" not in result.output and "_csv.Error" not in result.output


def _hostile(tmp_path: Path, source: Path, old: bytes, new: bytes) -> Path:
    body = source.read_bytes()
    assert old in body, f"{old!r} is not in {source.name}"
    path = tmp_path / source.name
    path.write_bytes(body.replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("name", "old", "new", "message"),
    [
        # today pandas' DateParseError
        ("secmar.operations", b"2019-07-11T15:13:00Z", b"11/07/2019 15h13",
         r"'date_heure_reception_alerte' holds '11/07/2019 15h13' at line 2 where an ISO 8601 timestamp"),
        # these used to turn silently into NaT
        ("radars", b"2010-02-12T00:00:00Z", b"12/02/2010",
         r"'date_installation' holds '12/02/2010' at line 2"),
        ("ccomptes.publications", b"15/03/2017", b"31/02/2017",
         r"'Date du document' holds '31/02/2017' at line 2 where a date written dd/mm/yyyy is expected"),
        ("secmar.operations", b",True,", b",Vrai?,", r"'est_metropolitain' holds 'Vrai\?' where True/False"),
        ("radars", b",57,49.11907", b",Moselle,49.11907",
         r"'departement' holds 'Moselle' at line 2, not an INSEE d.partement code"),
        ("radars", b",49.11907,", b",49.119O7,", r"'latitude' holds '49.119O7' at line 2 where a number"),
        ("baac.caracteristiques", b",590\n", b",599\n", r"'dep' holds '599' at line 2, not an INSEE"),
        ("baac.lieux", b'"5,5"', b'"cinq"',
         r"'larrout' holds 'cinq' at line \d+, which is neither a number nor"),
    ],
)  # fmt: skip
def test_hostile_values_are_refused_with_value_column_and_line(tmp_path, name, old, new, message):
    path = _hostile(tmp_path, REAL_FILES[name], old, new)
    with pytest.raises(data.DataError, match=message) as raised:
        data.read(name, path)
    assert str(path) in str(raised.value)


def test_real_quirks_are_not_refused():
    """What the real files really hold reads: '50 – Manche' in radars.csv, Corsica and overseas rows."""
    radars = data.read("radars", REAL_FILES["radars"])
    assert "50 – Manche" not in set(radars["dep"].astype("str")) and radars["dep"].notna().all()
    assert radars["dep"].isin(["2A", "2B", "971", "974"]).any()
    assert str(radars["date_installation"].dt.tz) == "UTC" and radars["date_installation"].notna().all()


def test_a_spreadsheet_is_blamed_only_when_the_bytes_show_one(tmp_path):
    shifted = Path(__file__).parent / "data" / "damaged" / "lieux-2018-shifted.csv"
    with pytest.raises(data.DataError, match=r"line 3 has 17 fields") as plain:
        data.read("baac.lieux", shifted)
    assert "spreadsheet" not in str(plain.value)
    crlf = tmp_path / shifted.name
    crlf.write_bytes(shifted.read_bytes().replace(b"\n", b"\r\n"))
    with pytest.raises(data.DataError, match=r"signs of a spreadsheet re-save \(CRLF line ends\)"):
        data.read("baac.lieux", crlf)
