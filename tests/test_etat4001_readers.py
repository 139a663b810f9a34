"""The état 4001 workbook reads the same with python-calamine (the fast path) and openpyxl (the fallback)."""

from __future__ import annotations

import pandas as pd
import pytest

from eigkit.data import etat4001
from eigkit.data.registry import SAMPLES_DIR

SAMPLE = SAMPLES_DIR / "delinquance" / "crimes-et-delits-enregistres-extrait.xlsx"


def _frame(sheets: dict[str, list[tuple]]) -> pd.DataFrame:
    frames = [
        etat4001._sheet(rows, path=SAMPLE, sheet=name)
        for name, rows in sheets.items()
        if etat4001.SHEET.fullmatch(name.strip())
    ]
    return pd.concat(frames, ignore_index=True)


def test_calamine_and_openpyxl_give_the_same_table():
    pytest.importorskip("python_calamine")
    pytest.importorskip("openpyxl")
    fast, fallback = _frame(etat4001._sheets(SAMPLE)), _frame(etat4001._sheets_openpyxl(SAMPLE))
    assert len(fast) == 38_199
    pd.testing.assert_frame_equal(fast, fallback)
