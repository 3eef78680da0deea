"""Scan and validate on one process against every core (``--jobs 1`` vs ``--jobs N``).

Two datasets, written once:

* nnU-Net: N cases (default 1,000), ``bench_scan``'s (an int16 CT-like image 192x192x64
  and a uint8 label map of 5 organs each, under /tmp/segmap-bench/scan);
* TotalSegmentator: M cases (default 20), ``sXXXX/ct.nii.gz`` 96x96x64 and 117 binary
  masks in ``sXXXX/segmentations/`` (the names of TotalSegmentator's reference output),
  under /tmp/segmap-bench/jobs.

Each is validated as the items list ``segmap build`` writes for it, every mask in it (the
nnU-Net label values named by a template, as a dataset.json would name them).

Each measurement is a fresh process (``segmap scan --json`` and ``segmap validate
--json`` through ``app.cli.main``, so the pool's start is counted), repeated R times
(default 3); the median is printed, the outputs of every ``--jobs`` compared. Note the
load: the figures mean little while other work shares the cores.

Each run also reports the CPU seconds of the command's process (its pool threads
included) and of its worker processes (``RUSAGE_CHILDREN``: the workers a fork started),
and the 1-minute load average when it started: on a shared machine the parent's CPU per
case moves much less with the load than the wall time does.

``--repo PATH`` (repeatable) runs the commands of that checkout (its ``app``), the
checkouts alternating run by run (before / after, with the same datasets); default: this
checkout.

Run: ``python bench/bench_jobs.py [--repo PATH ...] [N] [M] [R] [JOBS]`` (JOBS default:
every core).
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scan import make
from harness import take_repos
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


# The nnU-Net set's five label values as its dataset.json would name them: without names
# ``segmap build`` maps no value, writes no mask, and a validation reads the images alone
# (the first six passes' "validate nnU-Net" figures: headers only, 0.2 ms a case).
NNUNET_LABELS = {"1": "Liver", "2": "Spleen", "3": "Kidney", "4": "Pancreas", "5": "Stomach"}


def items_of(root: Path, values: dict[str, str] | None = None) -> Path:
    """The items list ``segmap build`` writes for the dataset (once), each label value
    mapped to its category in ``values`` when given (a template)."""
    out = root.parent / f"{root.name}-{'mapped-' if values else ''}items" / "items.json"
    if not out.exists():
        args = ["build", str(root), "-o", str(out), "-q", "--force"]
        if values:
            out.parent.mkdir(parents=True, exist_ok=True)
            template = out.parent / "labels.json"
            template.write_text(json.dumps({"values": values}))
            args += ["--template", str(template)]
        once(args)
    return out


_CHILD = """
import resource, sys, time
from app.cli import main
if __name__ == "__main__":
    t, c = time.perf_counter(), time.process_time()
    code = main(sys.argv[1:])
    w, c = time.perf_counter() - t, time.process_time() - c
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"\\n@@ {w:.4f} {code} {c:.4f} {kids.ru_utime + kids.ru_stime:.4f}", file=sys.stderr)
"""
HERE = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Run:
    """One fresh process's figures."""

    wall: float  # the command, inside the process
    process: float  # the process, with Python's start and the imports
    cpu: float  # the command's CPU in the process (its threads included)
    workers: float  # its worker processes' CPU
    load: float  # the 1-minute load average when it started
    digest: str  # of its output


def once(args: list[str], repo: Path = HERE) -> Run:
    """One fresh process running ``segmap ARGS`` of the checkout ``repo``."""
    load = os.getloadavg()[0]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CHILD, *args], capture_output=True, check=False,
                          text=True, cwd=repo)
    line = [x for x in done.stderr.splitlines() if x.startswith("@@ ")][-1].split()
    return Run(float(line[1]), time.perf_counter() - start, float(line[3]), float(line[4]),
               load, hashlib.sha256(done.stdout.encode()).hexdigest()[:12])


