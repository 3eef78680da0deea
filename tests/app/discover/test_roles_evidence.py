"""Issue 10 item 1: an 8-bit volume is not a mask by its dtype alone.

One-byte voxels only lean towards a mask; the census (how many values, whether neighbours
share them), a label table beside the file, the pairing (``case`` beside ``case_seg``)
and the user's ``RoleOverride`` settle it, and the volume keeps what decided.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest

from app.discover import RoleOverride, ScanResult, Volume, scan
from app.progress import run as run_sync
from tests.app.builders import nifti

GRID = (32, 32, 16)


def grey_u8(path: Path, levels: int = 249, seed: int = 0, affine: Any = None) -> Path:
    """An 8-bit 'MR template': ``levels`` grey levels, neighbours differing."""
    rng = np.random.default_rng(seed)
    return nifti(path, rng.integers(0, levels, GRID).astype(np.uint8), affine)


def labels_u8(path: Path, n: int = 3, affine: Any = None) -> Path:
    """A uint8 label map: mostly 0, ``n`` labels in blocks along the first axis."""
    arr = np.zeros(GRID, np.uint8)
    step = max(1, GRID[0] * GRID[1] * GRID[2] // (2 * n))
    flat = arr.reshape(-1, order="F")
    for v in range(1, n + 1):
        flat[(v - 1) * step // 1: (v - 1) * step + step // 2] = v
    return nifti(path, flat.reshape(GRID, order="F"), affine)


def scanned(folder: Path, *roles: RoleOverride) -> ScanResult:
    return run_sync(scan(folder, roles))


def volume(result: ScanResult, name: str) -> Volume:
    return next(v for v in result.volumes if v.path.name == name)


def test_an_8bit_image_with_many_grey_levels_is_an_image(tmp_path: Path) -> None:
    grey_u8(tmp_path / "brain.nii.gz")
    v = volume(scanned(tmp_path), "brain.nii.gz")
    assert v.role == "image"
    assert "249 distinct values" in v.why and "image" in v.why
    assert any("uint8" in e for e in v.evidence)
    assert v.to_json()["evidence"][-1] == v.why


def test_a_uint8_label_map_with_few_values_stays_a_mask(tmp_path: Path) -> None:
    labels_u8(tmp_path / "atlas.nii.gz", 3)
    result = scanned(tmp_path)
    v = volume(result, "atlas.nii.gz")
    assert v.role == "mask" and "few values" in v.why
    assert v.path in result.censuses  # read once, kept for the case


def test_a_uint8_label_map_with_many_labels_stays_a_mask(tmp_path: Path) -> None:
    labels_u8(tmp_path / "organs.nii.gz", 117)  # TotalSegmentator's --ml, say
    v = volume(scanned(tmp_path), "organs.nii.gz")
    assert v.role == "mask" and "piecewise constant" in v.why


def test_case_beside_case_seg_both_uint8_pair(tmp_path: Path) -> None:
    labels_u8(tmp_path / "case.nii.gz", 4)  # few values: its census alone says mask
    labels_u8(tmp_path / "case_seg.nii.gz", 2)
    result = scanned(tmp_path)
    v = volume(result, "case.nii.gz")
    assert v.role == "image" and "case_seg.nii.gz" in v.why
    assert [c.image.label for c in result.cases] == ["case.nii.gz"]
    assert [m.name for m in result.cases[0].masks] == ["case_seg.nii.gz"]


def test_an_8bit_template_pairs_with_its_seg(tmp_path: Path) -> None:
    grey_u8(tmp_path / "sub01.nii.gz")
    labels_u8(tmp_path / "sub01_seg.nii.gz", 3)
    result = scanned(tmp_path)
    assert len(result.cases) == 1 and result.cases[0].image.label == "sub01.nii.gz"


def test_a_label_table_beside_says_mask(tmp_path: Path) -> None:
    grey_u8(tmp_path / "parcels.nii.gz")  # many values, varying: alone it would be an image
    (tmp_path / "parcels.ctbl").write_text("0 background 0 0 0 0\n1 liver 255 0 0 255\n")
    v = volume(scanned(tmp_path), "parcels.nii.gz")
    assert v.role == "mask" and "parcels.ctbl" in v.why


def test_overrides_flip_roles_by_glob(tmp_path: Path) -> None:
    labels_u8(tmp_path / "a" / "one.nii.gz", 3)
    labels_u8(tmp_path / "a" / "two.nii.gz", 3)
    result = scanned(tmp_path)
    assert [v.role for v in result.volumes] == ["mask", "mask"] and not result.cases
    result = scanned(tmp_path, RoleOverride("a/one*", "image"))
    one = volume(result, "one.nii.gz")
    assert one.role == "image" and "--image 'a/one*'" in one.why
    assert len(result.cases) == 1 and result.cases[0].image.label == "a/one.nii.gz"
    # a later word wins; an exact path works too
    result = scanned(tmp_path, RoleOverride("*", "image"), RoleOverride("a/two.nii.gz", "mask"))
    assert volume(result, "two.nii.gz").role == "mask"
    assert volume(result, "one.nii.gz").role == "image"


def test_an_override_can_make_a_named_image_a_mask(tmp_path: Path) -> None:
    grey_u8(tmp_path / "t1.nii.gz")
    result = scanned(tmp_path, RoleOverride("t1.nii.gz", "mask"))
    assert volume(result, "t1.nii.gz").role == "mask"


def test_an_override_that_matches_nothing_is_a_warning(tmp_path: Path) -> None:
    labels_u8(tmp_path / "x.nii.gz")
    result = scanned(tmp_path, RoleOverride("nope/*", "image"))
    assert any("--image 'nope/*' matches no volume" in w for w in result.warnings)


def test_role_override_refuses_other_roles() -> None:
    with pytest.raises(ValueError):
        RoleOverride("*", "label")


def test_real_mr_as_uint8_is_an_image_and_real_uint8_labels_a_mask(
        shared_data: Path, tmp_path: Path) -> None:
    ref = shared_data / "totalsegmentator" / "tests" / "reference_files"
    mr: Any = nib.load(ref / "example_mr_sm.nii.gz")
    data = np.asarray(mr.dataobj, dtype=np.float64)
    scaled = np.rint(255 * (data - data.min()) / max(np.ptp(data), 1)).astype(np.uint8)
    nifti(tmp_path / "subj_a.nii.gz", scaled, mr.affine)
    shutil.copy(ref / "example_seg_dicom.nii.gz", tmp_path / "subj_b.nii.gz")  # uint8, 31 labels
    result = scanned(tmp_path)
    assert volume(result, "subj_a.nii.gz").role == "image"
    assert volume(result, "subj_b.nii.gz").role == "mask"


def test_no_case_reason_names_the_roles(tmp_path: Path) -> None:
    labels_u8(tmp_path / "one.nii.gz")
    labels_u8(tmp_path / "two.nii.gz")
    assert scanned(tmp_path).no_case_reason() == (
        "0 cases: 2 volume(s), both taken as mask(s) (uint8, few values); pass --image "
        "'one.nii.gz' (or a glob) if one is the image.")
    (tmp_path / "empty").mkdir()
    assert "no NIfTI, NRRD or DICOM file" in str(scanned(tmp_path / "empty").no_case_reason())


def test_a_template_by_name_is_an_image_whatever_its_values(tmp_path: Path) -> None:
    labels_u8(tmp_path / "mni_template.nii.gz", 3)  # few values, yet named as an image
    v = volume(scanned(tmp_path), "mni_template.nii.gz")
    assert (v.role, v.why) == ("image", "'template' in the name")
