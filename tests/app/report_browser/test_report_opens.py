"""The demo's dataset report opens in a real browser (headless Chromium): no console error,
every thumbnail loads, every case is on the page, and it renders to a screenshot.

Skips where Chromium is not installed (``.ci/run`` installs it when it can) or the report
package is absent. Chromium runs without a sandbox, network, sync or a first-run page, in a
profile of its own under tmp_path; its console reaches the test through its stderr log.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from app.items import load_taxonomy
from app.progress import run
from app.session import Review, SignOff, open_folder

report = pytest.importorskip("app.report")

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists()
                                        else None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine")

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0")

# Wraps console.error and catches failed loads (they do not bubble: capture) before the
# report's own content, so Chromium's log shows them as marked console lines.
_PROBE_HEAD = """<script>(function () {
  console.error = function (...a) { console.log("SEGMAP-CONSOLE-ERROR " + a.join(" ")); };
  window.addEventListener("error", function (ev) {
    const t = ev.target;
    console.log("SEGMAP-CONSOLE-ERROR " + (t && t.src ? "resource " + t.src : ev.message));
  }, true);
})();</script>"""
# Loads every image eagerly (the report's are lazy) and counts those that load on <body>.
_PROBE_TAIL = """<script>(function () {
  const all = [...document.images];
  let n = 0;
  document.body.setAttribute("data-segmap-images", all.length);
  all.forEach(function (img) {
    const p = new Image();
    p.onload = function () { n++; document.body.setAttribute("data-segmap-loaded", n); };
    p.onerror = function () { console.log("SEGMAP-BROKEN-IMAGE " + img.getAttribute("src")); };
    p.src = img.src;
  });
})();</script>"""

_CONSOLE = re.compile(r":CONSOLE[:(]")
_BAD = re.compile(r"Uncaught|SEGMAP-CONSOLE-ERROR|SEGMAP-BROKEN-IMAGE|Failed to load resource|"
                  r"Not allowed to load local resource|Refused to", re.IGNORECASE)


@pytest.fixture(scope="module")
def written(demo_dataset, tmp_path_factory):
    """The demo's report (one case reviewed, one needs work) and its session."""
    session = run(open_folder(demo_dataset.root, load_taxonomy(demo_dataset.taxonomy_json)))
    session.set_sign_off(session.cases[0], SignOff(Review.REVIEWED, "all slices checked",
                                                   "dr.demo", "2026-12-02T02:40:00+00:00"))
    session.set_sign_off(session.cases[1], SignOff(Review.NEEDS_WORK, "spleen cut at the top",
                                                   "dr.demo", "2026-12-02T02:41:00+00:00"))
    out = tmp_path_factory.mktemp("report")
    summary = run(report.write_report(session, out, taxonomy=session.taxonomy))
    return session, Path(summary.index)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Chromium in a fresh profile; the timeout only keeps a hung browser from hanging CI."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=180, check=False)


def console_errors(log: str) -> list[str]:
    """The console lines of Chromium's log that say something went wrong."""
    return [line for line in log.splitlines() if _CONSOLE.search(line) and _BAD.search(line)]


def test_the_report_opens_without_console_errors_and_names_every_case(written, tmp_path):
    session, index = written
    done = chromium(tmp_path, "--dump-dom", index.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert console_errors(done.stderr) == []
    assert "<body" in done.stdout
    for case in session.cases:
        assert case.name in done.stdout
    assert "all slices checked" in done.stdout and "spleen cut at the top" in done.stdout


def test_every_thumbnail_loads(written, tmp_path):
    session, index = written
    probe = index.with_name("probe.html")  # beside index.html: the same relative thumbs/
    html = index.read_text(encoding="utf-8")
    html = html.replace("<head>", "<head>" + _PROBE_HEAD, 1) if "<head>" in html \
        else _PROBE_HEAD + html
    probe.write_text(html.replace("</body>", _PROBE_TAIL + "</body>", 1), encoding="utf-8")
    try:
        done = chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", probe.as_uri())
    finally:
        probe.unlink()
    assert done.returncode == 0, done.stderr[-2000:]
    assert console_errors(done.stderr) == []
    body = re.search(r"<body[^>]*>", done.stdout)
    assert body is not None
    images = re.search(r'data-segmap-images="(\d+)"', body.group(0))
    loaded = re.search(r'data-segmap-loaded="(\d+)"', body.group(0))
    assert images is not None and int(images.group(1)) >= len(session.cases)
    assert loaded is not None and loaded.group(1) == images.group(1)


def test_the_report_renders_to_a_screenshot(written, tmp_path):
    _, index = written
    png = tmp_path / "report.png"
    done = chromium(tmp_path, f"--screenshot={png}", "--window-size=1280,2000",
                    "--hide-scrollbars", index.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    assert console_errors(done.stderr) == []
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