def measure(name: str, args: list[str], jobs: list[int], repeats: int, cases: int,
            repos: list[Path]) -> None:
    got: dict[tuple[Path, int], list[Run]] = {(r, n): [] for r in repos for n in jobs}
    for _ in range(repeats):  # the checkouts and the jobs alternating, run by run
        for repo in repos:
            for n in jobs:
                got[repo, n].append(once([*args, "--jobs", str(n)], repo))
    same = len({r.digest for runs in got.values() for r in runs}) == 1
    print(f"  {name}: output {'identical' if same else 'DIFFERS'} in every run")
    for repo in repos:
        walls = {n: statistics.median(r.wall for r in got[repo, n]) for n in jobs}
        cells = "  ".join(
            f"--jobs {n}: {walls[n]:5.2f} s, parent CPU "
            f"{1000 * statistics.median(r.cpu for r in got[repo, n]) / cases:5.2f} ms/case, "
            f"workers {statistics.median(r.workers for r in got[repo, n]):5.2f} s"
            for n in jobs)
        loads = [r.load for n in jobs for r in got[repo, n]]
        label = f"{repo.name}: " if len(repos) > 1 else ""
        print(f"    {label}{cells}  x{walls[jobs[0]] / walls[jobs[-1]]:.2f}  "
              f"(load {min(loads):.1f}-{max(loads):.1f})")
        for n in jobs:
            print(f"      --jobs {n} runs: " + "; ".join(
                f"{r.wall:.2f} s cpu {r.cpu:.2f} workers {r.workers:.2f} load {r.load:.2f}"
                for r in got[repo, n]))


def _spin(steps: int) -> float:
    start = time.perf_counter()
    total = 0
    for i in range(steps):
        total += i
    return time.perf_counter() - start


def ceiling(cores: int, steps: int = 20_000_000, rounds: int = 3) -> float:
    """The reference for any speed-up here: how much more a pure Python loop (no I/O,
    nothing shared) gets done on ``cores`` processes at once than on one, on this machine
    now (a shared VM's cores need not add up). The median of ``rounds`` alternations."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    gains = []
    with context.Pool(cores) as pool:
        for _ in range(rounds):  # one process's time taken before and after, averaged:
            before = _spin(steps)  # the host's speed moves within seconds
            together = max(pool.map(_spin, [steps] * cores))
            alone = (before + _spin(steps)) / 2
            gains.append(cores * alone / together)
    return statistics.median(gains)


def main() -> None:
    argv, repos = take_repos(sys.argv[1:])
    n = int(argv[0]) if len(argv) > 0 else 1000
    m = int(argv[1]) if len(argv) > 1 else 20
    repeats = int(argv[2]) if len(argv) > 2 else 3
    cores = int(argv[3]) if len(argv) > 3 else len(os.sched_getaffinity(0))
    jobs = [1, cores]
    t = time.perf_counter()
    nnunet, totalseg = make(n), make_totalseg(m)
    lists = items_of(nnunet, NNUNET_LABELS), items_of(totalseg)
    print(f"datasets ready in {time.perf_counter() - t:.0f} s; {os.cpu_count()} cores, load "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min); median of "
          f"{repeats} fresh processes")
    print(f"reference: a pure Python loop on {cores} processes does x{ceiling(cores):.2f} the "
          "work of one in the same time (the most any --jobs can give here now)")
    for label, root, items in (("nnU-Net", nnunet, lists[0]), ("TotalSegmentator", totalseg,
                                                               lists[1])):
        what = f"{n} cases" if root is nnunet else f"{m} cases x 117 masks"
        cases = n if root is nnunet else m
        measure(f"scan {label} ({what})", ["scan", str(root), "--json", "-q"], jobs, repeats,
                cases, repos)
        measure(f"validate {label} ({what})", ["validate", str(items), "--json", "-q"], jobs,
                repeats, cases, repos)
    print(f"reference again: x{ceiling(cores):.2f}")
    print(f"load after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
