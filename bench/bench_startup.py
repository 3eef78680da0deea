"""How soon `segmap-gui` shows something: wall time from launching the process to the
first paint of the starting screen and of the wizard's window (offscreen, Qt's
``offscreen`` platform), beside a process that paints an empty Qt window.

Run: python -m bench.bench_startup [RUNS]
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import harness

_CHILD = r"""
import json, os, sys, time
from pathlib import Path
marks = {}
from PySide6.QtWidgets import QApplication, QWidget
app = QApplication(sys.argv[:1])
if sys.argv[1] == "empty":
    w = QWidget(); w.resize(1280, 820); w.show(); app.processEvents(); w.grab()
    marks["window"] = time.time()
else:
    from ui.__main__ import starting_screen
    splash = starting_screen(); splash.show(); app.processEvents(); splash.grab()
    marks["splash"] = time.time()
    from PySide6.QtCore import QSettings
    from ui.main_window import MainWindow
    from ui.settings import Settings
    from ui.state import WizardState
    tmp = Path(sys.argv[2])
    state = WizardState(Settings(QSettings(str(tmp / "s.ini"), QSettings.Format.IniFormat)),
                        autosave_path=tmp / "autosave.json")
    window = MainWindow(state); window.resize(1280, 820); window.show(); app.processEvents()
    window.grab(); splash.close()
    marks["window"] = time.time()
print(json.dumps(marks))
"""


def _run(kind: str, tmp: str) -> dict[str, float]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    t0 = time.time()
    out = subprocess.run([sys.executable, "-c", _CHILD, kind, tmp], capture_output=True,
                         text=True, env=env, cwd=harness.ROOT, check=True).stdout
    return {k: v - t0 for k, v in json.loads(out.strip().splitlines()[-1]).items()}


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    rows: dict[str, list[float]] = {"empty": [], "splash": [], "window": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):  # the two take turns, so a busy moment hits both
            rows["empty"].append(_run("empty", tmp)["window"])
            marks = _run("segmap", tmp)
            rows["splash"].append(marks["splash"])
            rows["window"].append(marks["window"])
    med = {k: statistics.median(v) for k, v in rows.items()}
    print(f"machine: {harness.machine()}; median of {runs} fresh processes (wall, from launch)")
    print("| what | seconds |\n|---|---|")
    print(f"| reference: an empty Qt window painted | {med['empty']:.2f} |")
    print(f"| segmap-gui: the starting screen painted | {med['splash']:.2f} |")
    print(f"| segmap-gui: the wizard's window painted | {med['window']:.2f} |")


if __name__ == "__main__":
    main()
