"""Segment statistics on tiny cases whose numbers are worked out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from app.cli import main
from app.items import load_items
from app.preview import GeometryMismatchError, SegmentStats, series_stats
from app.progress import run
from app.readers import image_grid
from tests.app.dicom_synth import axial_positions, pixels_for, write_series

AFFINE = np.diag([2.0, 2.0, 3.0, 1.0])  # 12 mm3 = 0.012 mL per voxel
FLIP_X = np.array([[-1.0, 0, 0, 3], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])


def case(tmp_path: Path, mask_affine: np.ndarray = AFFINE, flip: bool = False) -> Path:
    """Image voxel (i, j, k) holds i*6 + j*2 + k; two masks overlap at (2, 0, 0)."""
    image = np.arange(24, dtype=np.float32).reshape(4, 3, 2)
    nib.save(nib.Nifti1Image(image, AFFINE), tmp_path / "ct.nii.gz")
    a = np.zeros((4, 3, 2), np.uint8)
    a[0, 0, 0] = a[1, 0, 0] = a[2, 0, 0] = 1
    a[3, 2, 1] = 2
    b = np.zeros((4, 3, 2), np.uint8)
    b[2, 0, 0] = b[0, 1, 0] = 3
    for name, m in (("a.nii.gz", a), ("b.nii.gz", b)):
        nib.save(nib.Nifti1Image(m[::-1] if flip else m, mask_affine), tmp_path / name)
    items = [{"name": "t", "series": [{
        "items": "ct.nii.gz", "segmentations": ["a.nii.gz", "b.nii.gz"],
        "segmentMap": {"1": "liver", "2": "spleen", "3": {"category": "tumor"}, "4": "kidney"}}]}]
    (tmp_path / "items.json").write_text(json.dumps(items))
    return tmp_path / "items.json"


def stats_of(path: Path) -> dict[str, SegmentStats]:
    items = load_items(path)
    return {s.key: s for s in run(series_stats(items, items.find("t"), 0))}


def check(stats: dict[str, SegmentStats]) -> None:
    one, two, three, four = stats["1"], stats["2"], stats["3"], stats["4"]
    # Key 1: voxels 0, 6, 12 (the last shared with key 3 in an overlap group).
    assert (one.voxels, one.mean, one.min, one.max) == (3, 6.0, 0.0, 12.0)
    assert one.volume_ml == pytest.approx(0.036)
    assert (two.voxels, two.mean, two.min, two.max) == (1, 23.0, 23.0, 23.0)
    # Key 3: voxels 12 (overlap) and 2.
    assert (three.voxels, three.mean, three.min, three.max) == (2, 7.0, 2.0, 12.0)
    assert (four.voxels, four.mean, four.min, four.max, four.volume_ml) == (0, None, None,
                                                                            None, 0.0)
    assert three.category == "tumor" and one.category == "liver"


def test_hand_computed_numbers_with_an_overlap_group(tmp_path: Path) -> None:
    check(stats_of(case(tmp_path)))


def test_a_mask_stored_flipped_measures_the_same_voxels(tmp_path: Path) -> None:
    check(stats_of(case(tmp_path, AFFINE @ FLIP_X, flip=True)))


def test_a_mismatched_mask_is_refused(tmp_path: Path) -> None:
    shifted = AFFINE.copy()
    shifted[0, 3] += 1.0  # half a voxel
    with pytest.raises(GeometryMismatchError, match="does not match the image grid"):
        stats_of(case(tmp_path, shifted))


def test_dicom_image_with_a_nifti_mask(tmp_path: Path) -> None:
    files = write_series(tmp_path / "dcm", axial_positions([0, 2, 4]), slope=1, intercept=-10)
    grid = image_grid(files)
    mask = np.zeros(grid.shape, np.uint8)
    mask[1, 2, 0] = mask[2, 3, 2] = 1  # (column, row, slice)
    nib.save(nib.Nifti1Image(mask, grid.affine), tmp_path / "m.nii.gz")
    items = [{"name": "t", "series": [{"items": [str(f) for f in files],
                                       "segmentations": "m.nii.gz", "segmentMap": {"1": "x"}}]}]
    (tmp_path / "items.json").write_text(json.dumps(items))
    (s,) = stats_of(tmp_path / "items.json").values()
    values = [pixels_for(1, 4, 3)[2, 1] - 10, pixels_for(3, 4, 3)[3, 2] - 10]
    assert (s.voxels, s.mean, s.min, s.max) == (2, float(np.mean(values)), min(values),
                                                max(values))
    assert s.volume_ml == pytest.approx(2 * 0.5 * 0.75 * 2.0 / 1000)


def test_cli_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = case(tmp_path)
    assert main(["stats", str(path), "--task", "t", "--series", "0", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    first = out["segments"][0]
    assert first == {"key": "1", "category": "liver", "voxels": 3, "volume_ml": 0.036,
                     "mean": 6.0, "min": 0.0, "max": 12.0}
    assert [s["key"] for s in out["segments"]] == ["1", "2", "3", "4"]


def test_cli_reports_a_mismatch_as_an_error(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    shifted = AFFINE.copy()
    shifted[:3, 3] = 100.0
    assert main(["stats", str(case(tmp_path, shifted)), "--task", "t"]) == 1
    err = capsys.readouterr().err
    assert "does not match the image grid" in err and "hint:" in err
