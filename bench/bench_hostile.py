"""Hostile inputs, base commit beside the working tree: a deflated DICOM that inflates to
3.2 GB (scan), a 1 KB NIfTI-2 header claiming 1e18 voxels (census), a 1 MB .nii.gz of zeros
that inflates to 1 GiB (merge). Each run is a fresh ``segmap`` process of that tree with a
time limit; the table gives its wall time, its peak memory (the kernel's ru_maxrss of that
child) and its exit code.

Run: python -m bench.bench_hostile [BASE] [--limit SECONDS]   (BASE default: f9ca5cc,
main before the hardening of issue 16). The inputs are built by the test corpus's own
builders (``tests/app/hostile/corpus_volumes.py``), once, under the bench data folder.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench import harness
from bench.bench_before_after import _worktree


def _inputs() -> dict[str, list[str]]:
    from tests.app.hostile.corpus_volumes import deflated_dicom, gzip_bomb, lying_nifti

    root = harness.DATA / "hostile"
    dicom = root / "deflated" / "CT.1.dcm"
    if not dicom.exists():
        deflated_dicom(dicom, rows=4096, cols=4096, frames=96)
    claim = root / "claim-1e18.nii"
    if not claim.exists():
        lying_nifti(claim, (10**6, 10**6, 10**6), version=2)
    bomb = root / "bomb" / "zeros.nii.gz"
    if not bomb.exists():
        gzip_bomb(bomb, (1024, 1024, 1024))
        (bomb.parent / "img.nii.gz").write_bytes(bomb.read_bytes())
        (bomb.parent / "items.json").write_text(json.dumps([{"name": "t", "series": [{
            "items": "img.nii.gz", "segmentations": "zeros.nii.gz",
            "segmentMap": {"1": "a"}}]}]))
    return {
        "scan, deflated DICOM (3.1 MB, 3.2 GB inflated)": ["scan", str(dicom.parent), "-q"],
        "census, NIfTI-2 header claiming 1e18 voxels": ["census", str(claim)],
        "merge, .nii.gz of zeros (1 GiB inflated)": [
            "merge", str(bomb.parent / "items.json"), "--task", "t",
            "-o", str(root / "merged.nii.gz")],
    }


def _run(tree: Path, argv: list[str], limit: float) -> tuple[float, float, int | None]:
    """Wall seconds, peak MB and exit code (None: killed at the limit) of one process."""
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", *argv], cwd=tree,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(tree)})
    code: int | None = None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            code = os.waitstatus_to_exitcode(status)
            break
        if time.perf_counter() - t > limit:
            proc.kill()
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    proc.returncode = -9 if code is None else code
    return time.perf_counter() - t, usage.ru_maxrss / 1024, code


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("base", nargs="?", default="f9ca5cc")
    ap.add_argument("--limit", type=float, default=60.0)
    args = ap.parse_args()
    cases = _inputs()
    trees = {"base": _worktree(args.base), "now": harness.ROOT}
    print(f"base {args.base} vs the working tree; limit {args.limit:.0f} s; "
          f"machine: {harness.machine()}")
    print("| what | base | now |\n|---|---|---|")
    for label, argv in cases.items():
        cells = []
        for tree in trees.values():
            seconds, peak, code = _run(tree, argv, args.limit)
            took = f"> {args.limit:.0f} s (killed)" if code is None else f"{seconds:.2f} s"
            cells.append(f"{took}, {peak:,.0f} MB, exit {code if code is not None else '-'}")
        print(f"| {label} | {cells[0]} | {cells[1]} |", flush=True)


if __name__ == "__main__":
    main()
