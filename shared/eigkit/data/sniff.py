"""Detect how a published CSV is written (encoding, separator, quoting, line ends) and read it as text.

Everything is read as strings with no NA guessing: the family readers decide what each column means.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from eigkit.data.errors import DataError

SEPARATORS = (";", ",", "\t", "|")


@dataclass(frozen=True)
class CsvFormat:
    """How a CSV file is written."""

    encoding: str
    separator: str
    quoted: bool
    crlf: bool
    bom: bool

    def describe(self) -> str:
        """Short human text, e.g. ``"';' separated, utf-8, quoted, CRLF"``."""
        sep = "tab" if self.separator == "\t" else repr(self.separator)
        parts = [f"{sep} separated", self.encoding]
        if self.quoted:
            parts.append("quoted")
        if self.crlf:
            parts.append("CRLF")
        return ", ".join(parts)


def detect_encoding(raw: bytes) -> tuple[str, bool]:
    """Return ``(encoding, has_bom)``: UTF-8 when the bytes decode as such, else cp1252 (Latin-1 as last
    resort)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig", True
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            raw.decode("cp1252")
        except UnicodeDecodeError:
            return "latin-1", False
        return "cp1252", False
    return "utf-8", False


def detect_separator(header: str) -> str:
    """Return the separator that splits the header line into the most fields (outside quotes)."""
    counts = {}
    for sep in SEPARATORS:
        try:
            counts[sep] = len(next(csv.reader([header], delimiter=sep)))
        except (csv.Error, StopIteration):
            counts[sep] = 0
    return max(SEPARATORS, key=lambda sep: counts[sep])


def sniff(path: Path) -> tuple[CsvFormat, str]:
    """Return the format of the CSV at ``path`` and its decoded text."""
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read the file ({error}). Check the path.") from error
    if not raw.strip():
        raise DataError(f"{path}: the file is empty. Download it again (eig data fetch NAME).")
    encoding, bom = detect_encoding(raw)
    text = raw.decode(encoding)
    first_line_end = text.find("\n")
    header = text[: first_line_end if first_line_end >= 0 else len(text)].rstrip("\r")
    fmt = CsvFormat(
        encoding=encoding,
        separator=detect_separator(header),
        quoted=header.startswith('"'),
        crlf="\r\n" in text[: max(first_line_end + 1, 1)] if first_line_end >= 0 else False,
        bom=bom,
    )
    return fmt, text


def read_text_table(path: Path) -> tuple[pd.DataFrame, CsvFormat]:
    """Read a published CSV as a table of strings (``""`` for empty cells) and return it with its format.

    Raises :class:`DataError` naming the file and the line when a row does not fit the header.
    """
    fmt, text = sniff(path)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=fmt.separator,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            quotechar='"',
            skipinitialspace=False,
        )
    except pd.errors.ParserError as error:
        raise DataError(
            f"{path}: a row has more fields than the header ({str(error).strip()}). The columns "
            "look shifted, "
            "typical of a "
            "file re-saved by a spreadsheet: download the original file again."
        ) from error
    frame.columns = [str(column).strip() for column in frame.columns]
    return frame, fmt
