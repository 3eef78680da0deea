"""Opening a large folder in the wizard: when the Cases page shows, fills in and is ready.

In the real window (every page listening, settings and autosave in a temporary folder), the
folder is opened as the Source page opens it (``SourcePage.open_path``); a 20 ms timer on
the window's event loop measures how long the window ever stops answering (the longest gap
between two of its ticks). Times from the open:

* shown: the scan view on the Cases page (a folder still scanning after 0.4 s);
* rows: its first rows (every case paired, none counted yet);
* counted: every case's census in;
* ready: the session open, the window idle again;

then Next to the Mapping page, Back and Next again (each a click's whole time);

against ``segmap scan`` of the same folder in a fresh process (its imports included), the
reference: the same work without a window. Both use every core (the wizard does for a
folder of many files, ``app.session.folder_jobs``).

Two folders: bench_scan's 1,000 nnU-Net cases (a 192x192x64 CT-like image and a label map
each; real reading) and bench_scale's 10,000 tiny cases (8x8x4: the per-case bookkeeping).
Each run is a fresh process; ``--png DIR`` also grabs the window while it fills in and
when it is ready.

Run: ``QT_QPA_PLATFORM=offscreen python -m bench.bench_wizard_scan [--png DIR]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import machine  # noqa: E402

TICK_MS = 20


def child(folder: Path, png: Path | None) -> dict[str, float]:
    """One open of ``folder`` in a fresh window; its times in seconds."""
    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from app import allocator
    from ui.main_window import MainWindow
    from ui.pages.cases_page import CasesPage
    from ui.pages.source_page import SourcePage
    from ui.settings import Settings
    from ui.state import WizardState

    allocator.tune()  # as segmap-gui does first (its collector at Python's own pace)
    app = QApplication.instance() or QApplication([])
    home = Path(tempfile.mkdtemp(prefix="segmap-bench-wizard-"))
    settings = Settings(QSettings(str(home / "settings.ini"), QSettings.Format.IniFormat))
    state = WizardState(settings, autosave_path=home / "autosave.json")
    window = MainWindow(state)
    window.resize(1300, 850)
    window.show()
    app.processEvents()
    cases = window.page(CasesPage)
    times: dict[str, float] = {}
    last = [time.perf_counter()]
    stall = [0.0]

    def tick() -> None:
        now = time.perf_counter()
        if now - last[0] > stall[0]:
            stall[0] = now - last[0]
            times["stall at"] = last[0] - started  # when the window stopped answering
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(TICK_MS)
    started = time.perf_counter()
    window.page(SourcePage).open_path(folder)
    last[0] = time.perf_counter()  # the open itself is the click's own time
    times["open call"] = last[0] - started
    grabbed = False
    while True:
        app.processEvents()
        now = time.perf_counter() - started
        view = cases.scan_view
        if "shown" not in times and cases.scanning():
            times["shown"] = now
        if "rows" not in times and cases.scanning() and view.model.rowCount() > 0:
            times["rows"] = now
        if ("rows" in times and "counted" not in times and cases.scanning()
                and view.model.ready() == view.model.rowCount()):
            times["counted"] = now
        if png is not None and not grabbed and "rows" in times and view.model.ready() > 0:
            window.grab().save(str(png / f"filling_{folder.name}.png"))
            grabbed = True
        if not window.busy():
            times["ready"] = now
            break
        time.sleep(0.002)
    ticks = last[0]
    while last[0] == ticks:  # the timer's next tick: the session's own setting-up counted
        app.processEvents()
        time.sleep(0.002)
    times.setdefault("counted", times["ready"])  # the end came between two looks
    times["stall"] = stall[0]
    times.setdefault("stall at", 0.0)
    times["cases"] = float(len(state.session.cases)) if state.session is not None else 0.0
    if png is not None:
        window.grab().save(str(png / f"ready_{folder.name}.png"))
    for step, key in ((window.go_next, "next"), (window.go_back, "back"),
                      (window.go_next, "next again")):  # Cases -> Mapping -> Cases -> Mapping
        t = time.perf_counter()
        step()
        app.processEvents()
        times[key] = time.perf_counter() - t
    if png is not None:
        window.grab().save(str(png / f"mapping_{folder.name}.png"))
    window.close()
    return times


def cli(folder: Path) -> float:
    """``segmap scan FOLDER`` in a fresh process, its imports included."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "app.cli", "scan", str(folder), "--json", "-q"],
                   check=True, capture_output=True,
                   cwd=Path(__file__).resolve().parents[1])
    return time.perf_counter() - start


def main() -> None:
    argv = sys.argv[1:]
    if argv and argv[0] == "--one":
        png = Path(argv[2]) if len(argv) > 2 else None
        print(json.dumps(child(Path(argv[1]), png)))
        return
    png = None
    if "--png" in argv:
        at = argv.index("--png")
        png = Path(argv[at + 1])
        png.mkdir(parents=True, exist_ok=True)
        del argv[at:at + 2]
    from bench.bench_scale import make as make_tiny
    from bench.bench_scan import make as make_small

    folders = [make_small(1000), make_tiny(10000)]
    print(f"{machine()}; {len(os.sched_getaffinity(0))} cores; load {os.getloadavg()[0]:.2f}")
    for folder in folders:
        reference = cli(folder)
        got = json.loads(subprocess.run(
            [sys.executable, __file__, "--one", str(folder),
             *([str(png)] if png else [])], check=True, capture_output=True,
            text=True, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}).stdout.splitlines()[-1])
        n = int(got["cases"])
        print(f"  {folder.name} ({n} cases): shown {got['shown']:.2f} s, first rows "
              f"{got['rows']:.2f} s, every case counted {got['counted']:.2f} s, ready "
              f"{got['ready']:.2f} s ({1000 * got['ready'] / n:.2f} ms/case); longest stall "
              f"{1000 * got['stall']:.0f} ms (from {got['stall at']:.2f} s); `segmap scan` "
              f"{reference:.2f} s (load {os.getloadavg()[0]:.2f})")
        print(f"    then Next to the Mapping page {1000 * got['next']:.0f} ms, Back "
              f"{1000 * got['back']:.0f} ms, Next again {1000 * got['next again']:.0f} ms")


if __name__ == "__main__":
    main()
