"""Audit a report page in headless chromium with axe-core (vendored: tests/vendor/axe-core, MPL-2.0).

The page is copied with two scripts appended: axe-core and a runner that writes, into the page itself, the
violations found by axe (WCAG 2.0/2.1 A and AA rules), the page's language, each image's alternative text,
and the images wider than the window. ``chromium --dump-dom --virtual-time-budget`` lets the audit finish
before the DOM is read back.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--allow-file-access-from-files",
    "--window-size=1000,800", "--virtual-time-budget=60000",
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


def audit(page: Path, scratch: Path) -> Audit:
    """Run axe-core and the layout checks on ``page`` in headless chromium."""
    scratch.mkdir(parents=True, exist_ok=True)
    copy = scratch / f"audit-{page.name}"
    script = f'<script src="{AXE.as_uri()}"></script>{RUNNER}'
    copy.write_text(page.read_text(encoding="utf-8").replace("</body>", script + "</body>"), encoding="utf-8")
    profile = scratch / "chromium-profile"
    command = [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "--dump-dom", copy.as_uri()]
    dom = subprocess.run(command, capture_output=True, text=True, timeout=180, check=True).stdout
    match = re.search(r'<pre id="eig-audit">(.*?)</pre>', dom, re.S)
    assert match, f"the audit of {page} did not finish in the browser"
    result = json.loads(html.unescape(match.group(1)))
    assert "error" not in result, f"axe-core failed on {page}: {result['error']}"
    return Audit(result["lang"], result["images"], result["violations"])
