"""Damaged copies of the era fixtures (one alteration each, as a spreadsheet or a cut download makes them)
are refused with the file, the place and the cause; harmless variants of the bytes read the same."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from eigkit import data

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
