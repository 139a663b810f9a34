"""The remote path against a real HTTP server on 127.0.0.1 answering like the data.gouv.fr API v1."""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import tarfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from data_server import DataGouvServer
from eigkit import data
from eigkit.cli import main
from eigkit.data import cache, remote
from eigkit.data.columns import _sort_key, concat_frames
from eigkit.data.registry import SAMPLES_DIR, entry

BAAC = entry("baac.lieux").datagouv_dataset
LIEUX = Path(__file__).parent / "data" / "baac" / "legacy" / "lieux-2018.csv"  # real 2018 rows
USAGERS = SAMPLES_DIR / "baac" / "usagers-2021.csv"  # real rows; served as bytes only


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Cache, lock and usage log in a temporary folder; short network timeout."""
    monkeypatch.setenv("EIG_DATA_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("EIG_DATA_LOCK", str(tmp_path / "data.lock"))
    monkeypatch.setenv("EIG_DATA_USAGE", str(tmp_path / "usage.jsonl"))
    monkeypatch.setenv("EIG_DATA_TIMEOUT", "1")
    return tmp_path


@pytest.fixture
def server(env, monkeypatch):
    with DataGouvServer() as running:
        monkeypatch.setenv("EIG_DATAGOUV_API", running.api)
        yield running


def _lock(env: Path) -> dict:
    return json.loads((env / "data.lock").read_text(encoding="utf-8"))["downloads"]


def test_fetch_downloads_verifies_records_and_caches(server, env):
    server.add(BAAC, "lieux-2018.csv", LIEUX.read_bytes())
    server.add(BAAC, "lieux-2017.csv", b"other year")
    path = data.fetch("baac.lieux", year=2018)
    assert path.read_bytes() == LIEUX.read_bytes()
    assert path.is_relative_to(env / "cache")
    locked = _lock(env)["baac.lieux@2018"]
    assert locked["sha256"] == hashlib.sha256(LIEUX.read_bytes()).hexdigest()
    assert locked["size"] == LIEUX.stat().st_size
    assert locked["url"].endswith("/lieux-2018.csv")
    frame = data.load("baac.lieux", year=2018, source="remote")
    pd.testing.assert_frame_equal(frame, data.read("baac.lieux", LIEUX))
    assert list(path.parent.glob("*.parquet")), "the normalised table is cached as parquet"
    assert server.downloads("lieux-2018.csv") == 1
    usage = [json.loads(line) for line in (env / "usage.jsonl").read_text().splitlines()]
    assert usage[-1]["name"] == "baac.lieux" and usage[-1]["sha256"] == locked["sha256"]
    assert usage[-1]["url"] == locked["url"] and usage[-1]["source"] == "remote"


def test_cli_fetch_prints_the_verified_path_and_names_a_missing_year(server, env):
    server.add(BAAC, "lieux-2018.csv", LIEUX.read_bytes())
    runner = CliRunner()
    fetched = runner.invoke(main, ["data", "fetch", "baac.lieux", "--year", "2018"])
    assert fetched.exit_code == 0, fetched.output
    path = Path(fetched.output.strip().splitlines()[-1])
    assert path.read_bytes() == LIEUX.read_bytes() and path.is_relative_to(env / "cache")
    assert _lock(env)["baac.lieux@2018"]["sha256"] == hashlib.sha256(LIEUX.read_bytes()).hexdigest()
    missing = runner.invoke(main, ["data", "fetch", "baac.lieux", "--year", "2016"])
    assert missing.exit_code != 0 and "2016" in missing.output
    assert "baac.lieux@2016" not in _lock(env)


def test_multi_year_loads_match_the_files_read_one_by_one(server, env):
    """Two eras, first parsed then from parquet (concatenated in Arrow): same frame, codes in order."""
    new_lieux = Path(__file__).parent / "data" / "baac" / "legacy" / "lieux-2019-SYNTHETIQUE.csv"
    server.add(BAAC, "lieux-2018.csv", LIEUX.read_bytes())
    server.add(BAAC, "lieux-2019.csv", new_lieux.read_bytes())
    expected = concat_frames([data.read("baac.lieux", LIEUX), data.read("baac.lieux", new_lieux)])
    first = data.load("baac.lieux", years=[2018, 2019], source="remote")
    cached = data.load("baac.lieux", years=[2019, 2018], source="cache")
    pd.testing.assert_frame_equal(first, expected)
    pd.testing.assert_frame_equal(cached, expected)
    assert sorted(set(cached["an"])) == [2018, 2019]
    for column in ("catr", "voie", "nbv", "vma", "circ"):
        values = cached[column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            assert list(values.cat.categories) == sorted(values.cat.categories, key=_sort_key), column
    assert "-1" in cached["circ"].cat.categories and "02" not in cached["nbv"].astype("str").tolist()


def test_a_damaged_parquet_cache_is_rebuilt_not_trusted(server, env):
    server.add(BAAC, "lieux-2018.csv", LIEUX.read_bytes())
    first = data.load("baac.lieux", year=2018, source="remote")
    (parquet,) = data.fetch("baac.lieux", year=2018).parent.glob("*.parquet")
    parquet.write_bytes(b"PAR1 not a parquet file")
    pd.testing.assert_frame_equal(data.load("baac.lieux", year=2018, source="cache"), first)
    assert pd.read_parquet(parquet).shape == first.shape, "the cache entry is written again"


def test_cached_reload_works_with_the_server_stopped(server, env):
    server.add(BAAC, "lieux-2018.csv", LIEUX.read_bytes())
    first = data.load("baac.lieux", year=2018, source="remote")
    server.stop()
    from_cache = data.load("baac.lieux", year=2018, source="cache")
    again_remote = data.load("baac.lieux", year=2018, source="remote")
    pd.testing.assert_frame_equal(first, from_cache)
    pd.testing.assert_frame_equal(first, again_remote)


def test_no_network_and_no_cache_names_the_way_out(server, env):
    server.stop()
    with pytest.raises(data.DataError, match=r"source='sample'.*eig data fetch baac.usagers --year 2018"):
        data.load("baac.usagers", year=2018, source="remote")
    with pytest.raises(data.DataError, match=r"eig data fetch baac.usagers --year 2018"):
        data.load("baac.usagers", year=2018, source="cache")


def test_corrupted_download_never_poisons_the_cache(server, env):
    served = server.add(BAAC, "usagers-2018.csv", USAGERS.read_bytes(), corrupt=True)
    with pytest.raises(data.DataError, match="corrupted"):
        data.fetch("baac.usagers", year=2018)
    folder = cache.target_dir(entry("baac.usagers"), 2018)
    assert [path.name for path in folder.iterdir()] == [".fetch.lock"]
    assert not (env / "data.lock").exists()
    served.corrupt = False
    assert data.fetch("baac.usagers", year=2018).read_bytes() == USAGERS.read_bytes()


def test_missing_file_is_a_clear_error(server, env):
    server.add(BAAC, "usagers-2018.csv", USAGERS.read_bytes(), missing=True)
    with pytest.raises(data.DataError, match="HTTP 404"):
        data.fetch("baac.usagers", year=2018)
    with pytest.raises(data.DataError, match=r"No resource .* matches"):
        data.fetch("baac.usagers", year=2016)


@pytest.mark.slow
def test_a_hanging_server_times_out(server, env):
    server.add(BAAC, "usagers-2018.csv", USAGERS.read_bytes(), hang_seconds=4)
    with pytest.raises(data.DataError, match=r"did not answer within 1 s"):
        data.fetch("baac.usagers", year=2018)
    assert cache.cached(entry("baac.usagers"), 2018) is None


def test_announced_size_mismatch_is_refused(server, env):
    server.add(BAAC, "usagers-2018.csv", USAGERS.read_bytes(), announced_size=USAGERS.stat().st_size + 5)
    with pytest.raises(data.DataError, match="the API announced"):
        data.fetch("baac.usagers", year=2018)
    assert cache.cached(entry("baac.usagers"), 2018) is None


def test_lock_mismatch_is_refused_unless_refresh(server, env):
    served = server.add(BAAC, "lieux-2018.csv", LIEUX.read_bytes())
    path = data.fetch("baac.lieux", year=2018)
    # the cached bytes are altered on disk
    path.write_bytes(LIEUX.read_bytes().replace(b"201800000001", b"201800000999", 1))
    with pytest.raises(data.DataError, match="modified after its download"):
        data.load("baac.lieux", year=2018, source="cache")
    # the producer publishes other bytes: a fresh machine (empty cache) refuses them against data.lock
    for item in path.parent.iterdir():
        item.unlink()
    new_bytes = LIEUX.read_bytes().replace(b"201800000002,4", b"201800000002,3", 1)
    served.body = new_bytes
    with pytest.raises(data.DataError, match=r"differs from data\.lock"):
        data.fetch("baac.lieux", year=2018)
    refreshed = data.fetch("baac.lieux", year=2018, refresh=True)
    assert refreshed.read_bytes() == new_bytes
    assert _lock(env)["baac.lieux@2018"]["sha256"] == hashlib.sha256(new_bytes).hexdigest()


def test_only_https_or_loopback(env, monkeypatch):
    remote.check_url("https://www.data.gouv.fr/api/1/datasets/x/")
    remote.check_url("http://127.0.0.1:8000/x.csv")
    remote.check_url("http://[::1]:8000/x.csv")
    with pytest.raises(data.DataError, match="only https"):
        remote.check_url("http://www.data.gouv.fr/fichier.csv")
    monkeypatch.setenv("EIG_DATAGOUV_API", "http://api.example.invalid/api/1")
    with pytest.raises(data.DataError, match="only https"):
        data.fetch("radars")


def test_a_redirect_is_checked_before_it_is_followed(server, env):
    """data.gouv.fr links redirect to the stored file: followed when safe, refused when it drops to http."""
    server.add(BAAC, "stored.bin", LIEUX.read_bytes())
    server.add(
        BAAC,
        "lieux-2018.csv",
        LIEUX.read_bytes(),
        redirect=f"http://127.0.0.1:{server.port}/files/{BAAC}/stored.bin",
    )
    assert data.fetch("baac.lieux", year=2018).read_bytes() == LIEUX.read_bytes()
    server.add(
        BAAC,
        "usagers-2018.csv",
        USAGERS.read_bytes(),
        redirect="http://static.example.invalid/usagers-2018.csv",
    )
    with pytest.raises(data.DataError, match=r"redirects to http://static\.example\.invalid/.*only https"):
        data.fetch("baac.usagers", year=2018)
    assert cache.cached(entry("baac.usagers"), 2018) is None
    assert "baac.usagers@2018" not in _lock(env)


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, body in members.items():
            bundle.writestr(name, body)
    return buffer.getvalue()


def test_archives_are_extracted_inside_their_folder_only(server, env, tmp_path):
    server.add(BAAC, "lieux-2018.csv", _zip({"lieux-2018.csv": LIEUX.read_bytes()}), filename="baac-2018.zip")
    pd.testing.assert_frame_equal(
        data.load("baac.lieux", year=2018, source="remote"), data.read("baac.lieux", LIEUX)
    )
    server.add(BAAC, "usagers-2018.csv", _zip({"../../evil.csv": b"x", "usagers-2018.csv": b"y"}),
               filename="usagers.zip")  # fmt: skip
    with pytest.raises(data.DataError, match="outside"):
        data.fetch("baac.usagers", year=2018)
    assert not list(env.rglob("evil.csv"))
    absolute = tarfile.TarInfo("/tmp/absolute.csv")
    archive = _tar(tmp_path / "bad.tar", [(absolute, b"z")])
    with pytest.raises(data.DataError, match="outside"):
        remote.safe_extract(archive, tmp_path / "target")


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    """Write a tar archive of ``members`` (a member's bytes, or None for a link) at ``path``."""
    with tarfile.open(path, mode="w") as bundle:
        for info, content in members:
            if content is not None:
                info.size = len(content)
            bundle.addfile(info, None if content is None else io.BytesIO(content))
    return path


def test_a_link_in_a_tar_archive_is_refused(tmp_path):
    """A symbolic link member (``data -> /etc``) would let a later member write outside the folder."""
    link = tarfile.TarInfo("data")
    link.type, link.linkname = tarfile.SYMTYPE, str(tmp_path / "outside")
    archive = _tar(tmp_path / "linked.tar", [(link, None), (tarfile.TarInfo("data/lieux-2018.csv"), b"x")])
    with pytest.raises(data.DataError, match="'data' is a link or device; archive refused"):
        remote.safe_extract(archive, tmp_path / "target")
    assert not (tmp_path / "outside").exists() and not list((tmp_path / "target").iterdir())


def _fetch_in_process(api: str, cache_dir: str, lock_file: str) -> str:
    import os

    os.environ.update({"EIG_DATAGOUV_API": api, "EIG_DATA_DIR": cache_dir, "EIG_DATA_LOCK": lock_file})
    from eigkit import data as loaders

    return hashlib.sha256(loaders.fetch("baac.lieux", year=2018).read_bytes()).hexdigest()


@pytest.mark.slow
def test_two_processes_fetching_the_same_file(server, env):
    server.add(BAAC, "lieux-2018.csv", LIEUX.read_bytes(), hang_seconds=0.5)
    context = multiprocessing.get_context("spawn")
    arguments = (server.api, str(env / "cache"), str(env / "data.lock"))
    with context.Pool(2) as pool:
        digests = pool.starmap(_fetch_in_process, [arguments, arguments])
    expected = hashlib.sha256(LIEUX.read_bytes()).hexdigest()
    assert digests == [expected, expected]
    assert server.downloads("lieux-2018.csv") == 1
    assert _lock(env)["baac.lieux@2018"]["sha256"] == expected


LIEUX_2021 = Path(__file__).parent / "data" / "datagouv" / "lieux-2021.csv"


def _as_year(body: bytes, year: int) -> bytes:
    """The 2021 rows as if published for ``year`` (accident keys start with the year)."""
    return body.replace(b'"2021', f'"{year}'.encode())


def test_years_are_asked_of_the_api_by_the_dataset_stable_id(server, env):
    """ONISR publishes a new year (here 2024) under the same dataset id: the kit finds it without a code
    change, reads it since its header is a known edition, and loads it by default as the latest year."""
    assert BAAC == "53698f4ca3a729239d2036df"  # the id, not the yearly slug
    body = LIEUX_2021.read_bytes()
    server.add(BAAC, "lieux-2021.csv", body)
    server.add(BAAC, "lieux-2024.csv", _as_year(body, 2024))
    server.add(BAAC, "caract-2024.csv", b"not the lieux table")
    assert data.published_years("baac.lieux") == [2021, 2024]
    assert data.published_years("baac.caracteristiques") == [2024]
    latest = data.load("baac.lieux", source="remote")
    assert sorted(set(latest["an"])) == [2024] and len(latest) == 70
    published = data.read("baac.lieux", LIEUX_2021)
    for column in ("catr", "circ", "nbv", "vma", "larrout"):
        pd.testing.assert_series_equal(latest[column], published[column])
    assert any(request.startswith(f"/api/1/datasets/{BAAC}/") for request in server.requests)
    with pytest.raises(data.DataError, match=r"Years published today: 2021, 2024"):
        data.fetch("baac.lieux", year=2016)
    server.stop()
    pd.testing.assert_frame_equal(data.load("baac.lieux", source="cache"), latest)  # latest CACHED year


def test_a_header_of_no_known_edition_is_refused_naming_its_new_columns(server, env, tmp_path):
    lines = _as_year(LIEUX_2021.read_bytes(), 2025).splitlines()
    changed = b"\n".join([lines[0] + b';"vma_panneau"', *(line + b';"1"' for line in lines[1:])]) + b"\n"
    server.add(BAAC, "lieux-2025.csv", changed)
    with pytest.raises(data.DataError, match=r"new column\(s\) 'vma_panneau' in the header.*baac\.lieux"):
        data.load("baac.lieux", year=2025, source="remote")
    (tmp_path / "lieux-2025.csv").write_bytes(changed)
    with pytest.raises(data.DataError, match=r"'vma_panneau'"):
        data.read("baac.lieux", tmp_path / "lieux-2025.csv")


def test_source_cache_never_touches_the_network(server, env):
    with pytest.raises(data.DataError, match=r"eig data fetch baac\.lieux --year 2018"):
        data.cached_file("baac.lieux", year=2018)
    with pytest.raises(data.DataError, match=r"eig data fetch baac\.lieux"):
        data.cached_file("baac.lieux")
    assert server.requests == []
    server.add(BAAC, "lieux-2018.csv", LIEUX.read_bytes())
    fetched = data.fetch("baac.lieux", year=2018)
    asked = len(server.requests)
    assert data.cached_file("baac.lieux") == fetched == data.cached_file("baac.lieux", year=2018)
    assert len(server.requests) == asked


def test_any_datagouv_dataset_is_listed_and_its_head_downloaded(server, tmp_path):
    rows = "".join(f"{number:05d};commune {number}\n" for number in range(100))
    server.add("communes", "notice.pdf", b"%PDF-1.4")
    served = server.add("communes", "communes.csv", ("code;nom\n" + rows).encode())
    remote_set = data.datagouv_dataset("communes")
    assert [resource.title for resource in remote_set.resources] == ["notice.pdf", "communes.csv"]
    assert remote_set.pick().title == "communes.csv" == remote_set.pick(remote_set.resources[1].id).title
    with pytest.raises(data.DataError, match=r"no resource with id or title 'absent'.*communes\.csv"):
        remote_set.pick("absent")
    head = data.download_head(remote_set.pick().url, tmp_path / "head.csv", lines=20)
    assert not head.complete and head.lines == 20
    assert head.path.read_text().splitlines() == ["code;nom", *rows.splitlines()[:20]]
    whole = data.download_head(remote_set.pick().url, tmp_path / "whole.csv", lines=500)
    assert whole.complete and whole.lines == 100 and whole.path.read_bytes() == served.body
    with pytest.raises(data.DataError, match=r"knows no .*/datasets/absent/"):
        data.datagouv_dataset("absent")
