"""Rebuild the embedded samples of dvf, delinquance and verbalisation from the kit's copies of the real files.

Text files are cut by LINES (header and the kept lines copied byte for byte: encoding, BOM, quoting, line ends
and a missing final newline are kept); the état 4001 workbook is cut by COLUMNS (every sheet, the cells of a
few départements copied value for value with openpyxl). Run from the repository root:

    python shared/eigkit/data/samples/extract_real_samples.py /work/shared/data
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: indicators kept in the SSMSI samples (every département, every year)
INDICATORS = ("Cambriolages de logement", "Coups et blessures volontaires", "Homicides")
#: départements kept in the état 4001 sample (police and gendarmerie, metropolitan, Corse, overseas)
ETAT4001_DEPARTEMENTS = ("01", "2A", "44", "971")
HENDAYE = "dvf-geo-variante-hendaye-64260-2019-2023.csv"
#: years of the Hendaye extract kept (the samples of the whole kit stay under 3 MB)
HENDAYE_YEARS = (2022, 2023)


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _write(path: Path, lines: list[bytes], *, final_newline: bool) -> None:
    data = b"".join(lines)
    if not final_newline:
        data = data.rstrip(b"\r\n")
    path.write_bytes(data)


def ssmsi(source: Path, target: Path) -> None:
    """Every line of the kept indicators (the ``NA`` territory lines included)."""
    for name in ("donnee-dep-2023.csv", "donnee-reg-2023.csv"):
        lines = _lines(source / "delinquance" / name)
        keep = [line for line in lines[1:] if line.split(b";")[0].strip(b'"').decode() in INDICATORS]
        _write(target / "delinquance" / name, [lines[0], *keep], final_newline=lines[-1].endswith(b"\n"))


def hendaye(source: Path, target: Path) -> None:
    """The Hendaye geolocated extract split by year of mutation (``date_mutation`` is the second field)."""
    lines = _lines(source / "dvf" / HENDAYE)
    for year in HENDAYE_YEARS:
        keep = [line for line in lines[1:] if line.split(b",")[1].startswith(f"{year}-".encode())]
        name = f"dvf-geo-variante-hendaye-64260-{year}.csv"
        _write(target / "dvf" / name, [lines[0], *keep], final_newline=True)


def etat4001(source: Path, target: Path) -> None:
    """Every sheet, columns A-B and the columns of :data:`ETAT4001_DEPARTEMENTS`, values as published."""
    import openpyxl

    book = openpyxl.load_workbook(source / "delinquance" / "crimes-et-delits-enregistres.xlsx")
    out = openpyxl.Workbook()
    out.remove(out.active)
    for sheet in book.worksheets:
        copy = out.create_sheet(sheet.title)
        if sheet.max_row < 2:
            continue
        keep = [1, 2] + [
            cell.column
            for cell in sheet[1][2:]
            if cell.value is not None and str(cell.value) in ETAT4001_DEPARTEMENTS
        ]
        for row in sheet.iter_rows(min_row=1, max_row=sheet.max_row):
            for new_column, column in enumerate(keep, start=1):
                copy.cell(row=row[0].row, column=new_column, value=row[column - 1].value)
        for merged in sheet.merged_cells.ranges:
            if merged.max_col <= 2:
                copy.merge_cells(str(merged))
    out.save(target / "delinquance" / "crimes-et-delits-enregistres-extrait.xlsx")


def main(source: Path) -> None:
    """Rebuild every sample of this script from ``source`` (the folder of the real copies)."""
    for folder in ("dvf", "delinquance", "verbalisation"):
        (HERE / folder).mkdir(exist_ok=True)
    for name in ("valeursfoncieres-2020-extrait-01.txt", "geo-dvf-2024-01-extrait.csv",
                 "geo-dvf-2025-01-extrait-arthurmooo.csv"):  # fmt: skip
        (HERE / "dvf" / name).write_bytes((source / "dvf" / name).read_bytes())
    hendaye(source, HERE)
    ssmsi(source, HERE)
    etat4001(source, HERE)
    name = "bilan-2017-radars-fixes.csv"
    (HERE / "verbalisation" / name).write_bytes((source / "verbalisation" / name).read_bytes())


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data"))
