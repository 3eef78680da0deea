"""Scan and validate on one process against every core (``--jobs 1`` vs ``--jobs N``).

Two datasets, written once:

* nnU-Net: N cases (default 1,000), ``bench_scan``'s (an int16 CT-like image 192x192x64
  and a uint8 label map of 5 organs each, under /tmp/segmap-bench/scan);
* TotalSegmentator: M cases (default 20), ``sXXXX/ct.nii.gz`` 96x96x64 and 117 binary
  masks in ``sXXXX/segmentations/`` (the names of TotalSegmentator's reference output),
  under /tmp/segmap-bench/jobs.

Each measurement is a fresh process (``segmap scan --json`` and ``segmap validate
--json`` through ``app.cli.main``, so the pool's start is counted), repeated R times
(default 3); the median is printed, the outputs of every ``--jobs`` compared. Note the
load: the figures mean little while other work shares the cores.

Run: ``python bench/bench_jobs.py [N] [M] [R] [JOBS]`` (JOBS default: every core).
"""

from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scan import make
from synth import label_field, save

ROOT = Path("/tmp/segmap-bench/jobs")
TOTALSEG_SHAPE = (96, 96, 64)
TOTALSEG_NAMES = Path(__file__).resolve().parents[2] / "shared" / "data" / "totalsegmentator" \
    / "tests" / "reference_files" / "example_seg_fast"


def structure_names() -> list[str]:
    names = sorted(p.name.split(".")[0] for p in TOTALSEG_NAMES.glob("*.nii.gz"))
    return names if len(names) >= 117 else [f"structure_{k:03d}" for k in range(117)]


def make_totalseg(m: int) -> Path:
    root = ROOT / f"totalseg_{m}"
    if (root / ".complete").exists():
        return root
    names = structure_names()
    rng = np.random.default_rng(1)
    for i in range(m):
        labels = label_field(TOTALSEG_SHAPE, len(names), seed=100 + i)
        noise = rng.normal(0, 15, TOTALSEG_SHAPE).astype(np.int16)
        save((labels.astype(np.int16) * 3 - 1000 + noise).astype(np.int16),
             root / f"s{i:04d}" / "ct.nii.gz")
        for k, name in enumerate(names, start=1):
            save((labels == k).astype(np.uint8), root / f"s{i:04d}" / "segmentations"
                 / f"{name}.nii.gz")
    (root / ".complete").write_text("ok")
    return root


def items_of(root: Path) -> Path:
    """The items list ``segmap build`` writes for the dataset (once)."""
    out = root.parent / f"{root.name}-items" / "items.json"
    if not out.exists():
        once(["build", str(root), "-o", str(out), "-q", "--force"])
    return out


_CHILD = """
import sys, time
from app.cli import main
if __name__ == "__main__":
    t = time.perf_counter()
    code = main(sys.argv[1:])
    print(f"\\n@@ {time.perf_counter() - t:.4f} {code}", file=sys.stderr)
"""


def once(args: list[str]) -> tuple[float, float, str]:
    """One fresh process: the command's time (inside it), the process's (with Python's
    start and the imports) and a digest of its output."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, check=False,
                          text=True, cwd=Path(__file__).resolve().parents[1])
    line = [x for x in done.stderr.splitlines() if x.startswith("@@ ")][-1]
    return (float(line.split()[1]), time.perf_counter() - start,
            hashlib.sha256(done.stdout.encode()).hexdigest()[:12])


def measure(name: str, args: list[str], jobs: list[int], repeats: int) -> None:
    medians, whole, digests = {}, {}, {}
    for n in jobs:
        runs = [once([*args, "--jobs", str(n)]) for _ in range(repeats)]
        medians[n] = statistics.median(t for t, _, _ in runs)
        whole[n] = statistics.median(w for _, w, _ in runs)
        digests[n] = {d for _, _, d in runs}
    same = len(set().union(*digests.values())) == 1
    cells = "  ".join(f"--jobs {n}: {medians[n]:6.2f} s ({whole[n]:.2f} s process)"
                      for n in jobs)
    speed = medians[jobs[0]] / medians[jobs[-1]]
    print(f"  {name:34s} {cells}  x{speed:.2f}  output {'identical' if same else 'DIFFERS'}")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    m = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    cores = int(sys.argv[4]) if len(sys.argv) > 4 else len(os.sched_getaffinity(0))
    jobs = [1, cores]
    t = time.perf_counter()
    nnunet, totalseg = make(n), make_totalseg(m)
    lists = items_of(nnunet), items_of(totalseg)
    print(f"datasets ready in {time.perf_counter() - t:.0f} s; {os.cpu_count()} cores, load "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min); median of "
          f"{repeats} fresh processes")
    for label, root, items in (("nnU-Net", nnunet, lists[0]), ("TotalSegmentator", totalseg,
                                                               lists[1])):
        what = f"{n} cases" if root is nnunet else f"{m} cases x 117 masks"
        measure(f"scan {label} ({what})", ["scan", str(root), "--json", "-q"], jobs, repeats)
        measure(f"validate {label} ({what})", ["validate", str(items), "--json", "-q"], jobs,
                repeats)
    print(f"load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
