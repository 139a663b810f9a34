"""dvf.mutations, delinquance.*, radars.verbalisation and insee.population on the real copies and fixtures."""

from __future__ import annotations

import csv
import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eigkit import data
from eigkit.data.registry import SAMPLES_DIR

FIXTURES = Path(__file__).parent / "data"
DVF = SAMPLES_DIR / "dvf"
DELINQUANCE = SAMPLES_DIR / "delinquance"
GZ_2022 = FIXTURES / "delinquance" / "donnee-dep-data.gouv-2022-geographie2023-produit-le2023-07-17.csv.gz"


def _raw_rows(path: Path, *, sep: str, encoding: str = "utf-8") -> list[dict[str, str]]:
    """The published rows read by the standard library alone (the reference the loaders are checked on)."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=sep))


# --- DVF ---------------------------------------------------------------------------------------------


def damaged_copy(source: Path, target: Path, old: str, new: str) -> Path:
    """Header and first two rows of the real file ``source``, ``old`` replaced by ``new`` in the second."""
    lines = source.read_text(encoding="utf-8-sig").split("\n")
    target.write_text("\n".join([lines[0], lines[1], lines[2].replace(old, new, 1)]), encoding="utf-8")
    return target


def test_dvf_raw_dgfip_file_normalised():
    path = DVF / "valeursfoncieres-2020-extrait-01.txt"
    rows = _raw_rows(path, sep="|")
    frame = data.read("dvf.mutations", path)
    assert len(frame) == len(rows) == 172
    # decimal comma, unpadded commune and postal codes rebuilt as INSEE / 5-character codes
    assert frame.loc[0, "valeur_fonciere"] == 8000.0
    assert frame.loc[0, "code_commune"] == "01072" and frame.loc[0, "code_postal"] == "01250"
    assert frame.loc[0, "date_mutation"] == pd.Timestamp("2020-01-07")
    assert frame.loc[0, "id_parcelle"] == "01072000AK0216"
    assert (frame["source"] == "dgfip").all() and frame["longitude"].isna().all()
    # one mutation on several lines repeating its price: the five LAIZ lines are one mutation
    laiz = frame[frame["nom_commune"] == "LAIZ"]
    assert len(laiz) == 5 and laiz["id_mutation"].nunique() == 1 and (laiz["valeur_fonciere"] == 2175.0).all()
    prices = [float(row["Valeur fonciere"].replace(",", ".")) for row in rows]
    assert frame["valeur_fonciere"].tolist() == prices
    assert frame["id_mutation"].nunique() == 74
    house = frame[(frame["type_local"] == "Maison") & (frame["code_commune"] == "01108")].iloc[0]
    assert (house["surface_reelle_bati"], house["nombre_pieces_principales"]) == (35.0, 2)


def test_dvf_newer_raw_header_edition_reads_like_the_older_one():
    older = data.read("dvf.mutations", DVF / "valeursfoncieres-2020-extrait-01.txt").head(40)
    newer = data.read(
        "dvf.mutations", FIXTURES / "dvf" / "valeursfoncieres-edition-identifiant-de-document.txt"
    )
    pd.testing.assert_frame_equal(newer.astype("object"), older.astype("object"))


@pytest.mark.parametrize(
    ("file", "rows", "mutations"),
    [("geo-dvf-2024-01-extrait.csv", 77, 6), ("geo-dvf-2025-01-extrait-arthurmooo.csv", 90, 33)],
)
def test_dvf_etalab_geolocated_file_normalised(file, rows, mutations):
    path = DVF / file
    raw = _raw_rows(path, sep=",")
    frame = data.read("dvf.mutations", path)
    assert len(frame) == len(raw) == rows
    assert frame["id_mutation"].nunique() == mutations
    assert frame["code_commune"].astype("str").tolist() == [row["code_commune"] for row in raw]
    assert frame["code_postal"].astype("str").str.fullmatch(r"\d{5}").all()
    assert frame["latitude"].tolist() == [float(row["latitude"]) for row in raw]
    assert (frame["source"] == "etalab").all()


def test_dvf_both_publications_share_one_schema_and_a_derived_copy_is_read():
    raw = data.read("dvf.mutations", DVF / "valeursfoncieres-2020-extrait-01.txt")
    geo = data.read("dvf.mutations", DVF / "geo-dvf-2024-01-extrait.csv")
    hendaye = data.read("dvf.mutations", DVF / "dvf-geo-variante-hendaye-64260-2022.csv")
    assert list(raw.columns) == list(geo.columns) == list(hendaye.columns)
    assert "section_prefixe" not in hendaye.columns
    assert (hendaye["annee"] == 2022).all() and (hendaye["code_commune"] == "64260").all()
    assert set(hendaye["type_local"].dropna()) == {"Appartement", "Maison"}


def test_dvf_sample_load_filters_years_and_departements():
    every = data.load("dvf.mutations", source="sample")
    assert set(every["annee"]) == {2020, 2022, 2023, 2024, 2025}
    year = data.load("dvf.mutations", source="sample", year=2022)
    assert len(year) == 496 and (year["annee"] == 2022).all()
    with pytest.raises(data.DataError, match=r"no sample for year\(s\) \[2021\]"):
        data.load("dvf.mutations", source="sample", year=2021)
    ain = data.load("dvf.mutations", source="sample", dep="01")
    assert set(ain["annee"]) == {2020, 2024, 2025} and (ain["dep"] == "01").all()


def test_dvf_pandas_resave_refused():
    with pytest.raises(data.DataError, match=r"re-written by pandas.*Download the original"):
        data.read("dvf.mutations", FIXTURES / "dvf" / "valeursfoncieres-2019-RESAUVEGARDE-pandas-extrait.txt")


def test_dvf_decimal_point_and_lost_zeros_refused_with_the_line(tmp_path):
    lines = (DVF / "valeursfoncieres-2020-extrait-01.txt").read_text(encoding="utf-8").split("\n")
    point = tmp_path / "point.txt"
    point.write_text("\n".join([lines[0], lines[1], lines[2].replace("2175,00", "2175.0")]), encoding="utf-8")
    with pytest.raises(data.DataError, match=r"'Valeur fonciere', line 3: '2175.0' has a decimal point"):
        data.read("dvf.mutations", point)
    zeros = tmp_path / "zeros.txt"
    zeros.write_text("\n".join([lines[0], lines[1], lines[2].replace("|01|", "|1|")]), encoding="utf-8")
    with pytest.raises(data.DataError, match=r"'Code departement', line 3: '1'.*re-saved by a spreadsheet"):
        data.read("dvf.mutations", zeros)


def test_dvf_bad_date_and_foreign_file_refused(tmp_path):
    bad = damaged_copy(DVF / "geo-dvf-2024-01-extrait.csv", tmp_path / "geo.csv", "2024-01-03", "03/01/2024")
    with pytest.raises(data.DataError, match=r"'date_mutation', line 3: '03/01/2024' is not a date"):
        data.read("dvf.mutations", bad)
    with pytest.raises(data.DataError, match=r"not a DVF file.*'Département'"):
        data.read("dvf.mutations", SAMPLES_DIR / "verbalisation" / "bilan-2017-radars-fixes.csv")


# --- SSMSI bases -------------------------------------------------------------------------------------


def test_ssmsi_2022_gzipped_edition_readable_and_long():
    rows = _raw_rows(GZ_2022, sep=";")
    frame = data.read("delinquance.departements", GZ_2022)
    assert len(frame) == len(rows) == 9898
    assert list(frame.columns) == [
        "indicateur", "unite_de_compte", "annee", "dep", "reg", "nombre", "insee_pop", "insee_pop_millesime",
        "insee_log", "insee_log_millesime", "taux_pour_mille",
    ]  # fmt: skip
    assert sorted(set(frame["annee"])) == list(range(2016, 2023))
    assert frame["dep"].nunique() == 101 and {"01", "2A", "2B", "971", "976"} <= set(frame["dep"])
    first = frame.iloc[0]
    assert (first["indicateur"], first["dep"], first["reg"], first["nombre"]) == (
        "Coups et blessures volontaires", "01", "84", 1437,
    )  # fmt: skip
    assert first["taux_pour_mille"] == pytest.approx(2.25085170536868073)
    assert first["insee_log"] == pytest.approx(308491.1600513844)
    # the published rate is the count per 1,000 of the population column (victims)
    victims = frame[frame["unite_de_compte"] == "victime"].dropna(subset=["insee_pop"])
    recomputed = victims["nombre"] / victims["insee_pop"] * 1000
    assert np.allclose(recomputed.astype(float), victims["taux_pour_mille"], rtol=1e-9)


def test_ssmsi_2023_quoted_scientific_edition_drops_unlocated_rows():
    path = DELINQUANCE / "donnee-dep-2023.csv"
    rows = _raw_rows(path, sep=";")
    located = [row for row in rows if row["Code.département"] != "NA"]
    assert len(rows) - len(located) == 3 * 8  # one NA row per indicator and year, count 0
    assert all(row["faits"] == "0" for row in rows if row["Code.département"] == "NA")
    frame = data.read("delinquance.departements", path)
    assert len(frame) == len(located)
    homicides = frame[
        (frame["indicateur"] == "Homicides") & (frame["dep"] == "01") & (frame["annee"] == 2016)
    ]
    assert homicides["taux_pour_mille"].iloc[0] == pytest.approx(7.83177350511023e-03)
    assert homicides["nombre"].iloc[0] == 5


def test_ssmsi_2024_edition_fixture_matches_the_2023_edition():
    new = data.read("delinquance.departements", FIXTURES / "delinquance" / "donnee-dep-edition-2024.csv")
    old = data.read("delinquance.departements", DELINQUANCE / "donnee-dep-2023.csv")
    assert list(new.columns) == list(old.columns)
    assert set(new["unite_de_compte"]) == {"victime", "infraction"}
    keys = ["indicateur", "dep", "annee"]
    merged = new.astype({"indicateur": "str", "dep": "str"}).merge(
        old.astype({"indicateur": "str", "dep": "str"}), on=keys, suffixes=("_new", "_old")
    )
    assert len(merged) == len(new) == 10
    for column in ("nombre", "insee_pop", "insee_pop_millesime", "taux_pour_mille", "reg"):
        assert merged[f"{column}_new"].astype(str).tolist() == merged[f"{column}_old"].astype(str).tolist()


def test_ssmsi_regional_base_and_level_mismatch():
    regions = data.read("delinquance.regions", DELINQUANCE / "donnee-reg-2023.csv")
    assert "dep" not in regions.columns and regions["reg"].str.fullmatch(r"\d{2}").all()
    assert regions.loc[0, "taux_pour_mille"] == pytest.approx(0.08119560528786381)
    with pytest.raises(data.DataError, match=r"régionale base.*delinquance\.regions"):
        data.read("delinquance.departements", DELINQUANCE / "donnee-reg-2023.csv")
    with pytest.raises(data.DataError, match=r"départementale base.*delinquance\.departements"):
        data.read("delinquance.regions", DELINQUANCE / "donnee-dep-2023.csv")


def test_ssmsi_spreadsheet_resave_refused_with_column_and_line():
    path = FIXTURES / "delinquance" / "donnee-dep-2022-RESAUVEGARDE-tableur-extrait.csv"
    with pytest.raises(data.DataError, match=r"'Code.département', line 2: '1'.*re-saved by a spreadsheet"):
        data.read("delinquance.departements", path)


def test_ssmsi_damaged_inputs_refused(tmp_path):
    broken = tmp_path / "donnee-dep.csv.gz"
    broken.write_bytes(b"not gzip at all")
    with pytest.raises(data.DataError, match="not a readable gzip file"):
        data.read("delinquance.departements", broken)
    year = damaged_copy(DELINQUANCE / "donnee-dep-2023.csv", tmp_path / "year.csv", '"16"', '"2016.0"')
    lines = (DELINQUANCE / "donnee-dep-2023.csv").read_text(encoding="utf-8-sig").split("\n")
    with pytest.raises(data.DataError, match=r"column 'annee', line 3: '2016.0' is not a year"):
        data.read("delinquance.departements", year)
    cut = tmp_path / "cut.csv"
    cut.write_text("\n".join([lines[0], lines[1], lines[2].rsplit(";", 2)[0]]), encoding="utf-8")
    with pytest.raises(data.DataError, match="line 3 has 9 fields where the header has 11"):
        data.read("delinquance.departements", cut)


def test_sample_loads_filter_years_and_departements():
    frame = data.load(
        "delinquance.departements", source="sample", years=[2022, 2023], departements=["971", "2A"]
    )
    assert set(frame["annee"]) == {2022, 2023} and set(frame["dep"]) == {"971", "2A"}
    assert len(frame) == 2 * 2 * 3


# --- INSEE population ---------------------------------------------------------------------------------


def test_population_one_row_per_departement_and_year():
    pop = data.read("insee.population", GZ_2022)
    assert len(pop) == 101 * 7 and not pop.duplicated(["dep", "annee"]).any()
    ain = pop[(pop["dep"] == "01") & (pop["annee"] == 2016)].iloc[0]
    assert (ain["population"], ain["millesime"], ain["reg"]) == (638425, 2016, "84")
    mayotte = pop[(pop["dep"] == "976") & (pop["annee"] == 2016)].iloc[0]
    assert mayotte["millesime"] == 2017  # INSEE vintage differs from the year
    sample = data.load("insee.population", source="sample", dep="44")
    assert sample["annee"].tolist() == list(range(2016, 2024))
    assert sample["population"].iloc[0] == 1380852


def test_population_refuses_mixed_editions(tmp_path):
    text = (DELINQUANCE / "donnee-dep-2023.csv").read_text(encoding="utf-8-sig").split("\n")
    mixed = tmp_path / "mixed.csv"
    second = text[2].replace('"536136"', '"999"')  # Aisne 2016 with another population on one indicator
    cambriolage_aisne = next(
        i for i, line in enumerate(text) if line.startswith('"Cambriolages') and ';"02";' in line
    )
    mixed.write_text(
        "\n".join([text[0], text[2], text[cambriolage_aisne].replace('"536136"', '"999"'), second])
    )
    with pytest.raises(
        data.DataError, match=r"insee_pop gives several populations for département 02 in 2016"
    ):
        data.read("insee.population", mixed)


# --- état 4001 ----------------------------------------------------------------------------------------


def test_etat4001_sample_long_table():
    path = DELINQUANCE / "crimes-et-delits-enregistres-extrait.xlsx"
    frame = data.read("delinquance.etat4001", path)
    assert list(frame.columns) == [
        "annee", "force", "dep", "perimetre", "service", "index", "libelle_index", "nombre",
    ]  # fmt: skip
    assert set(frame["annee"]) == set(range(2012, 2021)) and set(frame["force"]) == {"PN", "GN"}
    assert set(frame["dep"]) == {"01", "2A", "44", "971"}
    assert sorted(set(frame["index"])) == list(range(1, 108))
    nantes = frame[
        (frame["annee"] == 2020) & (frame["force"] == "PN") & (frame["index"] == 27) & (frame["dep"] == "44")
    ].set_index("service")["nombre"]
    assert (nantes["CIAT CENTRAL DE NANTES"], nantes["CIAT DE LA BAULE"], nantes["CIAT DE ST NAZAIRE"]) == (
        3160, 151, 262,
    )  # fmt: skip
    assert frame.loc[frame["index"] == 1, "libelle_index"].iloc[0] == "Règlements de compte entre malfaireurs"
    assert set(frame.loc[frame["force"] == "GN", "perimetre"].dropna()) == set()
    assert "DCSP" in set(frame.loc[frame["force"] == "PN", "perimetre"])
    # unused indexes: empty cells (GN) -> NA, zeros (PN) stay 0
    unused = frame[frame["index"] == 96]
    assert unused.loc[unused["force"] == "GN", "nombre"].isna().all()
    assert (unused.loc[unused["force"] == "PN", "nombre"] == 0).all()


def test_etat4001_every_cell_kept(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    path = DELINQUANCE / "crimes-et-delits-enregistres-extrait.xlsx"
    book = openpyxl.load_workbook(path, read_only=True)
    sheet = list(book["Services GN 2016"].iter_rows(values_only=True))
    book.close()
    services = [j for j in range(2, len(sheet[0])) if sheet[0][j] is not None]
    total = sum(row[j] or 0 for row in sheet[2:] for j in services)
    frame = data.load("delinquance.etat4001", source="sample", year=2016)
    assert frame.loc[frame["force"] == "GN", "nombre"].sum() == total


def test_etat4001_damaged_workbooks_refused(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    not_xlsx = tmp_path / "crimes.xlsx"
    not_xlsx.write_bytes(b"PK not really")
    with pytest.raises(data.DataError, match="not a readable xlsx workbook"):
        data.read("delinquance.etat4001", not_xlsx)
    book = openpyxl.load_workbook(DELINQUANCE / "crimes-et-delits-enregistres-extrait.xlsx")
    book["Services GN 2020"]["C10"] = "douze"
    text = tmp_path / "text.xlsx"
    book.save(text)
    with pytest.raises(
        data.DataError, match=r"sheet 'Services GN 2020': cell at row 10, column 3 holds 'douze'"
    ):
        data.read("delinquance.etat4001", text)
    other = openpyxl.Workbook()
    other.active.title = "Feuil1"
    other.save(tmp_path / "other.xlsx")
    with pytest.raises(data.DataError, match="no sheet named 'Services PN <year>'"):
        data.read("delinquance.etat4001", tmp_path / "other.xlsx")


# --- verbalisation ------------------------------------------------------------------------------------


def test_verbalisation_real_file():
    path = SAMPLES_DIR / "verbalisation" / "bilan-2017-radars-fixes.csv"
    rows = _raw_rows(path, sep=",")
    frame = data.read("radars.verbalisation", path)
    assert len(frame) == len(rows) == 2036
    assert frame["dossiers_infractions"].sum() == 12_537_062
    assert frame["dep"].nunique() == 100 and {"01", "2A", "971"} <= set(frame["dep"])
    top = frame.loc[frame["dossiers_infractions"].idxmax()]
    assert (top["voie"], top["dep"], top["dossiers_infractions"]) == ("A40", "74", 125074)
    assert frame["voie"].str.contains('"Le pont de terre"', regex=False).any()  # doubled quotes undone
    assert (frame["annee"] == 2017).all()
    assert frame["date_mise_en_service"].min() == pd.Timestamp("2003-10-30")


def test_verbalisation_unpadded_departement_restored_and_damage_refused(tmp_path):
    lines = (
        (SAMPLES_DIR / "verbalisation" / "bilan-2017-radars-fixes.csv")
        .read_text(encoding="utf-8")
        .split("\n")
    )
    unpadded = tmp_path / "bilan-2017-radars-fixes.csv"
    unpadded.write_text("\n".join([lines[0], lines[1].replace("01,", "1,", 1)]), encoding="utf-8")
    assert data.read("radars.verbalisation", unpadded)["dep"].tolist() == ["01"]
    named = tmp_path / "radars.csv"
    named.write_text("\n".join(lines[:3]), encoding="utf-8")
    with pytest.raises(data.DataError, match="file name does not say the year"):
        data.read("radars.verbalisation", named)
    date = tmp_path / "bilan-2017-dates.csv"
    date.write_text(
        "\n".join([lines[0], lines[1], lines[2].replace("20/12/2004", "2004-12-20")]), encoding="utf-8"
    )
    with pytest.raises(data.DataError, match=r"'Date de mise en service', line 3: '2004-12-20'"):
        data.read("radars.verbalisation", date)
    shifted = tmp_path / "bilan-2017-shifted.csv"
    shifted.write_text("\n".join([lines[0], lines[1].replace("01,", "RD936,", 1)]), encoding="utf-8")
    with pytest.raises(data.DataError, match=r"'Département', line 2: 'RD936' is not a département code"):
        data.read("radars.verbalisation", shifted)


def test_catalogue_lists_the_new_datasets_with_real_samples():
    catalogue = data.datasets().set_index("name")
    for name in ("dvf.mutations", "delinquance.departements", "delinquance.regions", "delinquance.etat4001",
                 "radars.verbalisation", "insee.population"):  # fmt: skip
        assert catalogue.loc[name, "has_sample"] and catalogue.loc[name, "sample_kind"] == "real"
    assert data.load("radars.verbalisation", source="sample", dep="74")["dep"].eq("74").all()


def test_ssmsi_error_line_counts_the_dropped_unlocated_rows(tmp_path):
    lines = (DELINQUANCE / "donnee-dep-2023.csv").read_text(encoding="utf-8-sig").split("\n")
    unlocated = next(i for i, line in enumerate(lines) if ";NA;NA;" in line)
    damaged = list(lines[: unlocated + 2])
    damaged[unlocated + 1] = damaged[unlocated + 1].replace('"17"', '"x7"', 1)
    path = tmp_path / "donnee-dep.csv"
    path.write_text("\n".join(damaged), encoding="utf-8")
    with pytest.raises(data.DataError, match=rf"column 'annee', line {unlocated + 2}: 'x7'"):
        data.read("delinquance.departements", path)


FULL_WORKBOOK = Path("/work/shared/data/delinquance/crimes-et-delits-enregistres.xlsx")


@pytest.mark.slow
@pytest.mark.skipif(
    not FULL_WORKBOOK.is_file(), reason="the kit's copy of the whole état 4001 workbook is absent"
)
def test_etat4001_whole_published_workbook():
    """The publisher's workbook itself (4 MB, not embedded): every sheet, the shapes its PROVENANCE states."""
    frame = data.read("delinquance.etat4001", FULL_WORKBOOK)
    sheets = frame.groupby(["force", "annee"], observed=True)
    assert len(sheets) == 18
    assert (sheets["index"].nunique() == 107).all()
    services = sheets["service"].size() // 107
    # PN sheets: 599-803 columns minus A-B; GN sheets: 373-385 minus A-B and 3-5 trailing empty columns
    assert services.loc["PN"].between(597, 801).all() and services.loc["GN"].between(366, 383).all()
    nantes = frame[
        (frame["annee"] == 2020) & (frame["force"] == "PN") & (frame["index"] == 27) & (frame["dep"] == "44")
    ].set_index("service")["nombre"]
    assert nantes["CIAT CENTRAL DE NANTES"] == 3160
    sample = data.load("delinquance.etat4001", source="sample")
    keys = ["annee", "force", "dep", "service", "index"]
    joined = sample.merge(frame, on=keys, suffixes=("_sample", "_full"))
    assert len(joined) == len(sample)  # the sample's cells are the publisher's, cell for cell
    assert joined["nombre_sample"].astype("Float64").equals(joined["nombre_full"].astype("Float64"))


