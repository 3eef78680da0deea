"""How soon the wizard's Cases page is usable on a large folder: first rows, every row
counted, and the session (what a user waited for before the rows filled in).

The real window (offscreen), a folder opened from the Source page as a user does; the
clock starts at the click. The reference is the open itself: before the Cases page filled
in, no case could be seen until the session was there.

Run: ``python -m bench.bench_cases_fill [FOLDER]`` (default: ``bench_scan``'s 1,000
nnU-Net cases under /tmp/segmap-bench/scan, written if missing). ``--png OUT`` also saves
the window when a third of the cases are counted.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def measure(folder: Path, png: Path | None) -> dict[str, float | None]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from ui.main_window import MainWindow
    from ui.pages.cases_page import CasesPage
    from ui.pages.source_page import SourcePage
    from ui.settings import Settings
    from ui.state import WizardState

    home = Path(tempfile.mkdtemp(prefix="segmap-fill-"))
    settings = Settings(QSettings(str(home / "s.ini"), QSettings.Format.IniFormat))
    window = MainWindow(WizardState(settings, autosave_path=home / "autosave.json"))
    window.resize(1300, 850)
    window.show()
    cases = window.page(CasesPage)
    start = time.monotonic()
    window.page(SourcePage).open_path(folder)
    first = counted = None
    ready: list[float] = []  # when the scan reported every case counted

    def stepped(step: object) -> None:
        rows = getattr(step, "cases", ())
        if rows and not ready and all(r.ready for r in rows):
            ready.append(time.monotonic() - start)

    assert window._worker is not None
    window._worker.stepped.connect(stepped)
    while window.busy():
        app.processEvents()
        time.sleep(0.005)
        if not cases.scanning():
            continue
        model, now = cases.scan_view.model, time.monotonic() - start
        first = now if first is None else first
        if png is not None and model.ready() * 3 > model.rowCount():
            window.grab().save(str(png))
            png = None
    opened = time.monotonic() - start
    counted = ready[0] if ready else None
    app.processEvents()
    n = len(window.state.session.cases) if window.state.session else 0
    window.close()
    return {"cases": n, "first rows": first, "all counted": counted, "session": opened}


def main() -> None:
    args = sys.argv[1:]
    png = None
    if "--png" in args:
        i = args.index("--png")
        png = Path(args[i + 1])
        del args[i:i + 2]
    if args:
        folder = Path(args[0])
    else:
        from bench_scan import make
        folder = make(1000)
    print(f"{folder}; load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    got = measure(folder, png)
    print("  ".join(f"{k}: {v:.2f} s" if isinstance(v, float) else f"{k}: {v}"
                    for k, v in got.items()))
    print(f"load after {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
