"""Scanning 5,000 DICOM files: segmap's scan against a loop of pydicom.dcmread(stop_before_pixels).

The files are copies of a real CT header (TotalSegmentator's example, Siemens,
134 elements with private groups) when ../shared/data is there, else of a
synthetic CT header; 10 series of 500 slices, 64x64 pixels. A second pair of
trees (500 files of 64x64 and of 512x512 pixels) shows that the scan's memory
does not depend on the pixel size.

Run: python -m bench.bench_dicom_scan   (writes the files once under $SEGMAP_BENCH_DATA)
"""

from __future__ import annotations

import os
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from app.progress import run
from app.readers.dicom._group import build_series
from app.readers.dicom._scan import CHUNK, list_candidates, read_chunk, scan_dicom
from bench import harness

SHARED = Path(os.environ.get("SEGMAP_SHARED_DATA", harness.ROOT.parent / "shared" / "data"))
REAL_CT = SHARED / "totalsegmentator" / "tests" / "reference_files" / "example_ct_dicom"


def _template() -> tuple[pydicom.Dataset, str]:
    if REAL_CT.is_dir():
        ds = pydicom.dcmread(sorted(REAL_CT.iterdir())[0])
        del ds.PixelData
        return ds, "real Siemens CT header (TotalSegmentator example)"
    from tests.app.dicom_synth import write_slice

    tmp = harness.DATA / "template.dcm"
    write_slice(tmp, series_uid="1.2.3", position=(0, 0, 0))
    ds = pydicom.dcmread(tmp)
    del ds.PixelData
    return ds, "synthetic CT header"


def make_tree(root: Path, n_series: int, per_series: int, size: int) -> Path:
    """``n_series`` x ``per_series`` files of ``size`` x ``size`` int16 pixels (once)."""
    done = root / ".complete"
    if done.exists():
        return root
    ds, _ = _template()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.Rows = ds.Columns = size
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    rng = np.random.default_rng(0)
    for s in range(n_series):
        ds.SeriesInstanceUID = generate_uid()
        ds.SeriesNumber = s + 1
        folder = root / f"series{s:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(per_series):
            ds.SOPInstanceUID = generate_uid()
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
            ds.InstanceNumber = k + 1
            ds.ImagePositionPatient = [-250.0, -250.0, -800.0 + 1.25 * k]
            ds.PixelData = rng.integers(0, 4096, (size, size), dtype=np.uint16).tobytes()
            ds["PixelData"].VR = "OW"
            ds.save_as(folder / f"IM{k:05d}.dcm", enforce_file_format=True)
    done.touch()
    return root


def pydicom_loop(root: str) -> None:
    """Reference: os.walk and dcmread(stop_before_pixels=True) on every file."""
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith(".dcm"):
                pydicom.dcmread(os.path.join(folder, name), stop_before_pixels=True)


def segmap_scan(root: str) -> None:
    """segmap's scan: walk, headers on 4 threads, group, sort, geometry, warnings."""
    run(scan_dicom(Path(root)))


def segmap_scan_one_thread(root: str) -> None:
    run(scan_dicom(Path(root), threads=1))


def segmap_scan_two_processes(root: str) -> None:
    """The same scan with the headers read in two worker processes (not used by segmap)."""
    paths = list_candidates(Path(root))
    chunks = [paths[i : i + 4 * CHUNK] for i in range(0, len(paths), 4 * CHUNK)]
    headers, broken = [], []
    with ProcessPoolExecutor(2) as pool:
        for h, b in pool.map(read_chunk, chunks):
            headers += h
            broken += b
    build_series(headers, broken)


def interleaved(module: str, methods: list[str], arg: str, rounds: int
                ) -> dict[str, dict[str, float]]:
    """Median seconds and peak memory per method, the methods taking turns round by round.

    The machine is shared with other work: taking turns exposes every method to the
    same load, where measuring one method after the other would not.
    """
    seen: dict[str, list[dict[str, float]]] = {m: [] for m in methods}
    for _ in range(rounds):
        for m in methods:
            seen[m].append(harness.measure(module, m, arg, runs=1))
    return {m: {"seconds": statistics.median(r["seconds"] for r in rs),
                "peak_mb": max(r["peak_mb"] for r in rs)} for m, rs in seen.items()}


def evict(root: Path) -> None:
    """Drop the tree's files from the page cache (only these files), for a cold-cache run."""
    for folder, _, names in os.walk(root):
        for name in names:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def cold(method: str, root: Path, runs: int = 3) -> float:
    """Median seconds of ``method`` with the tree evicted from the page cache before each run."""
    times = []
    for _ in range(runs):
        evict(root)
        times.append(harness.measure("bench_dicom_scan", method, str(root), runs=1)["seconds"])
    return sorted(times)[len(times) // 2]


def noop(root: str) -> None:
    """Same imports, no work: the memory baseline."""


METHODS = {f.__name__: f for f in (pydicom_loop, segmap_scan, segmap_scan_one_thread,
                                   segmap_scan_two_processes, noop)}


def main() -> None:
    _, what = _template()
    big_tree = make_tree(harness.DATA / "dicom-scan-5000", 10, 500, 64)
    small = make_tree(harness.DATA / "dicom-scan-500x64", 1, 500, 64)
    large = make_tree(harness.DATA / "dicom-scan-500x512", 1, 500, 512)
    found = run(scan_dicom(big_tree))
    assert len(found) == 10 and all(len(s.files) == 500 and not s.warnings for s in found)
    print(f"5,000 files ({what}, 64x64 pixels, 10 series x 500); machine: {harness.machine()}")
    rows = interleaved("bench_dicom_scan", list(METHODS), str(big_tree), rounds=5)
    base = rows["noop"]["peak_mb"]
    ref = rows["pydicom_loop"]["seconds"]
    print("| method | seconds (median of 5) | speed-up vs pydicom loop | peak memory above "
          "imports (MB) |")
    print("|---|---|---|---|")
    for m, r in rows.items():
        if m != "noop":
            print(f"| {m} | {r['seconds']:.3f} | {ref / r['seconds']:.1f}x | "
                  f"{r['peak_mb'] - base:.0f} |")
    print("\nCold page cache (the tree's files evicted with posix_fadvise before each run, "
          "median of 3):")
    print("| method | seconds | speed-up vs pydicom loop |")
    print("|---|---|---|")
    cold_ref = cold("pydicom_loop", big_tree)
    for m in ("pydicom_loop", "segmap_scan", "segmap_scan_one_thread"):
        t = cold_ref if m == "pydicom_loop" else cold(m, big_tree)
        print(f"| {m} | {t:.3f} | {cold_ref / t:.1f}x |")
    print("\nMemory against pixel size (500 files each, one series):")
    print("| method | 64x64 pixels: s / MB | 512x512 pixels: s / MB |")
    print("|---|---|---|")
    pair = ["pydicom_loop", "segmap_scan"]
    on_small = interleaved("bench_dicom_scan", pair, str(small), rounds=3)
    on_large = interleaved("bench_dicom_scan", pair, str(large), rounds=3)
    for m in pair:
        a, b = on_small[m], on_large[m]
        print(f"| {m} | {a['seconds']:.3f} / {a['peak_mb'] - base:.0f} | "
              f"{b['seconds']:.3f} / {b['peak_mb'] - base:.0f} |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        harness.one(METHODS)
    else:
        main()
