"""INSEE territorial codes (départements, régions, communes) checked cell by cell, with the line at fault.

Used by the readers of files that publish codes as zero-padded text (SSMSI bases, état 4001, DVF,
verbalisation): a code that lost its zeros (``1`` for ``01``) is the mark of a spreadsheet re-save.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from eigkit.data.columns import NA_TOKENS
from eigkit.data.errors import DataError

DEPARTEMENT = re.compile(r"\d{2}|2[AB]|9[78]\d")
REGION = re.compile(r"\d{2}")
COMMUNE = re.compile(r"(\d{2}|2[AB])\d{3}|9[78]\d{3}")
RESAVED = (
    "The file looks re-saved by a spreadsheet (codes lose their leading zeros): download the original file "
    "again."
)


def line_of(series: pd.Series, mask: pd.Series | np.ndarray, *, header_lines: int = 1) -> int:
    """File line (1-based, header counted) of the first row where ``mask`` is true.

    The row's index label is its position in the file as read (readers that drop rows keep the labels).
    """
    position = int(np.flatnonzero(np.asarray(mask, dtype=bool))[0])
    return int(series.index[position]) + header_lines + 1


def _checked(
    series: pd.Series, pattern: re.Pattern[str], *, path: Path | str, column: str, what: str, pad: int
) -> pd.Categorical:
    codes, uniques = pd.factorize(series.astype("str").str.strip().str.upper())
    canon = []
    for value in uniques:
        text = str(value)
        if text in NA_TOKENS:
            canon.append(None)
            continue
        if pad and text.isdigit() and len(text) < pad:
            text = text.zfill(pad)
        if not pattern.fullmatch(text):
            line = line_of(series, codes == len(canon))
            hint = RESAVED if text.isdigit() and len(text) < 2 else "Check that the file matches the dataset."
            raise DataError(f"{path}: column {column!r}, line {line}: {value!r} is not {what}. {hint}")
        canon.append(text)
    categories = sorted({value for value in canon if value is not None})
    position = {value: index for index, value in enumerate(categories)}
    mapping = np.array([position[value] if value is not None else -1 for value in canon] + [-1])
    return pd.Categorical.from_codes(mapping[codes], categories=pd.Index(categories, dtype="str"))


def departements(series: pd.Series, *, path: Path | str, column: str, pad: bool = False) -> pd.Categorical:
    """INSEE département codes (``'01'``, ``'2A'``, ``'971'``) as a categorical.

    ``pad=True`` accepts codes published without their zero (``'1'`` -> ``'01'``); otherwise such a code is
    refused as the mark of a spreadsheet re-save. Empty and ``NA`` cells become NA.
    """
    return _checked(
        series, DEPARTEMENT, path=path, column=column, what="a département code", pad=2 if pad else 0
    )


def regions(series: pd.Series, *, path: Path | str, column: str) -> pd.Categorical:
    """INSEE région codes on two digits (``'84'``, ``'01'`` for Guadeloupe) as a categorical."""
    return _checked(series, REGION, path=path, column=column, what="a two-digit région code", pad=0)


def communes(series: pd.Series, *, path: Path | str, column: str) -> pd.Categorical:
    """INSEE commune codes on five characters (``'01158'``, ``'2A004'``, ``'97411'``) as a categorical."""
    return _checked(
        series, COMMUNE, path=path, column=column, what="a five-character INSEE commune code", pad=0
    )