def _refusal(name: str, path: Path) -> str:
    with pytest.raises(data.DataError) as refused:
        data.read(name, path)
    return str(refused.value)


def test_a_bad_number_is_refused_with_its_column_value_and_line(tmp_path):
    lines = (DELINQUANCE / "donnee-dep-2023.csv").read_text(encoding="utf-8-sig").split("\n")
    unlocated = next(i for i, line in enumerate(lines) if ";NA;NA;" in line)
    bad = tmp_path / "donnee-dep.csv"
    damaged = lines[: unlocated + 2]
    damaged[unlocated + 1] = damaged[unlocated + 1].replace(
        '"victime";"17";"17";"', '"victime";"17";"17";"x', 1
    )
    bad.write_text("\n".join(damaged), encoding="utf-8")
    message = _refusal("delinquance.departements", bad)
    assert "column 'faits'" in message and f"line {unlocated + 2}" in message and "where a number" in message
    bad.write_text("\n".join([lines[0], lines[1], lines[2].replace('"10"', '"10.5"', 1)]), encoding="utf-8")
    message = _refusal("delinquance.departements", bad)
    assert "column 'faits'" in message and "line 3" in message and "decimals" in message
    raw = (DVF / "valeursfoncieres-2020-extrait-01.txt").read_text(encoding="utf-8").split("\n")
    rooms = tmp_path / "rooms.txt"
    rooms.write_text("\n".join([raw[0], raw[1], raw[12].replace("|35|2|", "|35|2,5|")]), encoding="utf-8")
    message = _refusal("dvf.mutations", rooms)
    assert "column 'nombre_pieces_principales'" in message and "'2,5'" in message and "line 3" in message
