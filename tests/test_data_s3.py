"""The data cache on S3-compatible storage (``EIG_DATA_DIR=s3://bucket/path``), against a real S3 server
(moto's server mode) and the fake data.gouv.fr API, both on 127.0.0.1."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pandas as pd
import pytest
import requests
from moto.server import ThreadedMotoServer

from data_server import DataGouvServer, serve_in_background
from eigkit import data
from eigkit.data import storage
from eigkit.data.registry import SAMPLES_DIR, entry
from eigkit.paths import data_cache_dir, data_store_url

BAAC = entry("baac.lieux").datagouv_dataset
LIEUX = Path(__file__).parent / "data" / "baac" / "legacy" / "lieux-2018.csv"  # real 2018 rows
BUCKET = "defi-eig"
PREFIX = "cache/donnees"
LIEUX_2021 = SAMPLES_DIR / "baac" / "lieux-2021.csv"  # real rows
RAW_KEY = f"{PREFIX}/baac.lieux/2018/lieux-2018.csv"


@pytest.fixture(scope="module")
def s3_endpoint():
    """A real S3 server (moto) on 127.0.0.1, on a free port."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint, tmp_path, monkeypatch):
    """An empty bucket, the cache on it, temporary credentials as SSP Cloud injects them; a boto3 client."""
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_S3_ENDPOINT", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "EIGTESTKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "eig-test-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "eig-test-session-token")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))  # the user's ~/.aws
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))  # is never read
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    for listed in client.list_objects_v2(Bucket=BUCKET).get("Contents", []) if _exists(client) else []:
        client.delete_object(Bucket=BUCKET, Key=listed["Key"])
    if not _exists(client):
        client.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("EIG_DATA_DIR", f"s3://{BUCKET}/{PREFIX}")
    monkeypatch.setenv("EIG_DATA_LOCAL_DIR", str(tmp_path / "pod-1"))
    monkeypatch.setenv("EIG_DATA_LOCK", str(tmp_path / "data.lock"))
    monkeypatch.setenv("EIG_DATA_TIMEOUT", "2")
    monkeypatch.delenv("EIG_DATA_USAGE", raising=False)
    return client


@pytest.fixture
def server(s3, monkeypatch):
    with DataGouvServer() as running:
        running.add(BAAC, "lieux-2018.csv", LIEUX.read_bytes())
        monkeypatch.setenv("EIG_DATAGOUV_API", running.api)
        yield running


def _exists(client) -> bool:
    return any(bucket["Name"] == BUCKET for bucket in client.list_buckets()["Buckets"])


