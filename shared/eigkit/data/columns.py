"""Column converters shared by the family readers: codes as categoricals, integers, decimals, concatenation.

They work on the unique values of a column (``pandas.factorize``) so that large tables stay fast.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import union_categoricals

from eigkit.data.errors import DataError

#: cell values that mean "no value" in the published files
NA_TOKENS = frozenset({"", "N/A", "NA", "N.C.", "NC", "nan", "NaN", "null", "NULL", "None", "-", "."})
_INT = re.compile(r"-?\d+")
#: a number as a spreadsheet shows a long integer (``2,02E+11``, ``2.016E+11``)
SCIENTIFIC = re.compile(r"-?\d+(?:[.,]\d+)?[Ee][+-]?\d+")
_SPACES = str.maketrans("", "", " \u00a0\u202f")
#: the characters Python's ``str.strip()`` and regex ``\s`` treat as white space (``str.isspace``; RE2's
#: ``\s`` is ASCII only), so that Arrow's regex kernels remove exactly what Python's ``re`` removes
WHITESPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + (
    "\u2028\u2029\u202f\u205f\u3000"
)
#: RE2 character class of :data:`WHITESPACE` (for ``pyarrow.compute`` regex kernels)
WHITESPACE_CLASS = "[" + "".join(f"\\x{{{ord(char):x}}}" for char in WHITESPACE) + "]"
#: a decimal number Arrow parses exactly as Python's ``float`` does (anything else takes the Python path)
_PLAIN_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"
_NA_SET = pa.array(sorted(NA_TOKENS), type=pa.large_string())


def unique_text(series: pd.Series) -> tuple[np.ndarray, pa.Array]:
    """Factorize ``series``: (codes, its distinct values as an Arrow string array, ``str()`` of each).

    A missing cell gets code -1 (and no entry among the distinct values).
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    if isinstance(uniques, pd.Index) and uniques.dtype == "str":
        return codes, pa.array(uniques, type=pa.large_string())
    return codes, pa.array([str(value) for value in uniques], type=pa.large_string())


def strip(values: pa.Array) -> pa.Array:
    """Arrow strings stripped of white space at both ends (Arrow's Unicode white space is
    :data:`WHITESPACE`, what ``str.strip()`` strips)."""
    return pc.utf8_trim_whitespace(values)


def remove_spaces(values: pa.Array) -> pa.Array:
    """Arrow strings with every :data:`WHITESPACE` character removed (like ``re.sub(r"\\s", "", ...)``)."""
    return pc.replace_substring_regex(values, WHITESPACE_CLASS, "")


def without_spaces(series: pd.Series) -> pd.Series:
    """Text with every white-space character removed (``155\u00a0680\u00a0557`` -> ``155680557``)."""
    text = remove_spaces(pa.array(series.astype("str"), type=pa.large_string()))
    return pd.Series(text, index=series.index, dtype="str")


def _non_ascii(values: pa.Array) -> np.ndarray:
    """Positions of the values holding non-ASCII characters (Unicode digits: left to the Python path)."""
    return np.flatnonzero(~pc.string_is_ascii(values).to_numpy(zero_copy_only=False))


def unpadded_integers(text: pa.Array) -> pa.Array:
    """``str(int(value))`` of the values that are ASCII integers (``'007'`` -> ``'7'``, ``'-00'`` -> ``'0'``);
    the other values come back altered and must be masked by the caller."""
    unpadded = pc.replace_substring_regex(text, r"^(-?)0+(\d)", r"\1\2")
    return pc.if_else(pc.equal(unpadded, "-0"), "0", unpadded)


def _canonical_codes(values: pa.Array) -> pa.Array:
    """:func:`canonical_code` of every value of an Arrow string array (NA tokens -> null), vectorised."""
    text = strip(values)
    integer = pc.match_substring_regex(text, r"^-?\d+$")
    canonical = pc.if_else(pc.is_in(text, value_set=_NA_SET), None,
                           pc.if_else(integer, unpadded_integers(text), text))  # fmt: skip
    slow = _non_ascii(values)
    if len(slow):
        exact = canonical.to_pylist()
        for position in slow:
            exact[position] = canonical_code(values[int(position)].as_py())
        canonical = pa.array(exact, type=pa.large_string())
    return canonical


