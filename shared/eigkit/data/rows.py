"""Numbers read through :mod:`eigkit.data.columns`, with the file line of the first bad cell in the error.

``columns.as_int`` / ``as_float`` name the file, the column and the value; the readers of the DVF, SSMSI and
verbalisation files also promise the line, which these wrappers add.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from eigkit.data.columns import NA_TOKENS, as_float, as_int
from eigkit.data.errors import DataError

_SPACES = str.maketrans("", "", " \u00a0\u202f")


def _value(text: str, *, decimal_comma: bool) -> float | None:
    """The number in a cell as the converters read it; None when empty, NaN when not a number."""
    cleaned = text.strip().translate(_SPACES)
    if cleaned in NA_TOKENS:
        return None
    try:
        return float(cleaned.replace(",", ".") if decimal_comma else cleaned)
    except ValueError:
        return float("nan")


def _first_bad_line(series: pd.Series, *, decimal_comma: bool, whole: bool) -> int | None:
    values = [_value(str(cell), decimal_comma=decimal_comma) for cell in series]
    for label, value in zip(series.index, values, strict=True):
        if value is not None and (np.isnan(value) or (whole and value != round(value))):
            return int(label) + 2  # labels are rows as read; line 1 is the header
    return None


def _with_line(error: DataError, series: pd.Series, *, path: Path | str, decimal_comma: bool, whole: bool):
    message = str(error)
    if " line " in message:  # the converter already names it
        return error
    line = _first_bad_line(series, decimal_comma=decimal_comma, whole=whole)
    if line is not None and message.startswith(f"{path}: "):
        message = f"{path}: line {line}, {message[len(str(path)) + 2 :]}"
    return DataError(message)


def integers(series: pd.Series, *, path: Path | str, column: str, dtype: str = "Int32") -> pd.Series:
    """:func:`eigkit.data.columns.as_int`, naming the line of the first bad cell when it refuses."""
    try:
        return as_int(series, path=path, column=column, dtype=dtype)
    except DataError as error:
        raise _with_line(error, series, path=path, decimal_comma=False, whole=True) from None


def decimals(series: pd.Series, *, path: Path | str, column: str, decimal_comma: bool = True) -> pd.Series:
    """:func:`eigkit.data.columns.as_float`, naming the line of the first bad cell when it refuses."""
    try:
        return as_float(series, path=path, column=column, decimal_comma=decimal_comma)
    except DataError as error:
        raise _with_line(error, series, path=path, decimal_comma=decimal_comma, whole=False) from None
