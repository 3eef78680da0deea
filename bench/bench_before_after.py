"""Is Segmap as fast as before a change? Census, merge, case switch and validation, measured
for a base commit and the working tree in one run, taking turns round by round.

Each measurement is a fresh process of that tree's own bench script (``--one METHOD`` or,
for the case switch, ``--child switch``), on the same data files (written once by this
tree's ``bench/synth.py``). The base is checked out as a detached git worktree beside the
data. The decompress-only references of each script run in the same rounds, so a change in
the machine's load shows as a change in the references too.

Run: python -m bench.bench_before_after [BASE] [--rounds N] [--only TEXT]
(BASE: a commit; default d05eb50, main before the core became packages; --only keeps the
measurements whose label contains TEXT)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from bench import harness, synth
from bench.bench_case_switch import dataset as case_switch_data
from bench.bench_validate import _items as validate_items_file

ROUNDS = 5


def _worktree(base: str) -> Path:
    sha = subprocess.run(["git", "rev-parse", "--short", base], cwd=harness.ROOT, check=True,
                         capture_output=True, text=True).stdout.strip()
    tree = harness.DATA / f"worktree-{sha}"
    if not (tree / "app").is_dir():
        subprocess.run(["git", "worktree", "add", "--detach", "--force", str(tree), sha],
                       cwd=harness.ROOT, check=True, capture_output=True)
    return tree


def _run(tree: Path, module: str, mode: str, method: str, *args: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree), "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-m", f"bench.{module}", mode, method, *args],
                         cwd=tree, env=env, capture_output=True, text=True, check=True)
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    return float(doc["seconds"] if "seconds" in doc else doc["switch"])


def plan() -> list[tuple[str, str, str, str, str]]:
    """(label, module, mode, method, argument) of every measurement."""
    census_file = str(synth.multilabel_case(harness.DATA))
    binary_folder = str(synth.binary_case(harness.DATA)[0].parent)
    case_root = str(case_switch_data())
    items_iii, items_i = str(validate_items_file("III")), str(validate_items_file("I"))
    return [
        ("census, 512x512x400, 117 labels", "bench_census", "--one", "census_segmap",
         census_file),
        ("  reference: inflate only, ISA-L", "bench_census", "--one", "decompress_isal",
         census_file),
        ("merge, 117 binary masks 256x256x200", "bench_merge", "--one", "segmap_merge",
         binary_folder),
        ("  reference: inflate the 117 files only, ISA-L", "bench_merge", "--one",
         "decompress_isal", binary_folder),
        ("case switch, 512x512x300 DICOM + 117 masks, to first paint", "bench_case_switch",
         "--child", "switch", case_root),
        ("validate, shape III, 117 masks", "bench_validate", "--one", "validate_items",
         items_iii),
        ("validate, shape I, 512x512x400 label map", "bench_validate", "--one",
         "validate_items", items_i),
        ("  reference: census of the 117 masks only", "bench_validate", "--one", "census_only",
         items_iii),
    ]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("base", nargs="?", default="d05eb50")
    p.add_argument("--rounds", type=int, default=ROUNDS)
    p.add_argument("--only", default="")
    args = p.parse_args()
    base = args.base
    trees = {"base": _worktree(base), "now": harness.ROOT}
    steps = [s for s in plan() if args.only in s[0]]
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for label, module, mode, method, arg in steps:
            for name, tree in trees.items():
                times.setdefault((label, name), []).append(_run(tree, module, mode, method, arg))
    print(f"base {base} vs the working tree; {args.rounds} rounds, median; machine: "
          f"{harness.machine()}")
    print("| what | base (s) | now (s) | now / base |")
    print("|---|---|---|---|")
    for label, *_ in steps:
        b, n = (statistics.median(times[(label, k)]) for k in ("base", "now"))
        print(f"| {label} | {b:.3f} | {n:.3f} | {n / b:.2f} |")


if __name__ == "__main__":
    main()
