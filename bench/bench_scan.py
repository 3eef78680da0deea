"""Scanning a dataset folder: `segmap scan` next to the obvious script.

The dataset: an nnU-Net raw folder of N cases (CT-like int16 image 192x192x64,
a uint8 label map with 5 organs), written once under /tmp/segmap-bench/scan.

* segmap: ``app.discover._scan.scan`` -- image headers only, one streamed census per mask,
  pairing confirmed by geometry.
* reference: what a hand-written checker does (nnU-Net's ``verify_dataset_integrity``
  works this way): ``nibabel.load(...).get_fdata()`` for every image and
  ``np.unique(np.asanyarray(nibabel.load(mask).dataobj))`` for every mask.

Run: ``python bench/bench_scan.py [N]`` (default 60 cases).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import nibabel as nib
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import label_field, save  # noqa: E402

from app.discover import scan
from app.progress import run  # noqa: E402

SHAPE = (192, 192, 64)
ROOT = Path("/tmp/segmap-bench/scan")


def make(n: int) -> Path:
    root = ROOT / f"Dataset_{n}"
    done = root / ".complete"
    if done.exists():
        return root
    rng = np.random.default_rng(0)
    base = label_field(SHAPE, 5, seed=3).astype(np.int16) * 40 - 1000
    for i in range(n):
        noise = rng.normal(0, 15, SHAPE).astype(np.int16)
        save((base + noise).astype(np.int16), root / "imagesTr" / f"case_{i:03d}_0000.nii.gz")
        save(label_field(SHAPE, 5, seed=i), root / "labelsTr" / f"case_{i:03d}.nii.gz")
    done.write_text("ok")
    return root


def reference(root: Path) -> int:
    n = 0
    for img in sorted((root / "imagesTr").glob("*.nii.gz")):
        nib.load(img).get_fdata()
        n += 1
    for m in sorted((root / "labelsTr").glob("*.nii.gz")):
        np.unique(np.asanyarray(nib.load(m).dataobj))
    return n


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    root = make(n)
    size = sum(p.stat().st_size for p in root.rglob("*.nii.gz")) / 1e6
    print(f"{n} cases, {size:.0f} MB compressed, image {SHAPE} int16 + uint8 label map")
    for name, fn in (("segmap scan", lambda: len(run(scan(root)).cases)),
                     ("nibabel get_fdata + np.unique", lambda: reference(root))):
        best = float("inf")
        for _ in range(2):
            t = time.perf_counter()
            count = fn()
            best = min(best, time.perf_counter() - t)
        print(f"  {name:32s} {best:6.2f} s  ({count} cases, {1000 * best / n:.0f} ms/case)")


if __name__ == "__main__":
    main()
