"""Merge of 117 binary masks of 256x256x200 (a TotalSegmentator case, import shape III).

Side by side, each in fresh processes: redbrick-sdk 2.35.4's process_upload (the
reference for speed and for the output), Segmap's merge (including writing the
.nii.gz, as the SDK does), and processes that only decompress the 117 files.
Run: python -m bench.bench_merge
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from unittest.mock import patch

import nibabel as nib
import numpy as np

from app.merge import merge
from bench import bench_census, harness, synth


def _inputs(folder: str) -> tuple[list[str], dict[int, None], dict[str, str]]:
    files = sorted(str(p) for p in Path(folder).glob("*.nii.gz"))
    instances = {k: None for k in range(1, len(files) + 1)}
    masks = {str(k): f for k, f in zip(instances, files, strict=True)}
    return files, instances, masks


def sdk_process_upload(folder: str, out: str = "") -> None:
    from redbrick.utils import nifti

    files, instances, masks = _inputs(folder)
    with tempfile.TemporaryDirectory() as tmp, patch.object(nifti, "config_path", return_value=tmp):
        path, segments, err = nifti.process_upload(files, instances, True, False, masks)
        assert err is None, err
        if out:
            Path(out).write_bytes(Path(path).read_bytes())


def segmap_merge(folder: str, out: str = "") -> None:
    files, instances, masks = _inputs(folder)
    result = merge(files, instances, binary_mask=True, masks=masks)
    with tempfile.TemporaryDirectory() as tmp:
        result.save(out or str(Path(tmp) / "label.nii.gz"))


def decompress_isal(folder: str) -> None:
    """Reference: inflate every mask with ISA-L, discard the voxels."""
    for f in _inputs(folder)[0]:
        bench_census.decompress_isal(f)


def decompress_zlib(folder: str) -> None:
    """Reference: inflate every mask with Python's zlib, discard the voxels."""
    for f in _inputs(folder)[0]:
        bench_census.decompress_zlib(f)


def noop(folder: str) -> None:
    """Same imports, no work: the memory baseline."""


METHODS = {f.__name__: f for f in (sdk_process_upload, segmap_merge, decompress_isal,
                                   decompress_zlib, noop)}


def main() -> None:
    paths = synth.binary_case(harness.DATA)
    folder = str(paths[0].parent)
    rows = {m: harness.measure("bench_merge", m, folder, runs=1 if m.startswith("sdk") else 3)
            for m in METHODS}
    # Identical output: run both once more writing their files, compare voxels and maps.
    with tempfile.TemporaryDirectory() as tmp:
        a, b = str(Path(tmp) / "sdk.nii.gz"), str(Path(tmp) / "segmap.nii.gz")
        sdk_process_upload(folder, a)
        segmap_merge(folder, b)
        va, vb = nib.load(a), nib.load(b)
        same = (np.array_equal(np.asanyarray(va.dataobj), np.asanyarray(vb.dataobj))
                and va.get_data_dtype() == vb.get_data_dtype()
                and np.allclose(va.affine, vb.affine))
    files, instances, masks = _inputs(folder)
    from redbrick.utils import nifti

    with tempfile.TemporaryDirectory() as tmp, patch.object(nifti, "config_path", return_value=tmp):
        _, sdk_map, _ = nifti.process_upload(files, instances, True, False, masks)
    ours = merge(files, instances, binary_mask=True, masks=masks).segments
    same_map = {k: sorted(v or []) for k, v in sdk_map.items()} == {k: sorted(v or []) for k, v in ours.items()}
    base = rows["noop"]["peak_mb"]
    print(f"{len(files)} binary masks of 256x256x200 uint8 "
          f"({sum(Path(f).stat().st_size for f in files) / 1e6:.1f} MB gzip); "
          f"machine: {harness.machine()}")
    print("| method | seconds (median) | peak memory above imports (MB) |")
    print("|---|---|---|")
    for m, r in rows.items():
        if m != "noop":
            print(f"| {m} | {r['seconds']:.2f} | {r['peak_mb'] - base:.0f} |")
    s, d, z = (rows[k]["seconds"] for k in ("segmap_merge", "decompress_isal", "decompress_zlib"))
    print(f"SDK / Segmap: {rows['sdk_process_upload']['seconds'] / s:.1f}x faster; Segmap / isal "
          f"decompress-only: {s / d:.2f}x; Segmap / zlib decompress-only: {s / z:.2f}x; "
          f"identical voxels+dtype+affine: {same}; identical segment map: {same_map}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--one":
        harness.one(METHODS)
    else:
        main()