def _categorical(
    codes: np.ndarray, values: pa.Array, order: Callable[[pa.Array], np.ndarray]
) -> pd.Categorical:
    """A categorical of the rows whose factorized ``codes`` index ``values`` (null -> NA); categories are the
    distinct non-null values sorted by ``order`` (positions)."""
    distinct = pc.unique(values.drop_null())
    categories = distinct.take(pa.array(order(distinct), type=pa.int64()))
    position = pc.fill_null(pc.index_in(values, value_set=categories), -1).to_numpy(zero_copy_only=False)
    mapping = np.append(position.astype(np.int64), -1)
    return pd.Categorical.from_codes(mapping[codes], categories=pd.Index(categories, dtype="str"))


def _text_order(values: pa.Array) -> np.ndarray:
    return pc.sort_indices(values).to_numpy()


def line_of(codes: np.ndarray, position: int) -> str:
    """Where the first row whose factorized code is ``position`` is: ``"line 7"`` (the header is line 1).

    Exact for files without line breaks inside quoted values (every file the readers of this kit parse
    except the HTML texts of ``ccomptes``), where it then counts records.
    """
    return row_line(int(np.flatnonzero(codes == position)[0]))


def row_line(row: int) -> str:
    """``"line N"`` of the data row at 0-based position ``row`` (the header is line 1)."""
    return f"line {row + 2}"


def canonical_code(value: str) -> str | None:
    """``' 07'`` -> ``'7'``, ``'-1'`` -> ``'-1'``, ``'A'`` -> ``'A'``, ``''``/``'N/A'`` -> ``None``."""
    text = value.strip()
    if text in NA_TOKENS:
        return None
    if _INT.fullmatch(text):
        return str(int(text))
    return text


def _sort_key(code: str) -> tuple[int, float, str]:
    return (0, int(code), "") if _INT.fullmatch(code) else (1, 0, code)


def code_order(values: pd.Index | pa.Array) -> np.ndarray:
    """Positions sorting ``values`` like :func:`_sort_key` (integers by value, then text), in Arrow."""
    if isinstance(values, pa.Array):
        text = values.cast(pa.large_string())
    else:
        text = pa.array(values.astype("str").to_numpy(dtype=object), type=pa.large_string())
    numeric = pc.fill_null(pc.match_substring_regex(text, r"^-?\d+$"), False)
    keys = pa.table({
        "kind": pc.invert(numeric),
        "number": pc.cast(pc.if_else(numeric, text, "0"), pa.float64()),
        "text": pc.if_else(numeric, "", text),
    })  # fmt: skip
    return pc.sort_indices(keys, sort_keys=[(name, "ascending") for name in keys.column_names]).to_numpy()


def as_code(series: pd.Series, *, path: Path | str, column: str, max_length: int = 3) -> pd.Categorical:
    """Codes in one representation across years (``'07'`` and ``'7'`` -> ``'7'``) as a categorical.

    A value longer than ``max_length`` means the columns are shifted: :class:`DataError`.
    """
    codes, values = unique_text(series)
    canon = _canonical_codes(values)
    too_long = pc.fill_null(pc.greater(pc.utf8_length(canon), max_length), False)
    if pc.any(too_long).as_py():
        position = int(np.flatnonzero(too_long.to_numpy(zero_copy_only=False))[0])
        raise DataError(
            f"{path}: column {column!r} holds {canon[position].as_py()!r} at {line_of(codes, position)} "
            "where a short code is expected. The columns look shifted or the file is not the published one: "
            "download the original file again."
        )
    return _categorical(codes, canon, code_order)


def as_category(series: pd.Series) -> pd.Categorical:
    """Free text with few distinct values as a categorical (stripped; NA tokens -> NA)."""
    codes, values = unique_text(series)
    text = strip(values)
    return _categorical(codes, pc.if_else(pc.is_in(text, value_set=_NA_SET), None, text), _text_order)


def _parse_number(value: str, *, decimal_comma: bool) -> float | None:
    text = value.strip().translate(_SPACES)
    if text in NA_TOKENS:
        return None
    if decimal_comma:
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return float("nan")  # marks an unparsable value (None marks an empty one)


