"""What validation costs next to the work it cannot avoid: reading each mask once.

Side by side, each in fresh processes:

* shape III: 117 binary masks of 256x256x200 (a TotalSegmentator case) with their
  image. ``validate`` censuses each mask once and runs the RedBrick-identical
  merge once for the overlap groups; references: ``census_only`` (the census of
  the 117 files) and ``merge_only`` (Segmap's merge of them, without writing).
* shape I: one 512x512x400 multi-label file with its image. ``validate`` needs
  one census; reference: ``census_only`` of that file.

Run: python -m bench.bench_validate
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np

from app.items import load_items
from app.merge import merge
from app.readers import census
from app.validate import validate
from bench import harness, synth


def _image_like(mask: Path, out: Path) -> Path:
    """An all-zero image on the mask's grid (validation reads only its header)."""
    if not out.exists():
        ref = nib.load(mask)
        zeros = np.zeros(ref.shape, np.uint8)
        img = nib.Nifti1Image(zeros, ref.affine)
        out.parent.mkdir(parents=True, exist_ok=True)
        nib.save(img, out)
    return out


def _items(kind: str) -> Path:
    root = harness.DATA / "validate"
    if kind == "III":
        masks = synth.binary_case(harness.DATA)
        smap: dict[str, object] = {str(k): {"category": f"organ {k}", "mask": str(m)}
                                   for k, m in enumerate(masks, 1)}
        series = {"items": str(_image_like(masks[0], root / "image_256.nii.gz")),
                  "segmentations": [str(m) for m in masks],
                  "segmentMap": {**smap, "binaryMask": True}}
    else:
        seg = synth.multilabel_case(harness.DATA)
        series = {"items": str(_image_like(seg, root / "image_512.nii.gz")),
                  "segmentations": str(seg),
                  # The labels the file holds (two of the synthetic organs are empty).
                  "segmentMap": {str(int(k)): f"organ {int(k)}" for k in census(seg).nonzero}}
    path = root / f"items_{kind}.json"
    path.write_text(json.dumps([{"name": f"case-{kind}", "series": [series]}]))
    return path


def _files(items_path: str) -> list[str]:
    items = load_items(items_path)
    return [str(items.resolve(p)) for p in items.tasks[0].series[0].segmentation_paths]


def validate_items(items_path: str) -> None:
    found = validate(load_items(items_path))
    assert not [f for f in found if f.severity == "error"], found[:3]


def census_only(items_path: str) -> None:
    for f in _files(items_path):
        census(f)


def merge_only(items_path: str) -> None:
    files = _files(items_path)
    merge(files, {k: None for k in range(1, len(files) + 1)}, binary_mask=True,
          masks={str(k): f for k, f in enumerate(files, 1)})


def noop(items_path: str) -> None:
    """Same imports, no work: the memory baseline."""


METHODS = {f.__name__: f for f in (validate_items, census_only, merge_only, noop)}


def main() -> None:
    print(f"machine: {harness.machine()}")
    for kind, methods in (("III", ("validate_items", "census_only", "merge_only", "noop")),
                          ("I", ("validate_items", "census_only", "noop"))):
        path = str(_items(kind))
        rows = {m: harness.measure("bench_validate", m, path) for m in methods}
        base = rows["noop"]["peak_mb"]
        print(f"\nshape {kind}: " + ("117 binary masks 256x256x200" if kind == "III"
                                    else "one 512x512x400 multi-label file (117 labels)"))
        print("| method | seconds (median of 3) | peak memory above imports (MB) |")
        print("|---|---|---|")
        for m, r in rows.items():
            if m != "noop":
                print(f"| {m} | {r['seconds']:.2f} | {r['peak_mb'] - base:.0f} |")
        v, c = rows["validate_items"]["seconds"], rows["census_only"]["seconds"]
        extra = (f"; validate / (census + merge): "
                 f"{v / (c + rows['merge_only']['seconds']):.2f}x" if kind == "III" else "")
        print(f"validate / census-only: {v / c:.2f}x{extra}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        harness.one(METHODS)
    else:
        main()
