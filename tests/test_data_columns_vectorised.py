"""The column converters run as Arrow kernels on the distinct values of a column; these tests hold them to
the per-value Python rules they replace (``canonical_code``, ``float()``, ``str.strip()``, regex ``\\s``),
including the spellings Arrow alone would read differently, and to their precise error messages."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from eigkit.data import baac, baac_rules, columns, frames
from eigkit.data.columns import (
    NA_TOKENS,
    WHITESPACE,
    _sort_key,
    as_category,
    as_code,
    as_float,
    as_int,
    canonical_code,
    without_spaces,
)
from eigkit.data.errors import DataError
from eigkit.data.sniff import read_text_table

#: cells as the published files and their damaged copies write them: padded codes, signs, markers, NA
#: tokens, thousands and decimal separators, Unicode digits and spaces, float() spellings Arrow lacks
TRICKY = [
    "0", "00", "7", "07", " 7", "007 ", "-1", " -1", "-0", "-00", "12", "+4", "A", "B01", "2A", "É",
    "\u0661\u0662", "\uff17", "", " ", "\u00a0", "N/A", "NA", ".", "-", "None", "  N/A ", "abc",
    "\u2003x\u2003", "x\x1c", "(1)", "9999", "0x10",
]  # fmt: skip
NUMBERS = [
    "1", "+1", "-3", "5.", ".5", "1e5", "1E-3", "00012", "1 234", "1\u00a0234", "1\u202f234", "3,5",
    "0.1", "", " ", "N/A", ".", "nan", "1_000", "\u0661\u0662", "inf", "-Infinity", " 2 ",
]  # fmt: skip


def test_whitespace_is_exactly_what_python_strips():
    """Arrow's regex kernels remove ``WHITESPACE``: Python's ``str.isspace`` set, no more, no less."""
    python = {chr(point) for point in range(sys.maxunicode + 1) if chr(point).isspace()}
    assert set(WHITESPACE) == python
    values = pd.Series(["1\u2009234", "\u3000 5 \u0085", "a\tb\nc"], dtype="str")
    assert without_spaces(values).tolist() == [re.sub(r"\s", "", value) for value in values]


@pytest.mark.parametrize("dtype", ["str", object])
def test_codes_match_the_per_value_rule(dtype):
    result = as_code(pd.Series(TRICKY, dtype=dtype), path="f.csv", column="catr", max_length=5)
    converted = [canonical_code(value) for value in TRICKY]
    expected = sorted({value for value in converted if value is not None}, key=_sort_key)
    assert list(result.categories) == expected
    assert result.categories.dtype == "str"
    assert [None if pd.isna(value) else value for value in result] == converted
    assert canonical_code("\u0661\u0662") == "12"  # Unicode digits: Python's int() reads them
    assert "12" in result.categories


def test_a_code_too_long_is_named_with_its_line():
    expected = r"column 'catr' holds '1234' at line 4 where a short code is expected"
    with pytest.raises(DataError, match=expected):
        as_code(pd.Series(["1", " 01", "01234", "2"], dtype="str"), path="f.csv", column="catr")


def test_categories_match_the_per_value_rule():
    values = [*TRICKY, "RUE DE LA PAIX", " RUE DE LA PAIX", "rue de la paix", "Zoé", "Zoe"]
    result = as_category(pd.Series(values, dtype="str"))

    def strip(value: str) -> str | None:
        return None if value.strip() in NA_TOKENS else value.strip()

    converted = [strip(value) for value in values]
    assert list(result.categories) == sorted({value for value in converted if value is not None})
    assert [None if pd.isna(value) else value for value in result] == converted


@pytest.mark.parametrize("decimal_comma", [True, False])
def test_numbers_match_python_float(decimal_comma):
    values = [value for value in NUMBERS if value not in ("3,5", "1_000")] + ["1_000"]
    if decimal_comma:
        values.append("3,5")
    expected = []
    for value in values:
        text = value.strip().translate(str.maketrans("", "", " \u00a0\u202f"))
        if text in NA_TOKENS:
            expected.append(np.nan)
        else:
            expected.append(float(text.replace(",", ".") if decimal_comma else text))
    result = as_float(pd.Series(values, dtype="str"), path="f.csv", column="x", decimal_comma=decimal_comma)
    np.testing.assert_array_equal(result.to_numpy(), np.array(expected))
    assert result.loc[values.index("1_000")] == 1000.0  # Python's float() reads it, Arrow alone does not


def test_a_value_that_is_no_number_is_named_with_its_line():
    with pytest.raises(DataError, match=r"column 'nbv' holds 'deux' at line 4 where a number is expected"):
        as_int(pd.Series(["1", "2", "deux", "2"], dtype="str"), path="f.csv", column="nbv")
    with pytest.raises(DataError, match=r"holds '2,02E\+11' at line 3 .* scientific notation"):
        as_float(pd.Series(["1", "2,02E+11"], dtype="str"), path="f.csv", column="x", decimal_comma=False)
    with pytest.raises(DataError, match=r"holds 'NAN' at line 2"):  # float('NAN') is nan, not a number
        as_float(pd.Series(["NAN"], dtype="str"), path="f.csv", column="x")


def test_missing_cells_keep_no_code():
    """A missing cell (object column of a non-CSV reader) is NA, whatever converter reads it."""
    series = pd.Series(["1", None, "01", np.nan], dtype=object)
    assert as_code(series, path="f", column="c").isna().tolist() == [False, True, False, True]
    assert as_float(series, path="f", column="c").isna().tolist() == [False, True, False, True]


def test_measures_markers_and_units_per_value():
    item = baac_rules.rule("lieux", "larrout")
    series = pd.Series(["-1", " -1", "N/A", "", "0", "6,5", "7", "1 2", "00"], dtype="str")
    values = baac_rules.measure(series, item, post2019=True, path="f.csv")
    assert values.isna().tolist() == [True, True, True, True, True, False, False, False, True]
    assert values.dropna().tolist() == [6.5, 7.0, 12.0]
    before = baac_rules.measure(pd.Series(["70", "000", ".", "55"]), item, post2019=False, path="f.csv")
    assert before.tolist()[0] == pytest.approx(7.0) and before.isna().tolist() == [False, True, True, False]
    with pytest.raises(DataError, match=r"column 'larrout' holds '6m' at line 3, which is neither a number"):
        baac_rules.measure(pd.Series(["6", "6m"]), item, post2019=True, path="f.csv")
    marker = baac_rules.is_marker(pd.Series([" -01", "-1", "1", ""]), frozenset({"-1", "empty"}))
    assert marker.tolist() == [True, True, False, True]


@pytest.mark.parametrize(
    ("prefix", "encoding"), [(b"", "utf-8"), (b"\xef\xbb\xbf", "utf-8"), (b"", "cp1252")]
)
def test_utf8_bom_and_cp1252_files_read_the_same(tmp_path, prefix, encoding):
    text = "Num_Acc;adr;dep\n201300000001;ALLÉE DES ÉCOLES;590\n201300000002;RUE DU 8 MAI;2A\n"
    path = tmp_path / "caracteristiques.csv"
    path.write_bytes(prefix + text.encode(encoding))
    frame, fmt = read_text_table(path)
    assert frame.columns.tolist() == ["Num_Acc", "adr", "dep"]
    assert frame["adr"].tolist() == ["ALLÉE DES ÉCOLES", "RUE DU 8 MAI"]
    assert fmt.bom is bool(prefix)
    assert fmt.encoding == ("utf-8-sig" if prefix else encoding)


def test_the_converters_work_on_distinct_values():
    """The per-value work is done once per distinct value, not per row (what keeps a first load fast)."""
    rows = pd.Series(["07", "7", " 7", "N/A"] * 50_000, dtype="str")
    codes, values = columns.unique_text(rows)
    assert len(values) == 4 and codes.max() == 3
    result = as_code(rows, path="f", column="c")
    assert list(result.categories) == ["7"] and result.isna().sum() == 50_000


def test_lieux_of_both_eras_concatenate_in_arrow(monkeypatch):
    """``pr``/``pr1`` are numbers in every era (the codebook's ``float32``), so a multi-year ``lieux`` load
    concatenates in Arrow instead of falling back to pandas' slower concatenation."""
    baac_dir = Path(__file__).parent / "data" / "baac"  # real published rows of both eras
    before = baac.read("lieux", baac_dir / "lieux-2018-extrait.csv")
    after = baac.read("lieux", baac_dir / "2021-extraits" / "lieux-2021_first70.csv")
    for column in ("pr", "pr1"):
        assert before[column].dtype == after[column].dtype == baac_rules.rule("lieux", column).dtype
    assert [str(dtype) for dtype in before.dtypes] == [str(dtype) for dtype in after.dtypes]

    def no_fallback(parts):
        raise AssertionError("multi-year lieux fell back to pandas' concatenation")

    monkeypatch.setattr(frames, "concat_frames", no_fallback)
    tables = [pa.Table.from_pandas(frame, preserve_index=False) for frame in (before, after)]
    both = frames.tables_to_frame(tables)
    assert len(both) == len(before) + len(after)
    assert both["pr1"].dtype == "float32"
