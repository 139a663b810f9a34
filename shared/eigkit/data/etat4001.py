"""The état 4001 workbook ("crimes et délits enregistrés par les services de gendarmerie et de police").

One sheet per force and year (``Services PN 2020``, ``Services GN 2012``, ...; the ``Présentation`` sheet
holds only a text box), a header row of départements above each service column (PN sheets add a
``Périmètres`` row: DCSP, DSPAP, DCPAF, ...), then the 107 index rows (code, label, one count per service).

Normalised long table: ``annee``, ``force`` (``PN`` police nationale, ``GN`` gendarmerie nationale), ``dep``
(INSEE code as text), ``perimetre`` (PN only), ``service``, ``index`` (1-107), ``libelle_index`` (as
published, typos included), ``nombre``. Empty cells (unused indexes 96, 97, 99, 100 in GN sheets) become
NA; trailing columns with neither département nor service are ignored. Reading needs ``python-calamine``
(extra ``xlsx``; ``openpyxl`` is used when only it is installed).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from eigkit.data import territory
from eigkit.data.columns import as_category
from eigkit.data.errors import DataError

NORMALISER_VERSION = "etat4001-1"
SHEET = re.compile(r"Services (PN|GN) (\d{4})")
INDEX_ROWS = 107
HEADER_FIRST_CELLS = {"Code index"}


def _sheets(path: Path) -> dict[str, list[tuple]]:
    """Every sheet of the workbook as rows of cell values (empty cells ``None`` or ``""``).

    python-calamine (Rust) reads the whole published workbook about ten times faster than openpyxl;
    openpyxl (read-only, values only) is the fallback for an environment installed without it.
    """
    try:
        from python_calamine import CalamineError, CalamineWorkbook
    except ImportError:  # pragma: no cover - depends on the environment
        return _sheets_openpyxl(path)
    try:
        book = CalamineWorkbook.from_path(str(path))
        return {
            name: [tuple(row) for row in book.get_sheet_by_name(name).to_python(skip_empty_area=False)]
            for name in book.sheet_names
        }
    except (CalamineError, OSError, ValueError) as error:
        raise _unreadable(path, error) from error


def _sheets_openpyxl(path: Path) -> dict[str, list[tuple]]:
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - depends on the environment
        raise DataError(
            f"{path}: reading the état 4001 workbook needs python-calamine (or openpyxl): "
            "pip install 'eig-kit[xlsx]'."
        ) from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise _unreadable(path, error) from error
    try:
        return {name: list(book[name].iter_rows(values_only=True)) for name in book.sheetnames}
    finally:
        book.close()


def _unreadable(path: Path, error: Exception) -> DataError:
    return DataError(f"{path}: not a readable xlsx workbook ({error}). Download the original file again.")


def read(table: str, path: Path) -> pd.DataFrame:
    """Every ``Services PN|GN <year>`` sheet of the workbook as one long table."""
    sheets = _sheets(path)
    frames = [
        _sheet(rows, path=path, sheet=name) for name, rows in sheets.items() if SHEET.fullmatch(name.strip())
    ]
    if not frames:
        raise DataError(
            f"{path}: no sheet named 'Services PN <year>' or 'Services GN <year>' (found: "
            f"{', '.join(sheets)}). Check that the file is the état 4001 workbook."
        )
    frame = pd.concat(frames, ignore_index=True)
    for column in ("force", "dep", "perimetre", "service", "libelle_index"):
        frame[column] = as_category(frame[column].fillna(""))
    frame["annee"] = frame["annee"].astype("Int16")
    frame["index"] = frame["index"].astype("Int16")
    frame["nombre"] = frame["nombre"].astype("Int64")
    return frame


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _sheet(rows: list[tuple], *, path: Path, sheet: str) -> pd.DataFrame:
    force, year = SHEET.fullmatch(sheet.strip()).groups()
    where = f"{path}, sheet {sheet!r}"
    header_at = next((i for i, row in enumerate(rows[:6]) if _text(row[0]) in HEADER_FIRST_CELLS), None)
    if header_at is None or _text(rows[0][1]) != "Départements":
        raise DataError(
            f"{where}: the header rows ('Départements' in B1, 'Code index' in column A) are not where the "
            "état 4001 puts them. Download the original workbook again."
        )
    perimetres = rows[1] if header_at == 2 else None
    body = [row for row in rows[header_at + 1 :] if any(cell is not None for cell in row)]
    if len(body) != INDEX_ROWS:
        raise DataError(f"{where}: {len(body)} index rows where the état 4001 has {INDEX_ROWS}.")
    columns = [j for j in range(2, len(rows[0])) if _text(rows[0][j]) or _text(rows[header_at][j])]
    deps = pd.Series([_text(rows[0][j]) for j in columns], dtype="str")
    codes = territory.departements(deps, path=where, column="Départements (row 1)", pad=True)
    counts = np.full((len(body), len(columns)), np.nan)
    for i, row in enumerate(body):
        for k, j in enumerate(columns):
            value = row[j] if j < len(row) else None
            if value is None or value == "":
                continue
            if not isinstance(value, int | float) or value != int(value):
                raise DataError(
                    f"{where}: cell at row {header_at + 2 + i}, column {j + 1} holds {value!r} where a "
                    "whole count is expected."
                )
            counts[i, k] = value
    index_codes = [_text(row[0]) for row in body]
    if not all(code.isdigit() for code in index_codes):
        bad = next(code for code in index_codes if not code.isdigit())
        raise DataError(f"{where}: column A holds {bad!r} where an index code (1-107) is expected.")
    n_rows, n_cols = counts.shape
    return pd.DataFrame(
        {
            "annee": int(year),
            "force": force,
            "dep": np.tile(np.asarray(codes.astype(object)), n_rows),
            "perimetre": np.tile([_text(perimetres[j]) if perimetres else "" for j in columns], n_rows),
            "service": np.tile([_text(rows[header_at][j]) for j in columns], n_rows),
            "index": np.repeat([int(code) for code in index_codes], n_cols),
            "libelle_index": np.repeat([_text(row[1]) for row in body], n_cols),
            "nombre": pd.array(counts.reshape(-1), dtype="Float64").astype("Int64"),
        }
    )