def _keys(client) -> list[str]:
    return sorted(listed["Key"] for listed in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def _object(client, key: str) -> bytes:
    return client.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def _flip_a_byte(client, key: str, offset: int) -> None:
    body = bytearray(_object(client, key))
    body[offset] ^= 0x01
    client.put_object(Bucket=BUCKET, Key=key, Body=bytes(body))


def _parquet_key(client) -> str:
    (key,) = [key for key in _keys(client) if key.endswith(".parquet")]
    return key


def _new_pod(tmp_path: Path, monkeypatch, name: str) -> Path:
    """Another machine: an empty local working copy on the same bucket."""
    folder = tmp_path / name
    monkeypatch.setenv("EIG_DATA_LOCAL_DIR", str(folder))
    return folder


LOAD_IN_A_NEW_PROCESS = textwrap.dedent(
    """
    import sys
    from eigkit import data
    frame = data.load("baac.lieux", year=2018, source="remote")
    frame.to_pickle(sys.argv[1])
    """
)


def test_a_second_process_loads_from_s3_without_calling_the_api(server, s3, tmp_path):
    """The issue's acceptance: fetched once, then a fresh process with an empty local folder loads from S3."""
    first = data.load("baac.lieux", year=2018, source="remote")
    pd.testing.assert_frame_equal(first, data.read("baac.lieux", LIEUX))
    assert server.downloads("lieux-2018.csv") == 1
    keys = _keys(s3)
    assert RAW_KEY in keys and f"{PREFIX}/baac.lieux/2018/download.json" in keys
    assert _object(s3, RAW_KEY) == LIEUX.read_bytes()
    meta = json.loads(_object(s3, f"{PREFIX}/baac.lieux/2018/download.json"))
    assert meta["sha256"] == hashlib.sha256(LIEUX.read_bytes()).hexdigest()
    parquet_key = _parquet_key(s3)
    digest = _object(s3, parquet_key + ".sha256").decode().strip()
    assert hashlib.sha256(_object(s3, parquet_key)).hexdigest() == digest
    api_calls = list(server.requests)

    pod = tmp_path / "pod-2"
    env = {**os.environ, "EIG_DATA_LOCAL_DIR": str(pod)}
    out = tmp_path / "frame.pkl"
    command = [sys.executable, "-c", LOAD_IN_A_NEW_PROCESS, str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert server.requests == api_calls, "the second process called the data.gouv.fr API"
    pd.testing.assert_frame_equal(pd.read_pickle(out), first)
    local = pod / "baac.lieux" / "2018"
    assert (local / "lieux-2018.csv").read_bytes() == LIEUX.read_bytes()
    (pulled,) = local.glob("*.parquet")
    assert pulled.read_bytes() == _object(s3, parquet_key), "the table came from S3, not parsed again"


def test_a_hit_in_the_working_copy_never_asks_s3(server, s3, monkeypatch):
    first = data.load("baac.lieux", year=2018, source="remote")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # S3 now unreachable: any request fails
    pd.testing.assert_frame_equal(data.load("baac.lieux", year=2018, source="cache"), first)
    pd.testing.assert_frame_equal(data.load("baac.lieux", year=2018, source="remote"), first)
    assert server.downloads("lieux-2018.csv") == 1


def test_source_cache_finds_the_years_on_s3_with_no_network_call(server, s3, tmp_path, monkeypatch):
    first = data.load("baac.lieux", year=2018, source="remote")
    server.stop()
    _new_pod(tmp_path, monkeypatch, "pod-2")
    pd.testing.assert_frame_equal(data.load("baac.lieux", source="cache"), first)
    assert data.cached_file("baac.lieux") == data_cache_dir() / "baac.lieux" / "2018" / "lieux-2018.csv"


def test_several_years_are_pulled_in_parallel_and_checked_against_data_lock(
    server, s3, tmp_path, monkeypatch
):
    server.add(BAAC, "lieux-2021.csv", LIEUX_2021.read_bytes())
    first = data.load("baac.lieux", years=[2018, 2021], source="remote")
    _new_pod(tmp_path, monkeypatch, "pod-2")
    pd.testing.assert_frame_equal(data.load("baac.lieux", years=[2021, 2018], source="cache"), first)
    # the producer's 2021 file, stored on S3 with a matching download.json, is not the one data.lock holds
    other = LIEUX_2021.read_bytes().replace(b"2021", b"2020", 1)
    meta_key = f"{PREFIX}/baac.lieux/2021/download.json"
    meta = {**json.loads(_object(s3, meta_key)), "sha256": hashlib.sha256(other).hexdigest()}
    s3.put_object(Bucket=BUCKET, Key=f"{PREFIX}/baac.lieux/2021/lieux-2021.csv", Body=other)
    s3.put_object(Bucket=BUCKET, Key=meta_key, Body=json.dumps(meta).encode())
    _new_pod(tmp_path, monkeypatch, "pod-3")
    with pytest.raises(data.DataError, match=r"lieux-2021\.csv: its sha256 .* differs from data\.lock"):
        data.load("baac.lieux", years=[2018, 2021], source="cache")


def test_a_changed_raw_object_on_s3_is_refused_and_fetched_again(server, s3, tmp_path, monkeypatch):
    first = data.load("baac.lieux", year=2018, source="remote")
    _flip_a_byte(s3, RAW_KEY, 200)
    _new_pod(tmp_path, monkeypatch, "pod-2")
    not_cached = rf"no cached file for year 2018 in s3://{BUCKET}/{PREFIX}"
    with (
        pytest.warns(UserWarning, match=r"lieux-2018\.csv there has sha256 .* refused"),
        pytest.raises(data.DataError, match=not_cached),
    ):
        data.load("baac.lieux", year=2018, source="cache")
    assert not (data_cache_dir() / "baac.lieux" / "2018" / "lieux-2018.csv").exists(), "never trusted"
    with pytest.warns(UserWarning, match="refused"):
        again = data.load("baac.lieux", year=2018, source="remote")
    pd.testing.assert_frame_equal(again, first)
    assert server.downloads("lieux-2018.csv") == 2
    assert _object(s3, RAW_KEY) == LIEUX.read_bytes(), "the verified copy replaces the changed object"


def test_a_changed_parquet_object_on_s3_is_rebuilt_from_the_verified_raw_file(
    server, s3, tmp_path, monkeypatch
):
    first = data.load("baac.lieux", year=2018, source="remote")
    parquet_key = _parquet_key(s3)
    digest = _object(s3, parquet_key + ".sha256").decode().strip()
    assert hashlib.sha256(_object(s3, parquet_key)).hexdigest() == digest
    _flip_a_byte(s3, parquet_key, 100)
    server.stop()
    _new_pod(tmp_path, monkeypatch, "pod-2")
    with pytest.warns(UserWarning, match=r"\.parquet there has sha256 .* refused"):
        pd.testing.assert_frame_equal(data.load("baac.lieux", year=2018, source="cache"), first)
    assert hashlib.sha256(_object(s3, parquet_key)).hexdigest() == digest, "a verified table replaced it"
    assert _object(s3, parquet_key + ".sha256").decode().strip() == digest


def test_a_missing_bucket_names_the_url_and_what_to_do(server, s3, monkeypatch):
    monkeypatch.setenv("EIG_DATA_DIR", "s3://no-such-bucket/eig")
    missing = r"s3://no-such-bucket.*'no-such-bucket' does not exist.*Create it"
    with pytest.raises(data.DataError, match=missing):
        data.load("baac.lieux", year=2018, source="remote")
    assert server.downloads("lieux-2018.csv") == 0


def test_a_bucket_gone_before_the_copy_keeps_the_download_and_says_how_to_copy_it(server, s3):
    data.load("baac.lieux", year=2018, source="remote")  # the bucket is checked once per process
    for key in _keys(s3):
        s3.delete_object(Bucket=BUCKET, Key=key)
    s3.delete_bucket(Bucket=BUCKET)
    server.add(BAAC, "lieux-2021.csv", LIEUX_2021.read_bytes())
    gone = rf"bucket '{BUCKET}' does not exist.*kept in .*lieux-2021\.csv.*--year 2021 --refresh"
    with pytest.raises(data.DataError, match=gone):
        data.load("baac.lieux", year=2021, source="remote")
    kept = data_cache_dir() / "baac.lieux" / "2021" / "lieux-2021.csv"
    assert kept.read_bytes() == LIEUX_2021.read_bytes()


def test_refused_credentials_name_the_variables_to_renew(server, s3, s3_endpoint):
    enforce = f"{s3_endpoint}/moto-api/reset-auth"
    requests.post(enforce, data=b"0", timeout=10).raise_for_status()  # from now on, unknown keys are refused
    try:
        with pytest.raises(data.DataError, match=r"s3://defi-eig/.*access denied.*AWS_SESSION_TOKEN.*expire"):
            data.load("baac.lieux", year=2018, source="remote")
    finally:
        requests.post(enforce, data=b"inf", timeout=10).raise_for_status()
    assert server.downloads("lieux-2018.csv") == 0


def test_an_unreachable_endpoint_names_it_and_the_variable(s3, monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed)
    with pytest.raises(data.DataError, match=rf"s3://{BUCKET}/{PREFIX}/.*{closed}.*AWS_ENDPOINT_URL"):
        data.load("baac.lieux", year=2018, source="cache")


def test_the_s3_endpoint_variable_wins_and_onyxia_hosts_get_https(s3, s3_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    assert storage.mirror().files(data_cache_dir()) == []  # reached the live server, not the other one
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_S3_ENDPOINT", "minio.lab.sspcloud.fr")
    assert storage.endpoint_url() == "https://minio.lab.sspcloud.fr"


def test_renewed_credentials_get_a_new_mirror_and_the_old_one_is_let_go(s3, monkeypatch):
    """One mirror per environment, kept while it stays the same; renewed credentials (SSP Cloud renews them
    every few hours) get a new one and the previous S3 client is freed, not kept for the kernel's life."""
    first = storage.mirror()
    assert storage.mirror() is first
    first.files(data_cache_dir())  # its S3 client is made and used
    gone = weakref.ref(first)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "jeton-renouvele")
    renewed = storage.mirror()
    assert renewed is not first and storage.mirror() is renewed
    del first
    gc.collect()
    assert gone() is None, "the mirror of the expired credentials is still referenced"
    assert renewed.files(data_cache_dir()) == []


def test_threads_asking_at_once_share_one_mirror(s3):
    """The years of one load are pulled in parallel threads: they get one mirror, not one S3 client each."""
    start = threading.Barrier(8)

    def ask(_: int) -> storage.Mirror:
        start.wait()
        return storage.mirror()

    with ThreadPoolExecutor(8) as pool:
        mirrors = list(pool.map(ask, range(8)))
    assert len({id(found) for found in mirrors}) == 1


def test_the_temporary_credentials_are_the_ones_sent(s3, monkeypatch):
    """SSP Cloud's credentials are temporary: key, secret and AWS_SESSION_TOKEN must all reach the server."""
    seen: list[dict[str, str]] = []

    class Recorder(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_HEAD(self) -> None:
            seen.append(dict(self.headers))
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with ThreadingHTTPServer(("127.0.0.1", 0), Recorder) as recorder:
        serve_in_background(recorder)
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{recorder.server_address[1]}")
        monkeypatch.setenv("AWS_SESSION_TOKEN", "jeton-de-session-temporaire")
        with pytest.raises(data.DataError, match="does not exist"):
            data.load("baac.lieux", year=2018, source="cache")
        recorder.shutdown()
    assert seen and seen[0]["X-Amz-Security-Token"] == "jeton-de-session-temporaire"
    assert "Credential=EIGTESTKEY/" in seen[0]["Authorization"]


def test_without_the_extra_the_error_says_which_to_install(s3, monkeypatch):
    monkeypatch.setitem(sys.modules, "s3fs", None)  # import s3fs raises ImportError
    monkeypatch.setattr(storage, "_current", None)
    with pytest.raises(data.DataError, match=r"s3://defi-eig/cache/donnees: .*`s3` extra.*eig-kit\[s3\]"):
        data.load("baac.lieux", year=2018, source="cache")


def test_the_local_working_copy_defaults_to_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("EIG_DATA_LOCAL_DIR", raising=False)
    monkeypatch.setenv("EIG_DATA_DIR", "S3://user-x/eig/donnees/")
    assert data_cache_dir() == tmp_path / "xdg" / "eigkit" / "s3" / "user-x" / "eig" / "donnees"
    assert data_store_url() == "s3://user-x/eig/donnees"
    monkeypatch.setenv("EIG_DATA_LOCAL_DIR", str(tmp_path / "disque-du-pod"))
    assert data_cache_dir() == tmp_path / "disque-du-pod"


LOAD_FROM_A_LOCAL_CACHE = textwrap.dedent(
    """
    import sys
    from eigkit import data
    try:
        data.load("baac.lieux", year=2018, source="cache")  # a miss goes through every cache step
    except data.DataError as error:
        assert "no cached file" in str(error), error
    print("s3fs" in sys.modules)
    """
)


def test_a_local_cache_never_imports_s3fs(tmp_path):
    env = {**os.environ, "EIG_DATA_DIR": str(tmp_path / "cache"), "EIG_DATA_LOCK": str(tmp_path / "lock")}
    probe = LOAD_FROM_A_LOCAL_CACHE
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
