"""What the dataset report costs next to what it cannot avoid: validating the list and
censusing every mask.

The data (written once under ``harness.DATA / "report"``): 100 tasks, each an int16 CT-like
image of 512x512x300 (.nii.gz) with a uint8 label map of 20 organs on its grid
(``bench/synth.py``), and an items list with each series' segmentMap (the labels its file
holds). To bound disk and build time only 10 distinct cases are written; the 100 tasks use
them in turn (task k uses case k % 10). Every file is therefore read 10 times per run, and the
OS cache holds them for both sides alike.

Side by side, each in fresh processes (``--one METHOD``), 3 rounds, median; peak memory is
the process's VmHWM:

* ``report``: ``app.report.write_report`` of the list into a temporary folder (cases side
  by side, one per core); ``report_one_job``: the same with ``jobs=1``.
* ``reference``: ``app.validate.validate(load_items(list))`` plus ``app.readers.census`` of
  every mask (as ``segmap census`` runs it), the issue's yardstick.
* ``floor``: the reference plus one read of each task's image: what any report that
  measures mean intensities cannot skip (the reference never reads image voxels).
* ``noop``: the same imports, no work (the memory baseline).

Target (issue 15): the report within 1.5x the reference, memory bounded by one case.

Run: python -m bench.bench_report [--rounds N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np

from app.items import load_items
from app.progress import run
from app.readers import census
from app.validate import validate
from bench import harness, synth

SHAPE = (512, 512, 300)
N_LABELS = 20
N_TASKS = 100
N_DISTINCT = 10
ROUNDS = 3
ROOT = harness.DATA / "report"
ITEMS = ROOT / f"items_{N_TASKS}.json"

# Rough CT numbers per organ, so the image is not all noise.
_HU = np.array([-1000, *np.linspace(-100, 400, N_LABELS)], np.int16)


def _image(lab: np.ndarray, path: Path, seed: int) -> Path:
    """An int16 CT-like image on the label map's grid: organ HU plus a little noise."""
    rng = np.random.default_rng(seed)
    arr = _HU[lab]
    arr += rng.integers(-8, 9, size=lab.shape, dtype=np.int16)
    img = nib.Nifti1Image(arr, np.diag([0.8, 0.8, 1.5, 1.0]))
    img.set_data_dtype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(gzip.compress(img.to_bytes(), 6))
    tmp.replace(path)
    return path


def _case(k: int) -> tuple[Path, Path, list[int]]:
    """Distinct case ``k``: (image, label map, the labels the map holds); written once."""
    d = ROOT / f"case_{k:02d}"
    image, seg, labels = d / "ct.nii.gz", d / "labels.nii.gz", d / "labels.json"
    if not (image.exists() and seg.exists() and labels.exists()):
        lab = synth.label_field(SHAPE, N_LABELS, seed=100 + k)
        synth.save(lab, seg, zooms=(0.8, 0.8, 1.5))
        _image(lab, image, seed=200 + k)
        labels.write_text(json.dumps([int(v) for v in census(seg, keep_runs=False).nonzero]))
    return image, seg, json.loads(labels.read_text())


def dataset() -> Path:
    """The items list of the 100 tasks (cases written on first use)."""
    cases = [_case(k) for k in range(N_DISTINCT)]
    if not ITEMS.exists():
        tasks = []
        for t in range(N_TASKS):
            image, seg, labels = cases[t % N_DISTINCT]
            tasks.append({"name": f"case-{t:03d}", "series": [{
                "items": str(image), "segmentations": str(seg),
                "segmentMap": {str(v): f"organ {v}" for v in labels}}]})
        ITEMS.write_text(json.dumps(tasks, indent=1))
    return ITEMS


def report(items_path: str) -> None:
    """The report as `segmap report` writes it: cases side by side, one per core."""
    from app.report import write_report

    with tempfile.TemporaryDirectory(dir=ROOT) as out:
        run(write_report(load_items(items_path), Path(out)))


def report_one_job(items_path: str) -> None:
    """The report one case at a time (`--jobs 1`): memory bounded by one case."""
    from app.report import write_report

    with tempfile.TemporaryDirectory(dir=ROOT) as out:
        run(write_report(load_items(items_path), Path(out), jobs=1))


def reference(items_path: str) -> None:
    items = load_items(items_path)
    found = validate(items)
    assert not [f for f in found if f.severity == "error"], found[:3]
    for task in items.tasks:
        for series in task.series:
            for p in series.segmentation_paths:
                census(items.resolve(p), keep_runs=False)


def floor(items_path: str) -> None:
    """The reference plus what any report that measures intensities cannot skip: reading
    (inflating) each task's image once."""
    from app.readers import load_image

    reference(items_path)
    items = load_items(items_path)
    for task in items.tasks:
        for series in task.series:
            run(load_image([items.resolve(p) for p in series.item_paths]))


def validate_only(items_path: str) -> None:
    validate(load_items(items_path))


def noop(items_path: str) -> None:
    """Same imports, no work: the memory baseline."""
    try:
        import app.report  # noqa: F401
    except ImportError:  # before the report lands
        pass


METHODS = {f.__name__: f for f in (report, report_one_job, reference, floor, validate_only,
                                    noop)}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=ROUNDS)
    p.add_argument("--skip-report", action="store_true",
                   help="measure the reference side only (before app.report exists)")
    p.add_argument("--methods", nargs="+", choices=sorted(METHODS),
                   help="measure only these (noop is always measured, for memory)")
    args = p.parse_args()
    path = str(dataset())
    print(f"machine: {harness.machine()}")
    methods = ["reference", "floor", "validate_only", "noop"]
    if not args.skip_report:
        methods[:0] = ["report", "report_one_job"]
    if args.methods:
        methods = [*dict.fromkeys([*args.methods, "noop"])]
    rows = {m: harness.measure("bench_report", m, path, runs=args.rounds) for m in methods}
    base = rows["noop"]["peak_mb"]
    print(f"{N_TASKS} tasks of {'x'.join(map(str, SHAPE))} int16 + uint8 label map, "
          f"{N_LABELS} labels ({N_DISTINCT} distinct cases in turn); "
          f"median of {args.rounds} fresh processes")
    print("| method | seconds | peak memory (MB) | above imports (MB) |")
    print("|---|---|---|---|")
    for m, r in rows.items():
        print(f"| {m} | {r['seconds']:.2f} | {r['peak_mb']:.0f} | {r['peak_mb'] - base:.0f} |")
    for m in ("report", "report_one_job"):
        for base_m in ("reference", "floor"):
            if m in rows and base_m in rows:
                print(f"{m} / {base_m}: {rows[m]['seconds'] / rows[base_m]['seconds']:.2f}x")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        harness.one(METHODS)
    else:
        main()
