"""Census of a 512x512x400 uint8 label map (.nii.gz) against decompress-only references.

Run: python -m bench.bench_census   (writes the synthetic file once under $SEGMAP_BENCH_DATA)
"""

from __future__ import annotations

import subprocess
import sys
import zlib

import nibabel as nib
import numpy as np
from isal import igzip

from app.readers import census
from bench import harness, synth


def decompress_zlib(path: str) -> None:
    """Reference: stream-inflate the file with Python's zlib (what nibabel uses), discard it."""
    d = zlib.decompressobj(31)
    with open(path, "rb") as f:
        while block := f.read(1 << 16):
            while block:
                d.decompress(block, 1 << 20)
                block = d.unconsumed_tail


def decompress_isal(path: str) -> None:
    """Reference: stream-inflate with ISA-L (the inflater the census uses), discard it."""
    buf = bytearray(1 << 20)
    with igzip.open(path, "rb") as f:
        while f.readinto(buf):
            pass


def census_segmap(path: str) -> None:
    """`segmap census`: counts only."""
    census(path, keep_runs=False)


def census_keeping_runs(path: str) -> None:
    """The census a scan runs: counts, plus the non-zero runs kept for later merges."""
    census(path, keep_runs=True)


def census_nibabel_unique(path: str) -> None:
    """What most scripts do: load with nibabel, np.unique(return_counts=True)."""
    np.unique(np.asanyarray(nib.load(path).dataobj), return_counts=True)


def noop(path: str) -> None:
    """Same imports, no work: the memory baseline."""


METHODS = {f.__name__: f for f in (decompress_zlib, decompress_isal, census_segmap,
                                   census_keeping_runs, census_nibabel_unique, noop)}


def main() -> None:
    path = synth.multilabel_case(harness.DATA)
    size = path.stat().st_size
    rows = {m: harness.measure("bench_census", m, str(path), runs=5) for m in METHODS}
    c = census(path)
    ref = np.unique(np.asanyarray(nib.load(path).dataobj), return_counts=True)
    assert {int(v): int(n) for v, n in zip(*ref, strict=True)} == c.values, "census differs"
    t = subprocess.run(["bash", "-c", f"time -p gzip -dc {path} > /dev/null"],
                       capture_output=True, text=True).stderr
    gzip_s = float(next(line.split()[1] for line in t.splitlines() if line.startswith("real")))
    base = rows["noop"]["peak_mb"]
    print(f"file: {path.name}, {size / 1e6:.1f} MB gzip, {np.prod(c.shape) / 1e6:.0f} M voxels "
          f"uint8, {len(c.values)} values; machine: {harness.machine()}")
    print("| method | seconds (median of 5) | peak memory above imports (MB) |")
    print("|---|---|---|")
    for m, r in rows.items():
        if m != "noop":
            print(f"| {m} | {r['seconds']:.3f} | {r['peak_mb'] - base:.0f} |")
    print(f"| gzip -dc > /dev/null (process) | {gzip_s:.3f} | |")
    seg = rows["census_segmap"]["seconds"]
    print(f"census / zlib decompress-only: {seg / rows['decompress_zlib']['seconds']:.2f}x; "
          f"census / isal decompress-only: {seg / rows['decompress_isal']['seconds']:.2f}x; "
          f"census / gzip -dc: {seg / gzip_s:.2f}x; "
          f"nibabel+np.unique / census: {rows['census_nibabel_unique']['seconds'] / seg:.1f}x")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        harness.one(METHODS)
    else:
        main()
