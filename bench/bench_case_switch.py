"""Switching to a case in the wizard: a 512x512x300 CT (DICOM) with 117 binary masks.

The issue's target: the first overlay within 1 s of switching to the case, the
masks' census being cached (the folder was scanned before). Measured in a fresh
process: the session is opened first (scan + census, not timed), then the clock
runs from "switch to this case" to the first painted overlay in an offscreen
PreviewWidget: reading the image, merging the 117 masks as RedBrick will,
placing them in world space, painting. Side by side, the references: reading the
DICOM series alone, and the merge alone.

Run: QT_QPA_PLATFORM=offscreen python -m bench.bench_case_switch
"""

from __future__ import annotations

import gzip
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402

from bench import harness, synth  # noqa: E402
from bench.bench_dicom_load import make_series  # noqa: E402

N_LABELS = 117


def dataset() -> Path:
    """case/dicom (300 raw slices) + case/segmentations/organ_NNN.nii.gz on its grid."""
    root = harness.DATA / "case_switch"
    seg = root / "case" / "segmentations"
    done = root / ".complete"
    if done.exists():
        return root
    series = make_series(root / "case", compressed=False)
    from app.progress import run
    from app.readers import image_grid

    files = sorted(series.glob("*.dcm"))
    grid = image_grid(files)
    lab = synth.label_field(grid.shape, N_LABELS, seed=2)
    seg.mkdir(parents=True, exist_ok=True)
    for k in range(1, N_LABELS + 1):
        img = nib.Nifti1Image((lab == k).astype(np.uint8), grid.affine)
        img.set_data_dtype(np.uint8)
        (seg / f"organ_{k:03d}.nii.gz").write_bytes(gzip.compress(img.to_bytes(), 6))
    del run
    done.touch()
    return root


def _session(root: str):  # type: ignore[no-untyped-def]
    from app.progress import run
    from app.session import open_folder

    session = run(open_folder(root))
    case = next(c for c in session.cases if c.shape == "III")
    session.accept(case)
    return session, case


def switch(root: str) -> None:
    """Open the session (not timed), then time switching to the case until painted."""
    from PySide6.QtWidgets import QApplication

    from app.preview import ImageCache, load_case_preview
    from app.progress import run
    from ui.preview import PreviewWidget

    app = QApplication.instance() or QApplication([])
    session, case = _session(root)
    widget = PreviewWidget()
    widget.resize(900, 800)
    widget.show()
    app.processEvents()
    marks = {}
    t0 = time.perf_counter()
    request = session.preview_request(case)  # frozen on the GUI thread, as the wizard does
    preview = run(load_case_preview(request, ImageCache(1)),
                  lambda p: marks.setdefault(p.message, time.perf_counter() - t0))
    widget.set_volumes(preview.volumes)
    widget.set_colours(session.colours(case))
    widget.grab()
    total = time.perf_counter() - t0
    # Slice change once the case is shown (the other half of the target).
    t1 = time.perf_counter()
    for k in range(50):
        widget.set_slice(k * 5)
        widget.grab()
    per_slice = (time.perf_counter() - t1) / 50
    print(json.dumps({"switch": total, "marks": marks, "slice": per_slice}))


def read_image(root: str) -> None:
    from app.progress import run
    from app.readers import load_image

    run(load_image(sorted((Path(root) / "case" / "ct-512x300-raw").glob("*.dcm"))))


def merge_only(root: str) -> None:
    from app.merge import merge_series
    from app.progress import run

    session, case = _session(root)
    t = time.perf_counter()
    run(merge_series(session.items, case.task, case.series_index))
    print(json.dumps({"merge": time.perf_counter() - t}))


def main() -> None:
    root = str(dataset())
    rows = []
    for _ in range(3):
        out = harness.subprocess.run([sys.executable, "-m", "bench.bench_case_switch", "--child",
                                      "switch", root], cwd=harness.ROOT, capture_output=True,
                                     text=True, check=True).stdout.strip().splitlines()[-1]
        rows.append(json.loads(out))
    merge = [json.loads(harness.subprocess.run(
        [sys.executable, "-m", "bench.bench_case_switch", "--child", "merge_only", root],
        cwd=harness.ROOT, capture_output=True, text=True, check=True).stdout.strip()
        .splitlines()[-1])["merge"] for _ in range(3)]
    image = harness.measure("bench_case_switch", "read_image", root, runs=3)
    best = sorted(rows, key=lambda r: r["switch"])[1]
    print(f"machine: {harness.machine()}")
    print("| what | seconds (median of 3 processes) |")
    print("|---|---|")
    print(f"| switch to the case -> first overlay painted | {best['switch']:.2f} |")
    for k, v in best["marks"].items():
        print(f"|   reached: {k} | {v:.2f} |")
    print(f"| reference: reading the DICOM series alone | {image['seconds']:.2f} |")
    print(f"| reference: merging the 117 masks alone | {sorted(merge)[1]:.2f} |")
    print(f"| slice change, painted (mean of 50) | {best['slice'] * 1000:.1f} ms |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        harness.one({"read_image": read_image})
    elif len(sys.argv) > 2 and sys.argv[1] == "--child":
        {"switch": switch, "merge_only": merge_only}[sys.argv[2]](sys.argv[3])
    else:
        main()