def _numbers(series: pd.Series, *, path: Path | str, column: str, decimal_comma: bool) -> np.ndarray:
    codes, values = unique_text(series)
    text = pc.replace_substring_regex(strip(values), "[ \\x{a0}\\x{202f}]", "")
    empty = pc.is_in(text, value_set=_NA_SET).to_numpy(zero_copy_only=False)
    if decimal_comma:
        text = pc.replace_substring(text, ",", ".")
    plain = pc.match_substring_regex(text, _PLAIN_NUMBER).to_numpy(zero_copy_only=False) & ~empty
    parsed = pc.cast(pc.if_else(pa.array(plain), text, None), pa.float64())
    table = np.array(parsed.to_numpy(zero_copy_only=False), dtype="float64")
    unparsable = []
    for position in np.flatnonzero(~plain & ~empty):  # what Arrow does not parse like float(): Python's way
        value = _parse_number(values[int(position)].as_py(), decimal_comma=decimal_comma)
        table[position] = np.nan if value is None else value
        if value is not None and np.isnan(value):
            unparsable.append(int(position))
    if unparsable:
        position = unparsable[0]
        raw = series.iloc[int(np.flatnonzero(codes == position)[0])]
        hint = (
            " The value is in scientific notation: the file was re-saved by a spreadsheet."
            if SCIENTIFIC.fullmatch(str(raw).strip())
            else ""
        )
        raise DataError(
            f"{path}: column {column!r} holds {raw!r} at {line_of(codes, position)} where a number is "
            f"expected.{hint} Download the original file again, or check that the file matches the "
            "dataset."
        )
    return np.append(table, np.nan)[codes]


def as_int(series: pd.Series, *, path: Path | str, column: str, dtype: str = "Int32") -> pd.Series:
    """Integers written with thousands separators (space, no-break space) -> nullable ``dtype``."""
    values = _numbers(series, path=path, column=column, decimal_comma=False)
    if np.any(~np.isnan(values) & (values != np.round(values))):
        raise DataError(f"{path}: column {column!r} holds decimals where whole numbers are expected.")
    return pd.Series(values, index=series.index).round().astype(dtype)


def as_float(series: pd.Series, *, path: Path | str, column: str, decimal_comma: bool = True) -> pd.Series:
    """Decimals (decimal comma accepted) -> float64 with NaN for empty cells."""
    return pd.Series(
        _numbers(series, path=path, column=column, decimal_comma=decimal_comma), index=series.index
    )


def as_datetime(
    series: pd.Series, *, path: Path | str, column: str, format: str = "ISO8601", utc: bool = False
) -> pd.Series:
    """Dates or timestamps written as ``format`` (empty -> NaT).

    A value that is not one raises :class:`DataError` naming it, the column and its line (never a silent NaT).
    """
    codes, uniques = pd.factorize(series.astype("str").str.strip(), use_na_sentinel=True)
    filled = np.array([value not in NA_TOKENS for value in uniques], dtype=bool)
    parsed = pd.to_datetime(pd.Series(uniques, dtype="object").where(filled), format=format, utc=utc,
                            errors="coerce")  # fmt: skip
    failed = np.flatnonzero(filled & parsed.isna().to_numpy())
    if len(failed):
        position = int(failed[0])
        written = format.replace("%d", "dd").replace("%m", "mm").replace("%Y", "yyyy")
        expected = "an ISO 8601 timestamp" if format == "ISO8601" else f"a date written {written}"
        raise DataError(
            f"{path}: column {column!r} holds {uniques[position]!r} at {line_of(codes, position)} where "
            f"{expected} is expected. Check that the file is the published one (download it again)."
        )
    with_empty = pd.concat([parsed, pd.Series([pd.NaT], dtype=parsed.dtype)], ignore_index=True)
    return pd.Series(with_empty.iloc[codes].to_numpy(), index=series.index, dtype=parsed.dtype)


def as_text(series: pd.Series) -> pd.Series:
    """Free text, stripped, empty or ``N/A`` -> NA (pandas ``str`` dtype)."""
    stripped = series.astype("str").str.strip()
    return stripped.where(~stripped.isin(["", "N/A"]), None).astype("str")


def require_columns(frame: pd.DataFrame, required: Iterable[str], *, path: Path | str, what: str) -> None:
    """Raise :class:`DataError` naming the missing columns of a ``what`` file."""
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: not a {what} file: column(s) {', '.join(map(repr, missing))} missing (found: "
            f"{', '.join(map(str, frame.columns[:12]))}). Check that the file matches the dataset name."
        )


def concat_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate normalised frames, keeping categorical columns categorical (union of categories)."""
    frames = [frame for frame in frames if frame is not None]
    if len(frames) == 1:
        return frames[0]
    if not frames:
        return pd.DataFrame()
    columns = {}
    for column in frames[0].columns:
        parts = [frame[column] for frame in frames]
        if all(isinstance(part.dtype, pd.CategoricalDtype) for part in parts):
            union = union_categoricals([part.array for part in parts], ignore_order=True)
            order = code_order(union.categories)
            if not np.array_equal(order, np.arange(len(order))):
                union = union.reorder_categories(union.categories[order])
            columns[column] = pd.Series(union, name=column)
        else:
            columns[column] = pd.concat(parts, ignore_index=True)
    return type(frames[0])(columns)  # a GeoDataFrame (geo.*) stays one
