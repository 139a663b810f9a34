"""A real HTTP server on 127.0.0.1 that answers like the data.gouv.fr API v1 and serves the files (tests
only)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# How often a serving thread looks for shutdown(): the standard library's 0.5 s was paid by every test's
# teardown (about 18 s of the suite); 20 ms costs nothing measurable.
SHUTDOWN_POLL_SECONDS = 0.02


def serve_in_background(httpd: ThreadingHTTPServer) -> threading.Thread:
    """Serve ``httpd`` from a daemon thread until ``httpd.shutdown()``, which then returns within
    :data:`SHUTDOWN_POLL_SECONDS`."""
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS}, daemon=True
    )
    thread.start()
    return thread


@dataclass
class Served:
    """One file: its bytes, what the API announces, and how the server misbehaves."""

    body: bytes
    announced_size: int | None = None
    announced_sha256: str | None = None
    corrupt: bool = False  # serve other bytes than announced
    missing: bool = False  # 404
    hang_seconds: float = 0.0  # wait before answering
    filename: str | None = None  # the file name in the URL (default: the title)
    redirect: str | None = None  # answer 302 to this URL instead of the bytes


@dataclass
class DataGouvServer:
    """Datasets ``{slug: {title: Served}}`` behind ``/api/1/datasets/{slug}/`` and
    ``/files/{slug}/{title}``."""

    datasets: dict[str, dict[str, Served]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    about: dict[str, dict] = field(default_factory=dict)  # slug -> title / organization of the dataset

    def describe(self, slug: str, *, title: str, organization: str) -> None:
        """What the API says of dataset ``slug`` besides its resources."""
        self.about[slug] = {"title": title, "organization": {"name": organization}}

    def add(self, slug: str, title: str, body: bytes, **behaviour) -> Served:
        served = Served(body=body, **behaviour)
        self.datasets.setdefault(slug, {})[title] = served
        return served

    def downloads(self, title: str) -> int:
        """How many times a file was requested."""
        return sum(1 for path in self.requests if path.endswith("/" + title))

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/1"

    def _document(self, slug: str) -> dict:
        resources = []
        for title, served in self.datasets[slug].items():
            resources.append(
                {
                    "id": hashlib.md5(title.encode()).hexdigest(),
                    "title": title,
                    "format": title.rsplit(".", 1)[-1],
                    "url": f"http://127.0.0.1:{self.port}/files/{slug}/{served.filename or title}",
                    "latest": f"http://127.0.0.1:{self.port}/api/1/datasets/r/{title}",
                    "filesize": served.announced_size
                    if served.announced_size is not None
                    else len(served.body),
                    "last_modified": "2024-01-01T00:00:00",
                    "checksum": {
                        "type": "sha256",
                        "value": served.announced_sha256 or hashlib.sha256(served.body).hexdigest(),
                    },
                }
            )
        return {"id": slug, "slug": slug, **self.about.get(slug, {}), "resources": resources}

    def __enter__(self) -> DataGouvServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                server.requests.append(self.path)
                parts = [part for part in self.path.split("/") if part]
                if parts[:3] == ["api", "1", "datasets"] and len(parts) == 4 and parts[3] in server.datasets:
                    return self._send(
                        200, json.dumps(server._document(parts[3])).encode(), "application/json"
                    )
                slug = parts[1] if len(parts) > 1 else ""
                files = {
                    item.filename or title: item for title, item in server.datasets.get(slug, {}).items()
                }
                if parts[:1] == ["files"] and len(parts) == 3 and parts[2] in files:
                    served = files[parts[2]]
                    if served.hang_seconds:
                        time.sleep(served.hang_seconds)
                    if served.missing:
                        return self._send(404, b"not found", "text/plain")
                    if served.redirect:
                        self.send_response(302)
                        self.send_header("Location", served.redirect)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return None
                    body = served.body[:-10] + b"0123456789" if served.corrupt else served.body
                    return self._send(200, body, "application/octet-stream")
                return self._send(404, b"{}", "application/json")

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = serve_in_background(self._httpd)
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop answering (the port is closed)."""
        if getattr(self, "_httpd", None) is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None


@contextlib.contextmanager
def serving_datagouv(
    monkeypatch: Any, cache: Path, lock: Path | None = None, timeout: str | None = "5"
) -> Iterator[DataGouvServer]:
    """A fake data.gouv.fr on 127.0.0.1 that ``eigkit.data`` talks to (``EIG_DATAGOUV_API``), the data cache
    in ``cache``, the lock file ``lock`` (None: the workspace's own ``data.lock``), no data-usage file, and
    ``timeout`` seconds per request (None: the kit's default)."""
    monkeypatch.setenv("EIG_DATA_DIR", str(cache))
    if lock is None:
        monkeypatch.delenv("EIG_DATA_LOCK", raising=False)
    else:
        monkeypatch.setenv("EIG_DATA_LOCK", str(lock))
    monkeypatch.delenv("EIG_DATA_USAGE", raising=False)
    if timeout is not None:
        monkeypatch.setenv("EIG_DATA_TIMEOUT", timeout)
    with DataGouvServer() as server:
        monkeypatch.setenv("EIG_DATAGOUV_API", server.api)
        yield server
