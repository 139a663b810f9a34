"""Audit a report page in headless chromium with axe-core (vendored: tests/vendor/axe-core, MPL-2.0).

The page is copied with two scripts appended: axe-core and a runner that writes, into the page itself, the
violations found by axe (WCAG 2.0/2.1 A and AA rules), the page's language, each image's alternative text,
and the images wider than the window. One chromium per test process serves every audit: it is driven over
its DevTools pipe (``--remote-debugging-pipe``, the Chrome DevTools Protocol as NUL-separated JSON on fds 3
and 4), each page opens in a new tab whose result is read back once the runner has written it.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--allow-file-access-from-files",
    "--window-size=1000,800", "--remote-debugging-pipe",
]  # fmt: skip
RUNNER = """
<script>
(function () {
  function write(result) {
    var pre = document.createElement('pre');
    pre.id = 'eig-audit';
    pre.textContent = JSON.stringify(result);
    document.body.appendChild(pre);
  }
  var width = document.documentElement.clientWidth;
  var images = Array.prototype.map.call(document.images, function (img) {
    return {alt: img.getAttribute('alt'), right: img.getBoundingClientRect().right, width: width};
  });
  axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
    .then(function (r) {
      write({lang: document.documentElement.getAttribute('lang'), images: images,
             violations: r.violations.map(function (v) {
               return {id: v.id, impact: v.impact, help: v.help,
                       nodes: v.nodes.slice(0, 3).map(function (n) { return n.html.slice(0, 200); })};
             })});
    })
    .catch(function (e) { write({error: String(e)}); });
})();
</script>
"""


@dataclass(frozen=True)
class Audit:
    """What the browser saw: the page's language, its images, and axe's violations."""

    lang: str | None
    images: list[dict]
    violations: list[dict]

    def serious(self) -> list[dict]:
        """Violations axe rates serious or critical."""
        return [v for v in self.violations if v["impact"] in ("serious", "critical")]

    def too_wide(self) -> list[dict]:
        """Images whose right edge is beyond the window."""
        return [image for image in self.images if image["right"] > image["width"] + 1]


class Browser:
    """A headless chromium driven over its DevTools pipe; started on first use, stopped at exit."""

    def __init__(self, profile: Path) -> None:
        commands, self._to_browser = os.pipe()  # chromium reads its commands on fd 3
        self._from_browser, replies = os.pipe()  # and writes its replies and events on fd 4

        def on_fds_3_and_4() -> None:
            os.dup2(commands, 3)
            os.dup2(replies, 4)

        command = [
            str(CHROMIUM),
            *FLAGS,
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=on_fds_3_and_4, pass_fds=(3, 4),
            env=os.environ | {"TMPDIR": str(profile)},  # its singleton folder goes with the profile
        )  # fmt: skip
        os.close(commands)
        os.close(replies)
        self.profile = profile
        self._buffer = b""
        self._next_id = 0

    def send(self, method: str, session: str | None = None, **params: object) -> dict:
        """Send one DevTools command and return its result (events read meanwhile are dropped)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._next_id:
                assert "error" not in reply, f"chromium refused {method}: {reply['error']}"
                return reply.get("result", {})

    def _read(self) -> dict:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._from_browser], [], [], 180)
            chunk = os.read(self._from_browser, 1 << 16) if ready else b""
            assert chunk, "chromium stopped answering on its DevTools pipe"
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def text_of(self, url: str, element_id: str, timeout: float = 120) -> str:
        """Open ``url`` in a new tab and return the text of element ``element_id`` once it exists."""
        target = self.send("Target.createTarget", url=url)["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        expression = f"(document.getElementById({json.dumps(element_id)}) || {{}}).textContent || ''"
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                found = self.send("Runtime.evaluate", session, expression=expression, returnByValue=True)
                text = found.get("result", {}).get("value") or ""
                if text:
                    return text
                time.sleep(0.05)
            return ""
        finally:
            self.send("Target.closeTarget", targetId=target)

    def stop(self) -> None:
        """Close the browser (and its pipes) and remove its profile folder."""
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        shutil.rmtree(self.profile, ignore_errors=True)


_browser: Browser | None = None


def browser() -> Browser:
    """The test process's chromium, started on first use."""
    global _browser
    if _browser is None or _browser.process.poll() is not None:
        _browser = Browser(Path(tempfile.mkdtemp(prefix="eig-chromium-")))
        atexit.register(_browser.stop)
    return _browser


def audit(page: Path, scratch: Path) -> Audit:
    """Run axe-core and the layout checks on ``page`` in headless chromium."""
    scratch.mkdir(parents=True, exist_ok=True)
    copy = scratch / f"audit-{page.name}"
    script = f'<script src="{AXE.as_uri()}"></script>{RUNNER}'
    copy.write_text(page.read_text(encoding="utf-8").replace("</body>", script + "</body>"), encoding="utf-8")
    text = browser().text_of(copy.as_uri(), "eig-audit")
    assert text, f"the audit of {page} did not finish in the browser"
    result = json.loads(text)
    assert "error" not in result, f"axe-core failed on {page}: {result['error']}"
    return Audit(result["lang"], result["images"], result["violations"])
