"""ONISR road-accident tables (BAAC): one normalised schema whatever the year the file was published.

Eras told apart by the header: before 2019 (``,`` or tab, Latin-1, two-digit ``an``, ``hrmn`` HHMM,
``lat``/``long`` as integers x 100000, ``dep`` on 3 digits, ``com`` on 3 digits, ``gps``, ``secu``, ``env1``)
and from 2019 (``;``, quoted, UTF-8, decimal commas, ``id_vehicule``, ``secu1-3``, ``vma``; the key is
``Accident_Id`` in 2022).
Codes become categoricals of canonical strings (``'07'`` -> ``'7'``, ``' -1'`` -> ``'-1'``), see
:func:`eigkit.data.labels`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from eigkit.data import baac_rules as rules
from eigkit.data.columns import (
    SCIENTIFIC,
    as_category,
    as_code,
    as_int,
    as_text,
    line_of,
    require_columns,
    row_line,
    without_spaces,
)
from eigkit.data.errors import DataError
from eigkit.data.sniff import CsvFormat, read_text_table

NORMALISER_VERSION = "baac-3"
TABLES = ("caracteristiques", "lieux", "vehicules", "usagers")
_KEY = re.compile(r"\d{12}")
#: a normalised column before the frame is built
Column = pd.Series | pd.Categorical
_RESAVED = "The file looks re-saved by a spreadsheet (Excel, LibreOffice): download the original file again."

#: normalised columns of each table, in order (columns absent from an era are NA)
SCHEMA = {
    "caracteristiques": [
        "num_acc", "an", "mois", "jour", "hrmn", "datetime", "lum", "agg", "int", "atm", "col",
        "dep", "com", "adr", "lat", "long", "gps",
    ],
    "lieux": [
        "num_acc", "an", "catr", "voie", "v1", "v2", "circ", "nbv", "pr", "pr1", "vosp", "prof", "plan",
        "lartpc", "larrout", "surf", "infra", "situ", "env1", "vma",
    ],
    "vehicules": [
        "num_acc", "an", "id_vehicule", "num_veh", "senc", "catv", "obs", "obsm", "choc", "manv",
        "motor", "occutc",
    ],
    "usagers": [
        "num_acc", "an", "id_usager", "id_vehicule", "num_veh", "place", "catu", "grav", "sexe", "an_nais",
        "trajet", "secu", "secu1", "secu2", "secu3", "locp", "actp", "etatp",
    ],
}  # fmt: skip
#: columns read as categoricals of stripped text (not canonical codes: ``secu`` '01' is not '1')
CATEGORIES = ("voie", "v1", "v2", "num_veh", "secu")
#: columns of caracteristiques with a reader of their own
PLACE = ("dep", "com", "gps", "lat", "long", "adr")
CODES = {
    table: [column for column in rules.columns_of(table, "code") if column not in CATEGORIES + PLACE]
    for table in TABLES
}
MEASURES = {
    table: [column for column in rules.columns_of(table, "measure") if column not in PLACE]
    for table in TABLES
}


def info(table: str) -> str:
    """What ``eig data info baac.<table>`` adds to the catalogue row: missing values and units per column."""
    return rules.info(table)


def detect_table(columns: list[str]) -> str:
    """Which BAAC table a header belongs to."""
    names = set(columns)
    if {"hrmn", "lum"} <= names:
        return "caracteristiques"
    if {"catr", "circ"} <= names:
        return "lieux"
    if {"catv", "num_veh"} <= names:
        return "vehicules"
    if {"catu", "grav"} <= names:
        return "usagers"
    raise DataError(f"not a BAAC table: header {', '.join(columns[:10])}")


def is_post2019(table: str, columns: list[str]) -> bool:
    """True for the 2019+ layout of ``table``."""
    marker = {"caracteristiques": "gps", "lieux": "env1", "vehicules": "id_vehicule", "usagers": "secu"}[
        table
    ]
    present = marker in columns
    return not present if table in ("caracteristiques", "lieux", "usagers") else present


def read(table: str, path: Path) -> pd.DataFrame:
    """Parse and normalise one BAAC file of ``table`` (any year); :class:`DataError` on a damaged file."""
    raw, fmt = read_text_table(path)
    published = {column.lower(): column for column in raw.columns}
    raw.columns = [column.lower() for column in raw.columns]
    key = "accident_id" if "accident_id" in raw.columns else "num_acc"
    require_columns(raw, [key], path=path, what=f"BAAC {table}")
    try:
        found = detect_table(list(raw.columns))
    except DataError as error:
        raise DataError(f"{path}: {error}. Check that the file matches the dataset baac.{table}.") from None
    if found != table:
        raise DataError(
            f"{path}: this is a BAAC {found!r} file, not {table!r}: use data.read('baac.{found}', ...)."
        )
    post2019 = is_post2019(table, list(raw.columns))
    _refuse_damaged(raw, key, fmt, post2019=post2019, path=path, key_name=published.get(key, key))
    try:
        out = _normalise(raw, table, key, post2019=post2019, path=path)
    except DataError as error:
        signs = spreadsheet_signs(fmt, post2019=post2019)
        if not signs:
            raise
        raise DataError(f"{error} The file shows signs of a spreadsheet re-save ({signs}).") from None
    return _conform(out, table, raw.index)


def _normalise(raw: pd.DataFrame, table: str, key: str, *, post2019: bool, path: Path) -> dict[str, Column]:
    out: dict[str, Column] = {}  # one frame built at the end: inserting column by column costs more
    out["num_acc"] = raw[key].astype("str")
    out["an"] = pd.Series(out["num_acc"].str.slice(0, 4).astype("int16"), index=raw.index)
    if table == "caracteristiques":
        _caracteristiques(raw, out, post2019=post2019, path=path)
    for column in CODES[table]:
        if column in raw.columns:
            out[column] = as_code(raw[column], path=path, column=column)
    for column in MEASURES[table]:
        if column in raw.columns:
            out[column] = rules.measure(raw[column], rules.rule(table, column), post2019=post2019, path=path)
    for column in CATEGORIES:
        if column in raw.columns and column in SCHEMA[table]:
            out[column] = as_category(raw[column])
    for column in ("id_vehicule", "id_usager"):  # thousands separated by no-break spaces
        if column in raw.columns:
            out[column] = as_text(without_spaces(raw[column]))
    return out


def spreadsheet_signs(fmt: CsvFormat, *, post2019: bool) -> str:
    """What in the file's bytes betrays a spreadsheet re-save (empty when nothing does).

    ONISR publishes LF line ends, no byte-order mark and, from 2019, every field quoted and ';' separated.
    """
    signs = []
    if fmt.crlf:
        signs.append("CRLF line ends")
    if fmt.bom:
        signs.append("a byte-order mark")
    if post2019 and not fmt.quoted:
        signs.append("unquoted fields where ONISR quotes every field")
    if post2019 and fmt.separator != ";":
        signs.append(f"{fmt.describe().split(' separated')[0]} separated instead of ';'")
    if not post2019 and fmt.separator == ";":
        signs.append("';' separated where ONISR used ','")
    return ", ".join(signs)


def _conform(out: dict[str, Column], table: str, index: pd.Index) -> pd.DataFrame:
    """The frame of ``table``: its schema's columns in order, those absent from the file's era as NA."""
    columns = {}
    for column in SCHEMA[table]:
        if column in out:
            columns[column] = out[column]
        elif column in MEASURES[table]:
            dtype = rules.rule(table, column).dtype
            empty = pd.NA if dtype.startswith("Int") else np.nan
            columns[column] = pd.Series(empty, index=index, dtype=dtype)
        elif column in ("id_vehicule", "id_usager"):
            columns[column] = pd.Series(None, index=index, dtype="str")
        else:
            columns[column] = pd.Categorical([None] * len(index), categories=pd.Index([], dtype="str"))
    return pd.DataFrame(columns, index=index)


def _refuse_damaged(
    raw: pd.DataFrame, key: str, fmt: CsvFormat, *, post2019: bool, path: Path, key_name: str
) -> None:
    keys = raw[key]
    bad = ~keys.str.fullmatch(_KEY)
    if bad.any():
        example = keys[bad].iloc[0]
        hint = (
            _RESAVED
            if SCIENTIFIC.fullmatch(str(example).strip()) or spreadsheet_signs(fmt, post2019=post2019)
            else "Check the file is the published one."
        )
        raise DataError(
            f"{path}: column {key_name!r} holds {example!r} where a 12-digit accident number is expected "
            f"(row {int(np.flatnonzero(bad.to_numpy())[0]) + 2}). {hint}"
        )
    if post2019 and fmt.separator != ";":
        raise DataError(
            f"{path}: a BAAC file of the 2019+ layout must be ';' separated but this one is "
            f"{fmt.describe()}. " + _RESAVED
        )


def _caracteristiques(raw: pd.DataFrame, out: dict[str, Column], *, post2019: bool, path: Path) -> None:
    require_columns(
        raw, ["an", "mois", "jour", "hrmn", "dep", "com", "lat", "long"], path=path, what="caracteristiques"
    )
    year = as_int(raw["an"], path=path, column="an", dtype="Int16")
    out["an"] = year.where(year >= 100, year + 2000).astype("Int16")
    out["mois"] = as_int(raw["mois"], path=path, column="mois", dtype="Int8")
    out["jour"] = as_int(raw["jour"], path=path, column="jour", dtype="Int8")
    if not out["mois"].dropna().between(1, 12).all() or not out["jour"].dropna().between(1, 31).all():
        raise DataError(
            f"{path}: columns 'mois'/'jour' hold values outside 1-12/1-31: the columns look shifted."
        )
    hour, minute, label = _hour_minute(raw["hrmn"], path=path)
    out["hrmn"] = as_category(label)
    parts = pd.DataFrame({"year": out["an"], "month": out["mois"], "day": out["jour"]}).astype("float64")
    parts["hour"] = np.where(hour >= 0, hour, np.nan)
    parts["minute"] = np.where(minute >= 0, minute, np.nan)
    out["datetime"] = pd.to_datetime(parts, errors="coerce")
    out["dep"] = as_category(departements(raw["dep"], post2019=post2019, path=path))
    dep = pd.Series(out["dep"], index=raw.index).astype("str")
    out["com"] = as_category(_commune(raw["com"], dep, post2019=post2019))
    if "adr" in raw.columns:  # repeated road names: a categorical costs a fraction of plain text
        out["adr"] = as_category(raw["adr"])
    for column, limit in (("lat", 90), ("long", 180)):
        out[column] = _coordinate(raw[column], post2019=post2019, path=path, column=column, limit=limit)
    if "gps" in raw.columns:
        out["gps"] = as_code(raw["gps"], path=path, column="gps")


def _hour_minute(series: pd.Series, *, path: Path) -> tuple[np.ndarray, np.ndarray, pd.Series]:
    """Hour and minute of each row (-1 when empty) and its ``HH:MM`` label (empty when empty)."""
    codes, uniques = pd.factorize(series.str.strip())
    hours, minutes = [], []
    for value in uniques:
        text = str(value).replace(":", "") if ":" in str(value) else str(value).zfill(4)
        if not text.isdigit() or len(text) != 4 or int(text[:2]) > 23 or int(text[2:]) > 59:
            if value in ("", "nan"):
                hours.append(-1)
                minutes.append(-1)
                continue
            raise DataError(
                f"{path}: column 'hrmn' holds {value!r} at {line_of(codes, len(hours))}, not an hour "
                "(HHMM or HH:MM)."
            )
        hours.append(int(text[:2]))
        minutes.append(int(text[2:]))
    hours_array, minutes_array = np.array([*hours, -1]), np.array([*minutes, -1])
    labels = np.array(
        [f"{h:02d}:{m:02d}" if h >= 0 else "" for h, m in zip(hours_array, minutes_array, strict=True)],
        dtype=object,
    )
    return hours_array[codes], minutes_array[codes], pd.Series(labels[codes], index=series.index, dtype="str")


_CODE_AND_NAME = re.compile(r"(\d{1,3}|2[AB])\s+[–-]\s+\S")


def departement_code(value: str, *, post2019: bool) -> str | None:
    """INSEE département code: pre-2019 ``'590'`` -> ``'59'``, ``'201'`` -> ``'2A'``; 2019+ ``'1'`` ->
    ``'01'``; ``'50 – Manche'`` -> ``'50'``."""
    text = value.strip().upper()
    if not text:
        return None
    named = _CODE_AND_NAME.match(text)  # "50 – Manche" (one row of the real radars.csv)
    if named:
        text = named.group(1)
    if not post2019 and len(text) == 3 and text.isdigit():
        if text in ("201", "202"):
            return {"201": "2A", "202": "2B"}[text]
        return text if text.startswith("97") or not text.endswith("0") else text[:2]
    return text.zfill(2) if text.isdigit() and len(text) < 2 else text


#: INSEE département codes: metropolitan (2A/2B for Corsica), DROM 971-976, COM 975/977/978/986/987/988
DEPARTEMENT = re.compile(r"0[1-9]|1\d|2[1-9AB]|[3-8]\d|9[0-5]|97[1-8]|98[6-8]")


def departements(series: pd.Series, *, post2019: bool, path: Path, column: str = "dep") -> pd.Series:
    """INSEE département codes of a published column (see :func:`departement_code`); :class:`DataError`
    naming the value and its line when one is not a code."""
    codes, uniques = pd.factorize(series)
    converted = [departement_code(str(value), post2019=post2019) for value in uniques]
    for position, (raw_value, value) in enumerate(zip(uniques, converted, strict=True)):
        if value is not None and not DEPARTEMENT.fullmatch(value):
            raise DataError(
                f"{path}: column {column!r} holds {raw_value!r} at {line_of(codes, position)}, not an INSEE "
                "département code (01-95, 2A, 2B, 971-976, 975, 977, 978, 986-988). The columns look shifted "
                "or the file is not the published one: download the original file again."
            )
    return pd.Series(np.array([*converted, None], dtype=object)[codes], index=series.index, dtype="str")


def _commune(series: pd.Series, dep: pd.Series, *, post2019: bool) -> pd.Series:
    com = series.str.strip()
    if post2019:
        return com.where(~com.str.fullmatch(r"\d{1,4}"), com.str.zfill(5))
    inside = com.str.zfill(3)
    overseas = dep.str.len() == 3
    code = (dep.str.slice(0, 2) + inside).where(~overseas, dep + inside.str.slice(1, 3))
    return code.where(com != "", None)


def _coordinate(series: pd.Series, *, post2019: bool, path: Path, column: str, limit: int) -> pd.Series:
    item = rules.rule("caracteristiques", column)
    text = series.str.strip()
    filled = text[~rules.is_marker(text, item.markers(post2019=post2019))]
    if post2019:
        with_comma = filled[filled.str.contains(",", regex=False)]
        parts = pc.split_pattern(pa.array(with_comma, type=pa.large_string()), ",")
        decimals = pc.utf8_length(pc.list_element(parts, 1)).to_numpy(zero_copy_only=False)
        if len(decimals) >= 5 and np.median(decimals) <= 3:
            raise DataError(
                f"{path}: column {column!r} holds coordinates cut to {int(np.median(decimals))} decimals "
                f"(e.g. {with_comma.iloc[0]!r}); the published files carry about 10. " + _RESAVED
            )
    else:
        odd = filled.str.contains(r"[.,Ee]", regex=True)
        if odd.any():
            where = row_line(int(filled[odd].index[0]))
            raise DataError(
                f"{path}: column {column!r} holds {filled[odd].iloc[0]!r} at {where}; before 2019 "
                "coordinates are integers x 100000. " + _RESAVED
            )
    values = rules.measure(text, item, post2019=post2019, path=path)
    beyond = values.abs() > limit
    if beyond.any():
        row = int(np.flatnonzero(beyond.to_numpy())[0])
        raise DataError(
            f"{path}: column {column!r} holds {series.iloc[row]!r} at {row_line(row)}, beyond ±{limit} "
            "degrees: the columns look shifted."
        )
    return values
