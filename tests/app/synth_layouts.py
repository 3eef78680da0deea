"""Tiny synthetic datasets in the layouts real tools write (anchors.md §12).

Volumes are a few voxels large so the tests stay fast; images are int16 with
negative values (like CT), masks uint8, every affine a real RAS grid.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np

SHAPE = (8, 7, 5)


def affine(spacing: float = 1.5, origin: tuple[float, float, float] = (-5.0, 3.0, 10.0)
           ) -> np.ndarray:
    a = np.diag([spacing, spacing, 2.0, 1.0])
    a[:3, 3] = origin
    return a


def save(arr: np.ndarray, path: Path, aff: np.ndarray | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(arr, affine() if aff is None else aff)
    img.set_data_dtype(arr.dtype)
    nib.save(img, path)
    return path


def image(path: Path, aff: np.ndarray | None = None, shape: tuple[int, ...] = SHAPE) -> Path:
    rng = np.random.default_rng(len(str(path)))
    return save(rng.integers(-1000, 1000, size=shape).astype(np.int16), path, aff)


def labelmap(path: Path, values: tuple[int, ...] = (1, 2), aff: np.ndarray | None = None,
             shape: tuple[int, int, int] = SHAPE) -> Path:
    arr = np.zeros(shape, np.uint8)
    for i, v in enumerate(values):
        arr[i % shape[0], :, i % shape[2]] = v
    return save(arr, path, aff)


def binary(path: Path, empty: bool = False, aff: np.ndarray | None = None) -> Path:
    arr = np.zeros(SHAPE, np.uint8)
    if not empty:
        arr[2:4, 1:3, 1:3] = 1
    return save(arr, path, aff)


def nnunet(root: Path, cases: int = 3, channels: int = 2, test_cases: int = 1) -> Path:
    """Dataset001_X/{imagesTr,labelsTr,imagesTs} with a v2 dataset.json (name -> value)."""
    for i in range(cases):
        for c in range(channels):
            image(root / "imagesTr" / f"case_{i:03d}_{c:04d}.nii.gz")
        labelmap(root / "labelsTr" / f"case_{i:03d}.nii.gz", (1, 2))
    for i in range(test_cases):
        for c in range(channels):
            image(root / "imagesTs" / f"test_{i:03d}_{c:04d}.nii.gz")
    (root / "dataset.json").write_text(json.dumps({
        "channel_names": {"0": "T2", "1": "ADC"},
        "labels": {"background": 0, "PZ": 1, "TZ": 2},
        "numTraining": cases, "file_ending": ".nii.gz"}))
    return root


def msd(root: Path, cases: int = 2) -> Path:
    """TaskNN_Name with 4-D images, same basenames, a v1 dataset.json (value -> name)."""
    training = []
    for i in range(cases):
        name = f"liver_{i}.nii.gz"
        image(root / "imagesTr" / name, shape=(*SHAPE, 2))
        labelmap(root / "labelsTr" / name, (1, 2))
        training.append({"image": f"./imagesTr/{name}", "label": f"./labelsTr/{name}"})
    (root / "._liver_0.nii.gz").write_bytes(b"\0" * 10)  # macOS debris, to be skipped
    (root / "dataset.json").write_text(json.dumps({
        "name": "Liver", "modality": {"0": "CT"}, "labels": {"0": "background", "1": "liver",
                                                              "2": "cancer"},
        "numTraining": cases, "training": training}))
    return root


def totalseg(root: Path, cases: int = 2, structures: tuple[str, ...] = (
        "liver", "kidney_left", "kidney_right", "vertebrae_L3")) -> Path:
    """sXXXX/ct.nii.gz + sXXXX/segmentations/<structure>.nii.gz (one empty)."""
    for i in range(cases):
        case = root / f"s{i:04d}"
        image(case / "ct.nii.gz")
        for k, s in enumerate(structures):
            binary(case / "segmentations" / f"{s}.nii.gz", empty=(k == len(structures) - 1))
    return root


def brats(root: Path, cases: int = 2) -> Path:
    """BraTS2021_XXXXX/BraTS2021_XXXXX_{t1,t1ce,t2,flair,seg}.nii.gz, labels 1, 2, 4."""
    for i in range(cases):
        name = f"BraTS2021_{i:05d}"
        for mod in ("t1", "t1ce", "t2", "flair"):
            image(root / name / f"{name}_{mod}.nii.gz")
        labelmap(root / name / f"{name}_seg.nii.gz", (1, 2, 4))
    return root


def kits(root: Path, cases: int = 2) -> Path:
    """case_XXXXX/{imaging,segmentation}.nii.gz, labels 1, 2."""
    for i in range(cases):
        image(root / f"case_{i:05d}" / "imaging.nii.gz")
        labelmap(root / f"case_{i:05d}" / "segmentation.nii.gz", (1, 2))
    return root
