"""A small mixed folder for wizard tests: cases of 40 and 3 slices, label maps with and
without names, binary masks (two of them empty), all synthetic and written in a moment.

Real folders are never uniform: the wizard's tests must not be either. The real data
of ``../shared/data`` is walked by ``test_acceptance_real.py``; this folder runs everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from bench import phantom


@dataclass(frozen=True)
class Mixed:
    root: Path
    big: str  # case names as the scan names them
    small: str
    unnamed: str
    binary: str


def _save(array: np.ndarray, affine: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(array, affine), str(path))


def _colour_table(path: Path) -> None:
    """The phantom's names as a 3D Slicer colour table beside its label map."""
    path.write_text("".join(f"{v} {n.replace(' ', '_')} {' '.join(map(str, phantom.COLOURS[v]))} "
                            "255\n" for v, n in phantom.NAMES.items()))


def mixed_folder(root: Path) -> Mixed:
    """Write the folder under ``root`` (once per test) and return its case names."""
    big = phantom.torso((48, 48, 40), spacing=(8.0, 8.0, 8.0))
    _save(big.image, big.affine, root / "big" / "ct.nii.gz")
    _save(big.labels, big.affine, root / "big" / "ct_seg.nii.gz")
    _colour_table(root / "big" / "ct_seg.ctbl")
    small = phantom.torso((40, 40, 3), spacing=(9.0, 9.0, 30.0))
    _save(small.image, small.affine, root / "small" / "ct.nii.gz")
    _save(small.labels, small.affine, root / "small" / "ct_seg.nii.gz")
    _colour_table(root / "small" / "ct_seg.ctbl")
    # Values without names anywhere: no sidecar, no header names, a meaningless file name.
    odd = phantom.torso((32, 32, 12), spacing=(10.0, 10.0, 20.0))
    labels = np.where(np.isin(odd.labels, (1, 2, 3)), odd.labels, 0).astype(np.uint8)
    _save(odd.image, odd.affine, root / "unnamed" / "scan.nii.gz")
    _save(labels, odd.affine, root / "unnamed" / "scan_labels.nii.gz")
    # One binary mask per structure, two of them empty (as TotalSegmentator writes them).
    bin_case = phantom.torso((36, 36, 20), spacing=(10.0, 10.0, 15.0))
    folder = root / "binary"
    _save(bin_case.image, bin_case.affine, folder / "ct.nii.gz")
    for value, name in ((1, "liver"), (2, "spleen"), (3, "kidney_right"), (9, "heart")):
        _save((bin_case.labels == value).astype(np.uint8), bin_case.affine,
              folder / "segmentations" / f"{name}.nii.gz")
    for name in ("brain", "femur_left"):
        _save(np.zeros(bin_case.labels.shape, np.uint8), bin_case.affine,
              folder / "segmentations" / f"{name}.nii.gz")
    return Mixed(root, "big", "small", "unnamed", "binary")
