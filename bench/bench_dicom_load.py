"""Loading a 512x512x300 CT series for preview, against pydicom decoding the same slices.

Two copies of one synthetic CT series (body-shaped HU values, int16 with
RescaleIntercept -1024): uncompressed (explicit VR little endian) and JPEG 2000
lossless (as the TotalSegmentator example is stored). The reference decodes
every slice with ``pydicom.dcmread(f).pixel_array`` and keeps the arrays;
segmap scans the folder and returns the rescaled volume on the series' grid.

Run: python -m bench.bench_dicom_load   (writes the files once under $SEGMAP_BENCH_DATA)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pydicom
from pydicom.uid import JPEG2000Lossless, generate_uid

from app.progress import run
from app.readers.dicom import load_dicom_volume, scan_dicom
from bench import harness
from bench.bench_dicom_scan import interleaved
from tests.app.dicom_synth import write_slice

SLICES = 300


def _phantom(k: int) -> np.ndarray:
    """One 512x512 slice: air, an elliptic body of soft tissue, a spine, some noise."""
    rng = np.random.default_rng(k)
    y, x = np.mgrid[-256:256, -256:256]
    body = (x / 200.0) ** 2 + (y / 150.0) ** 2 < 1
    hu = np.where(body, 40, -1000).astype(np.int32)
    hu[(x / 25.0) ** 2 + ((y - 90) / 25.0) ** 2 < 1] = 700
    hu += rng.integers(-20, 21, hu.shape)
    return (hu + 1024).clip(0, 4095).astype(np.int16)


def make_series(root: Path, compressed: bool) -> Path:
    folder = root / ("ct-512x300-j2k" if compressed else "ct-512x300-raw")
    done = folder / ".complete"
    if done.exists():
        return folder
    uid = generate_uid()
    for k in range(SLICES):
        f = write_slice(folder / f"IM{k:04d}.dcm", series_uid=uid, position=(-250, -250, 2.0 * k),
                        rows=512, cols=512, spacing=(0.9765625, 0.9765625), instance=k + 1,
                        pixels=_phantom(k), slope=1, intercept=-1024)
        if compressed:
            ds = pydicom.dcmread(f)
            ds.compress(JPEG2000Lossless)
            ds.save_as(f, enforce_file_format=True)
    done.touch()
    return folder


def pydicom_decode(folder: str) -> None:
    """Reference: decode every slice with pydicom and keep the arrays (no rescale, no stack)."""
    _ = [pydicom.dcmread(f).pixel_array for f in sorted(Path(folder).glob("*.dcm"))]


def segmap_load(folder: str) -> None:
    """segmap: scan the folder, then the rescaled volume on the series' grid."""
    (series,) = run(scan_dicom(Path(folder)))
    run(load_dicom_volume(series))


def noop(folder: str) -> None:
    """Same imports, no work: the memory baseline."""


METHODS = {f.__name__: f for f in (pydicom_decode, segmap_load, noop)}


def main() -> None:
    print(f"512x512x{SLICES} int16 CT series; machine: {harness.machine()}")
    print("| series | pydicom decode (s, median of 5) | segmap scan + load (s) | segmap / pydicom | "
          "peak MB pydicom / segmap (above imports) |")
    print("|---|---|---|---|---|")
    for compressed in (False, True):
        folder = make_series(harness.DATA, compressed)
        (series,) = run(scan_dicom(folder))
        vol = run(load_dicom_volume(series))
        ref = pydicom.dcmread(series.files[7]).pixel_array
        assert vol.dtype == np.int16 and np.array_equal(vol[:, :, 7], ref.T.astype(np.int32) - 1024)
        runs = interleaved("bench_dicom_load", list(METHODS), str(folder), rounds=5)
        base = runs["noop"]["peak_mb"]
        a, b = runs["pydicom_decode"], runs["segmap_load"]
        name = "JPEG 2000 lossless" if compressed else "uncompressed"
        print(f"| {name} | {a['seconds']:.2f} | {b['seconds']:.2f} | "
              f"{b['seconds'] / a['seconds']:.2f}x | {a['peak_mb'] - base:.0f} / "
              f"{b['peak_mb'] - base:.0f} |")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        harness.one(METHODS)
    else:
        main()
