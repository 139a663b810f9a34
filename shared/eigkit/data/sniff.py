"""Detect how a published CSV is written (encoding, separator, quoting, line ends) and read it as text.

Everything is read as strings with no NA guessing: the family readers decide what each column means.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv

from eigkit.data.errors import DataError

SEPARATORS = (";", ",", "\t", "|")
_BOM = b"\xef\xbb\xbf"
#: leading bytes of files that are not CSV text -> what they are and what to do with them
MAGIC = (
    (b"\x1f\x8b", "a gzip-compressed file", "decompress it first (gunzip FILE)"),
    (b"PK\x03\x04", "a zip archive (or an .xlsx/.ods workbook)",
     "extract the CSV from the archive, or export the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Excel/Office document (.xls)", "export the sheet as CSV"),
    (b"PAR1", "a parquet file", "read it with pandas.read_parquet"),
    (b"%PDF", "a PDF document", "download the CSV resource of the dataset instead"),
    (b"BZh", "a bzip2-compressed file", "decompress it first (bunzip2 FILE)"),
    (b"\xfd7zXZ", "an xz-compressed file", "decompress it first (unxz FILE)"),
    (b"7z\xbc\xaf", "a 7-zip archive", "extract the CSV from the archive"),
)  # fmt: skip


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
    if raw.startswith(_BOM):
        return "utf-8-sig", True
    encoding, bom, _ = _decode(raw)
    return encoding, bom


def _decode(raw: bytes) -> tuple[str, bool, str]:
    """:func:`detect_encoding` and the decoded text (each file is decoded once)."""
    if raw.startswith(_BOM):
        return "utf-8-sig", True, raw.decode("utf-8-sig")
    try:
        return "utf-8", False, raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            return "cp1252", False, raw.decode("cp1252")
        except UnicodeDecodeError:
            return "latin-1", False, raw.decode("latin-1")


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
    fmt, text, _ = _sniff(path)
    return fmt, text


def _sniff(path: Path) -> tuple[CsvFormat, str, bytes]:
    """:func:`sniff` and the file's bytes in UTF-8 without a byte-order mark (what Arrow parses)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise DataError(f"{path}: cannot read the file ({error}). Check the path.") from error
    if not raw or raw.isspace():  # (no copy of the whole file, unlike raw.strip())
        raise DataError(f"{path}: the file is empty. Download it again (eig data fetch NAME).")
    refuse_binary(raw, path)
    encoding, bom, text = _decode(raw)
    first_line_end = text.find("\n")
    header = text[: first_line_end if first_line_end >= 0 else len(text)].rstrip("\r")
    fmt = CsvFormat(
        encoding=encoding,
        separator=detect_separator(header),
        quoted=header.startswith('"'),
        crlf="\r\n" in text[: max(first_line_end + 1, 1)] if first_line_end >= 0 else False,
        bom=bom,
    )
    if encoding == "utf-8":
        data = raw  # valid UTF-8: decoding then encoding again would give the same bytes
    elif encoding == "utf-8-sig":
        data = raw[3:]
    else:
        data = text.encode("utf-8")
    return fmt, text, data


def refuse_binary(raw: bytes, path: Path | str) -> None:
    """Raise :class:`DataError` saying what the file is when ``raw`` is not CSV text (gzip, zip, binary)."""
    for magic, what, todo in MAGIC:
        if raw.startswith(magic):
            raise DataError(f"{path}: this is {what}, not a CSV text file: {todo}.")
    head = raw[:65536]
    if b"\x00" in head:
        utf16 = head.startswith((b"\xff\xfe", b"\xfe\xff"))
        what = "text in UTF-16" if utf16 else "a binary file (it holds NUL bytes)"
        todo = "re-encode it as UTF-8" if utf16 else "check that this is the CSV resource of the dataset"
        raise DataError(f"{path}: this is {what}, not a CSV text file: {todo}.")


def read_text_table(path: Path) -> tuple[pd.DataFrame, CsvFormat]:
    """Read a published CSV as a table of strings (``""`` for empty cells) and return it with its format.

    Parsed by Arrow's CSV reader (several times faster than pandas' on the yearly files), which also
    refuses a row with fewer fields than the header; :class:`DataError` names the file and the line.
    """
    fmt, text, data = _sniff(path)
    parse = pcsv.ParseOptions(delimiter=fmt.separator, quote_char='"', newlines_in_values=True)
    line_end = data.find(b"\n")
    first_line = (data if line_end < 0 else data[:line_end]) + b"\n"
    try:
        header = next(csv.reader([first_line.decode("utf-8").rstrip("\r\n")], delimiter=fmt.separator))
    except (csv.Error, StopIteration) as error:
        raise DataError(f"{path}: the first line is not a CSV header ({error}).") from None
    try:
        fields = [f"f{index}" for index in range(len(header))]
        table = pcsv.read_csv(
            io.BytesIO(data),
            read_options=pcsv.ReadOptions(column_names=fields, skip_rows=1),
            parse_options=parse,
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(fields, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as error:
        problem = _row_problem(str(error), text, len(header), crlf=fmt.crlf, bom=fmt.bom)
        raise DataError(f"{path}: {problem}") from error
    frame = table.to_pandas()
    frame.columns = _unique([str(column).strip() for column in header])
    return frame, fmt


def _row_problem(message: str, text: str, width: int, *, crlf: bool = False, bom: bool = False) -> str:
    """Arrow's parse error as a sentence naming the line (``Expected 18 columns, got 17: <row>``)."""
    found = re.search(r"Expected (\d+) columns, got (\d+): (.*)", message, flags=re.DOTALL)
    if found is None:
        return f"cannot be parsed as CSV ({message.strip()}). Download the original file again."
    got, row = int(found.group(2)), found.group(3).strip()
    offset = text.find(row)
    line = f"line {text.count(chr(10), 0, offset) + 1}" if offset >= 0 else "a line"
    more_or_fewer = "more" if got > width else "fewer"
    signs = [sign for sign, present in (("CRLF line ends", crlf), ("a byte-order mark", bom)) if present]
    why = f"; the file shows signs of a spreadsheet re-save ({', '.join(signs)})" if signs else ""
    return (
        f"{line} has {got} fields where the header has {width} ({more_or_fewer} fields than the header). "
        "The columns look shifted or the file is cut short (an interrupted download or an edited "
        f"copy{why}): download the original file again."
    )


def _unique(names: list[str]) -> list[str]:
    """Header names made unique the way pandas does (``a``, ``a.1``)."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        count = seen.get(name, 0)
        unique.append(name if count == 0 else f"{name}.{count}")
        seen[name] = count + 1
    return unique
