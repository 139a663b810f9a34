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


def _map_uniques(series: pd.Series, convert: Callable[[str], object]) -> tuple[np.ndarray, list]:
    """Factorize ``series`` and convert each unique value once; return (codes, converted uniques)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes, [convert(str(value)) for value in uniques]


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
    codes, canon = _map_uniques(series, canonical_code)
    for position, value in enumerate(canon):
        if value is not None and len(value) > max_length:
            raise DataError(
                f"{path}: column {column!r} holds {value!r} at {line_of(codes, position)} where a short code "
                "is expected. The columns look shifted or the file is not the published one: download the "
                "original file again."
            )
    categories = sorted({value for value in canon if value is not None}, key=_sort_key)
    position = {value: index for index, value in enumerate(categories)}
    mapping = np.array([position.get(value, -1) if value is not None else -1 for value in canon] + [-1])
    return pd.Categorical.from_codes(mapping[codes], categories=pd.Index(categories, dtype="str"))


def as_category(series: pd.Series) -> pd.Categorical:
    """Free text with few distinct values as a categorical (stripped; NA tokens -> NA)."""
    codes, canon = _map_uniques(series, lambda value: None if value.strip() in NA_TOKENS else value.strip())
    categories = sorted({value for value in canon if value is not None})
    position = {value: index for index, value in enumerate(categories)}
    mapping = np.array([position.get(value, -1) if value is not None else -1 for value in canon] + [-1])
    return pd.Categorical.from_codes(mapping[codes], categories=pd.Index(categories, dtype="str"))


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
    codes, values = _map_uniques(series, lambda value: _parse_number(value, decimal_comma=decimal_comma))
    uniques = pd.unique(series)
    for position, (raw, value) in enumerate(zip(uniques, values, strict=True)):
        if value is not None and np.isnan(value):
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
    table = np.array([np.nan if value is None else value for value in values] + [np.nan], dtype="float64")
    return table[codes]


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
