"""Tiny synthetic test data: NIfTI images and masks of a few voxels, items lists, taxonomies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np

SHAPE = (4, 3, 2)


def nifti(path: Path, data: Any, affine: Any = None, dtype: Any = None) -> Path:
    """Write ``data`` (any array-like) as NIfTI-1 at ``path`` (gzipped when it ends in .gz)."""
    arr = np.asarray(data, dtype=dtype) if dtype is not None else np.asarray(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(arr, np.eye(4) if affine is None else np.asarray(affine, float))
    img.header.set_data_dtype(arr.dtype)
    nib.save(img, str(path))
    return path


def volume(values: dict[tuple[int, int, int], int] | None = None, shape=SHAPE,
           dtype: Any = np.uint8) -> np.ndarray:
    """A label volume of ``shape``: zeros with the given voxels set."""
    arr = np.zeros(shape, dtype=dtype)
    for ijk, v in (values or {}).items():
        arr[ijk] = v
    return arr


def image(path: Path, shape=SHAPE, affine: Any = None) -> Path:
    """A small int16 'CT' image."""
    return nifti(path, np.arange(np.prod(shape), dtype=np.int16).reshape(shape), affine)


def items_file(folder: Path, tasks: list[dict[str, Any]], name: str = "items.json") -> Path:
    """Write an items list (a JSON array of tasks)."""
    path = folder / name
    path.write_text(json.dumps(tasks, indent=1))
    return path


def taxonomy_v2(names: list[str], path: Path | None = None, **extra: Any) -> dict[str, Any]:
    """A v2 taxonomy with one SEGMENTATION object type per name (class ids 0..n-1).

    ``extra`` maps a name to overrides of its object type (archived, labelType, ...).
    """
    objs = []
    for i, n in enumerate(names):
        o: dict[str, Any] = {"category": n, "classId": i, "labelType": "SEGMENTATION",
                             "color": None, "parents": [], "archived": False, "attributes": []}
        o.update(extra.get(n, {}))
        objs.append(o)
    tax = {"name": "Test taxonomy", "isNew": True, "studyClassify": [], "seriesClassify": [],
           "instanceClassify": [], "objectTypes": objs}
    if path is not None:
        path.write_text(json.dumps(tax))
    return tax


def seed(folder: Path, shape_kind: str) -> Path:
    """The three documented import shapes (reference §2.4) with their image; returns items.json.

    I: one multi-label file; II: two multi-label files sharing a mapping; III: one
    binary file per category with binaryMask. Values 1 and 2 map to category-a/-b;
    no voxel is claimed twice.
    """
    image(folder / "img.nii.gz")
    a = {(0, 0, 0): 1, (1, 0, 0): 1}
    b = {(2, 1, 1): 2, (3, 2, 1): 2}
    series: dict[str, Any] = {"items": "img.nii.gz"}
    if shape_kind == "I":
        nifti(folder / "seg.nii.gz", volume({**a, **b}))
        series.update(segmentations="seg.nii.gz",
                      segmentMap={"1": "category-a", "2": "category-b"})
    elif shape_kind == "II":
        nifti(folder / "s1.nii.gz", volume(a))
        nifti(folder / "s2.nii.gz", volume(b))
        series.update(segmentations=["s1.nii.gz", "s2.nii.gz"],
                      segmentMap={"1": "category-a", "2": "category-b"})
    else:
        nifti(folder / "m1.nii.gz", volume({k: 1 for k in a}))
        nifti(folder / "m2.nii.gz", volume({k: 1 for k in b}))
        series.update(segmentations=["m1.nii.gz", "m2.nii.gz"], segmentMap={
            "1": {"category": "category-a", "mask": "m1.nii.gz"},
            "2": {"category": "category-b", "mask": "m2.nii.gz"}, "binaryMask": True})
    return items_file(folder, [{"name": f"case-{shape_kind}", "series": [series]}])


def check(folder: Path, series: dict[str, Any] | list[dict[str, Any]] | None = None,
          taxonomy: Any = None, tasks: list[Any] | None = None) -> list[Any]:
    """Write an items list (one task 'case' holding ``series``) and validate it."""
    from app.items import load_items
    from app.validate import validate

    if tasks is None:
        tasks = [{"name": "case", "series": series if isinstance(series, list) else [series]}]
    return validate(load_items(items_file(folder, tasks)), taxonomy)


def codes(found: list[Any]) -> set[str]:
    """The finding codes of a validation result."""
    return {f.code for f in found}


def only(found: list[Any], code: str) -> list[Any]:
    """The findings with ``code``."""
    return [f for f in found if f.code == code]


def dcmqi_case(shared_data: Path, case: Path) -> Path:
    """dcmqi's 3-slice CT (DICOM, in ``case/image``) with its liver, spine and heart label
    maps (NRRD) beside it, linked from ../shared/data; returns ``case``."""
    src = shared_data / "dcmqi" / "data" / "segmentations"
    (case / "image").mkdir(parents=True)
    for f in sorted((src / "ct-3slice").iterdir()):
        (case / "image" / f.name).symlink_to(f)
    for m in ("liver_seg.nrrd", "spine_seg.nrrd", "heart_seg.nrrd"):
        (case / m).symlink_to(src / m)
    return case
