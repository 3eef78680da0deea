"""Per-case cost from 10 to 10,000 cases: no step may grow faster than the cases.

Tiny nnU-Net cases (an 8x8x4 int16 image and a uint8 label map of 3 organs each, under
/tmp/segmap-bench/scale), so what is timed is the per-case bookkeeping, not reading:

* scan: ``segmap scan``'s work in one process (walk, headers, census, pairing, layouts,
  cases);
* build: the mapping suggestions and the items model (``app.mapping.build``, not written);
* export: writing items.json (``app.export.export_items``);
* journal: the upload journal's records of every task (an image, a label, created), then
  reading it back as a resumed run does;
* open: the wizard's session (``app.session.open_folder``, in this process, from the scan);
* tables: the wizard's Cases table (``RemoteCasesModel``: set the session, read every cell)
  and the scan view's rows (a sketch of every case, every case counted once, the view
  updated at every census batch of 16 masks: more often than the 4 a second it is);
* apply: in the wizard's window, the first case's mapping applied to every case (an edit
  of every case, announced case by case to every page).

Each N runs in a fresh process; the figures are ms per case (flat = no superlinear step).

Run: ``QT_QPA_PLATFORM=offscreen python -m bench.bench_scale [N ...]`` (default 10 100 1000
10000).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import DATA, machine  # noqa: E402
from bench.synth import save  # noqa: E402

SHAPE = (8, 8, 4)


def make(n: int) -> Path:
    root = DATA / "scale" / f"Dataset_{n}"
    if (root / ".complete").exists():
        return root
    image = np.arange(np.prod(SHAPE), dtype=np.int16).reshape(SHAPE)
    for i in range(n):
        label = np.zeros(SHAPE, np.uint8)
        for v in (1, 2, 3):
            label[(i + v) % SHAPE[0], :, v % SHAPE[2]] = v
        save(image, root / "imagesTr" / f"case_{i:05d}_0000.nii.gz")
        save(label, root / "labelsTr" / f"case_{i:05d}.nii.gz")
    (root / "dataset.json").write_text(json.dumps({
        "labels": {"background": 0, "liver": 1, "spleen": 2, "kidney": 3},
        "channel_names": {"0": "CT"}, "file_ending": ".nii.gz", "numTraining": n}))
    (root / ".complete").write_text("ok")
    return root


def _timed(times: dict[str, float], name: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    times[name] = time.perf_counter() - t
    return out


def child(n: int) -> dict[str, float]:
    from PySide6.QtWidgets import QApplication

    from app.discover import scan
    from app.discover._sketch import Sketches
    from app.export import export_items
    from app.mapping import build
    from app.progress import Progress, run
    from app.session import open_folder
    from app.upload._journal import Journal
    from ui.remote_views import RemoteCasesModel
    from ui.scan_view import SketchModel
    from ui.settings import Settings
    from ui.state import WizardState

    root = make(n)
    times: dict[str, float] = {}
    result = _timed(times, "scan", lambda: run(scan(root)))
    out = Path(tempfile.mkdtemp(prefix="segmap-scale-"))
    built = _timed(times, "build", lambda: run(build(result, out / "items.json", write=False)))
    _timed(times, "export", export_items, built.items, out / "items.json")

    def journal() -> None:
        j = Journal(out / "items.upload.json", "org/project")
        for t in built.items.tasks:
            name = str(t.name)
            j.record_file(name, f"{name}.nii.gz", [1, 2, 3], f"files/{name}.nii.gz")
            j.record_label(name, 0, "k" * 32, f"labels/{name}.nii.gz", {1: None, 2: None})
            j.creating(name)
            j.created(name, f"dp-{name}", f"task-{name}", [f"task-{name}"])
        j.close()
        again = Journal(out / "items.upload.json", "org/project")
        assert all(again.state(str(t.name))[0] for t in built.items.tasks)
        again.close()

    _timed(times, "journal", journal)
    session = _timed(times, "open", lambda: run(open_folder(root)))
    app = QApplication.instance() or QApplication([])
    from PySide6.QtCore import QSettings

    state = WizardState(Settings(QSettings(str(out / "s.ini"), QSettings.Format.IniFormat)),
                        autosave_path=out / "autosave.json")

    def tables() -> None:
        model = RemoteCasesModel(None, state)
        model.set_session(session)
        for r in range(model.rowCount()):
            for c in range(model.columnCount()):
                model.data(model.index(r, c))
        sketches = Sketches(result.pairing.pairs)
        view = SketchModel()
        view.set_sketches(sketches.step(Progress(0, 0)).cases)
        for k, (path, census) in enumerate(result.censuses.items()):
            sketches.counted(path, census)
            if k % 16 == 15:  # a step per census batch: the most a scan yields
                view.set_sketches(sketches.step(Progress(0, 0), fresh=True).cases)
        view.set_sketches(sketches.step(Progress(0, 0), fresh=True).cases)
        for r in range(view.rowCount()):
            for c in range(view.columnCount()):
                view.data(view.index(r, c))

    _timed(times, "tables", tables)
    app.processEvents()

    from ui.main_window import MainWindow

    window = MainWindow(state)  # every page listening, as in the wizard
    state.set_session(session)
    window.go_to(1)
    app.processEvents()
    first = session.cases[0]
    row = session.rows(first)[0]
    state.edit(lambda s: s.set_category(first, row, "Liver"), "map by hand", [first])

    def apply_all() -> None:  # an edit of every case: each page hears of each case
        change = state.edit(lambda s: s.apply_mapping(first), "apply to all")
        app.processEvents()
        assert len(change.mapping) == n - 1, len(change.mapping)

    _timed(times, "apply", apply_all)
    window.close()
    return times


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--one":
        print(json.dumps(child(int(sys.argv[2]))))
        return
    sizes = [int(x) for x in sys.argv[1:]] or [10, 100, 1000, 10000]
    for n in sizes:
        make(n)
    print(f"{machine()}; load {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    steps = ["scan", "build", "export", "journal", "open", "tables", "apply"]
    print("| cases | " + " | ".join(f"{s} ms/case" for s in steps) + " |")
    print("|---|" + "---|" * len(steps))
    for n in sizes:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        done = subprocess.run([sys.executable, "-m", "bench.bench_scale", "--one", str(n)],
                              cwd=Path(__file__).resolve().parents[1], env=env,
                              capture_output=True, text=True, check=True)
        times = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"| {n:,} | " + " | ".join(f"{1000 * times[s] / n:.2f}" for s in steps) + " |")
    print(f"load after {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
