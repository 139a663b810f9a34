"""The cache on a real disk: a parquet entry whose bytes changed is detected and rebuilt, a read-only cache
folder still serves loads, cached files follow the user's umask."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from data_server import serving_datagouv
from eigkit import data
from eigkit.data.registry import entry

BAAC = entry("baac.lieux").datagouv_dataset
LIEUX = Path(__file__).parent / "data" / "datagouv" / "lieux-2021.csv"  # real rows (see PROVENANCE.md there)
YEAR = 2021


@pytest.fixture
def server(tmp_path, monkeypatch):
    with serving_datagouv(monkeypatch, tmp_path / "cache", tmp_path / "data.lock") as running:
        running.add(BAAC, "lieux-2021.csv", LIEUX.read_bytes())
        yield running


def _parquet(year: int = YEAR) -> Path:
    (parquet,) = data.cached_file("baac.lieux", year=year).parent.glob("*.parquet")
    return parquet


def test_a_flipped_bit_in_a_parquet_entry_is_detected_and_rebuilt(server):
    first = data.load("baac.lieux", year=YEAR, source="remote")
    parquet = _parquet()
    recorded = parquet.with_name(parquet.name + ".sha256").read_text().strip()
    original = parquet.read_bytes()
    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0x10  # one bit, in the middle of the data pages
    parquet.write_bytes(bytes(flipped))
    pd.testing.assert_frame_equal(data.load("baac.lieux", year=YEAR, source="cache"), first)
    assert parquet.read_bytes() == original, "the entry is rebuilt from the verified raw file"
    assert (
        data.cached_file("baac.lieux").parent.joinpath(parquet.name + ".sha256").read_text().strip()
        == recorded
    )


def test_a_parquet_entry_without_its_recorded_sha256_is_not_trusted(server):
    first = data.load("baac.lieux", year=YEAR, source="remote")
    parquet = _parquet()
    parquet.with_name(parquet.name + ".sha256").unlink()
    parquet.write_bytes(parquet.read_bytes())  # same bytes, but nothing says they are the ones written
    pd.testing.assert_frame_equal(data.load("baac.lieux", year=YEAR, source="cache"), first)
    assert parquet.with_name(parquet.name + ".sha256").is_file()


@pytest.mark.parametrize("umask", [0o002, 0o022])
def test_cached_files_follow_the_users_umask(server, tmp_path, umask):
    previous = os.umask(umask)
    try:
        data.load("baac.lieux", year=YEAR, source="remote")
    finally:
        os.umask(previous)
    folder = data.cached_file("baac.lieux").parent
    written = [
        *folder.glob("*.csv"),
        folder / "download.json",
        *folder.glob("*.parquet*"),
        tmp_path / "data.lock",
    ]
    assert len(written) == 5
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in written} == {
        path.name: 0o666 & ~umask for path in written
    }
    assert not [path for path in folder.iterdir() if path.name.startswith(".") and path.name != ".fetch.lock"]


READ_ONLY_SCRIPT = """
import json, sys
from eigkit import data
out = {"rows": len(data.load("baac.lieux", year=2021, source="cache")),
       "remote_rows": len(data.load("baac.lieux", year=2021, source="remote"))}
try:
    data.fetch("baac.lieux", year=2017)
except data.DataError as error:
    out["fetch_error"] = str(error)
print(json.dumps(out))
"""


def _as_a_user_without_override(command: list[str]) -> list[str]:
    """Run ``command`` so that file permissions apply to it (root bypasses them: drop that capability)."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: a read-only folder cannot be made read-only to root")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--", *command]


def test_a_read_only_cache_serves_loads_and_a_fetch_into_it_names_the_folder(server, tmp_path):
    expected = data.load("baac.lieux", year=YEAR, source="remote")
    server.add(BAAC, "lieux-2017.csv", LIEUX.read_bytes().replace(b'"2021', b'"2017'))
    _parquet().unlink()  # the read-only load must parse in memory, not store a table
    cache = tmp_path / "cache"
    for folder in [cache, *(path for path in cache.rglob("*") if path.is_dir())]:
        folder.chmod(0o555)
    try:
        done = subprocess.run(
            _as_a_user_without_override([sys.executable, "-c", READ_ONLY_SCRIPT]),
            capture_output=True, text=True, timeout=120, env=os.environ.copy(),
        )  # fmt: skip
    finally:
        for folder in [cache, *(path for path in cache.rglob("*") if path.is_dir())]:
            folder.chmod(0o755)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["rows"] == out["remote_rows"] == len(expected)
    assert not list(cache.rglob("*.parquet")), "nothing was written into the read-only cache"
    target = cache / "baac.lieux"
    assert f"into {target}" in out["fetch_error"] and "not writable" in out["fetch_error"]
    assert "EIG_DATA_DIR" in out["fetch_error"]


def test_a_raw_file_rewritten_in_place_is_hashed_again_even_with_its_old_mtime(server):
    """The raw file is re-hashed only when it may have changed (size, mtime, ctime or inode differ from
    when it was verified); a rewrite that puts the old mtime back still changes its ctime."""
    data.load("baac.lieux", year=YEAR, source="remote")
    raw = data.cached_file("baac.lieux", year=YEAR)
    meta = raw.parent / "download.json"
    before = os.stat(raw)
    raw.write_bytes(raw.read_bytes().replace(b"202100000001", b"202100000999", 1))
    os.utime(raw, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(data.DataError, match="modified after its download"):
        data.load("baac.lieux", year=YEAR, source="cache")
    raw.write_bytes(LIEUX.read_bytes())  # the original bytes back: a new stamp, the same sha256
    stamp = json.loads(meta.read_text())["stamp"]
    data.load("baac.lieux", year=YEAR, source="cache")
    assert json.loads(meta.read_text())["stamp"] != stamp, "the verified stamp is recorded again"
