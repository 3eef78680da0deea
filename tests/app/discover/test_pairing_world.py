"""A converted copy beside its DICOM series: recognised in world space, and the series kept.

dcm2niix and dicom2nifti rarely write the series' grid exactly: they flip and permute
axes, reorder slices and round the affine. The copy is recognised by its world geometry
(the same voxels within half a voxel) with its name or its dcm2niix sidecar; a mask
lying on the series' grid pairs with the series, even when its name matches the copy.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from app.discover import ScanResult, scan
from app.discover._pairing import world_twins
from app.geometry import Grid
from app.progress import run

from ..dicom_synth import axial_positions, write_series


def do_scan(root: Path) -> ScanResult:
    return run(scan(root))


def series_grid(folder: Path) -> Grid:
    (s,) = [s for s in do_scan(folder).series if s.grid is not None]
    return s.grid


def save(path: Path, arr: np.ndarray, affine: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(arr, affine), path)
    return path


def flipped(grid: Grid, axis: int = 2) -> np.ndarray:
    """The affine of the same voxels with one axis stored the other way round."""
    aff = grid.affine.copy()
    aff[:3, 3] = aff[:3, 3] + aff[:3, axis] * (grid.shape[axis] - 1)
    aff[:3, axis] = -aff[:3, axis]
    return aff


def ct(grid: Grid) -> np.ndarray:
    """Image-like values (many, negative): the scan takes the file for an image."""
    return (np.arange(np.prod(grid.shape)).reshape(grid.shape) * 37 % 2000 - 1000).astype(np.int16)


def mask_on(grid: Grid) -> np.ndarray:
    arr = np.zeros(grid.shape, np.uint8)
    arr[1:3, 1:2, 1:3] = 1
    return arr


def series_with_copy(tmp_path: Path, shift_mm: float = 0.0) -> tuple[Path, Grid]:
    """p1/series/ (a 4x3x5 CT, SeriesNumber 7) and p1/series_7.nii.gz, its copy stored with
    the slices reversed (dcm2niix's ``%f_%s`` naming), shifted by ``shift_mm``."""
    case = tmp_path / "p1"
    write_series(case / "series", axial_positions([0, 1, 2, 3, 4]))
    grid = series_grid(case)
    aff = flipped(grid)
    aff[0, 3] += shift_mm
    save(case / "series_7.nii.gz", ct(grid), aff)
    return case, grid


def test_world_twins_allow_flips_and_rounding_within_half_a_voxel():
    g = Grid((4, 3, 5), np.diag([0.5, 0.75, 1.0, 1.0]))
    assert world_twins(g, Grid(g.shape, flipped(g)))
    nudged = g.affine.copy()
    nudged[0, 3] += 0.2  # a float32 header's rounding, and more
    assert world_twins(g, Grid(g.shape, nudged))
    nudged[0, 3] += 0.1  # 0.3 mm: more than half of the 0.5 mm voxel
    assert not world_twins(g, Grid(g.shape, nudged))
    assert not world_twins(g, Grid((4, 3, 4), g.affine))


def test_a_mask_on_the_series_grid_pairs_with_the_series_though_named_after_the_copy(tmp_path):
    case, grid = series_with_copy(tmp_path)
    save(case / "series_7_seg.nii.gz", mask_on(grid), grid.affine)
    r = do_scan(tmp_path)
    (c,) = r.cases
    assert c.image.is_dicom and c.image.label == "p1/series"
    assert "converted copy of the DICOM series p1/series" in c.evidence
    (u,) = [u for u in r.unpaired if u.file == "p1/series_7.nii.gz"]
    assert "a converted copy of the DICOM series p1/series" in u.reason
    assert "its masks are paired with the series" in u.reason


def test_a_copy_with_a_rounded_affine_is_still_known_and_keeps_masks_on_its_own_grid(tmp_path):
    case, grid = series_with_copy(tmp_path, shift_mm=0.2)  # beyond compare_grids' tolerance
    copy = nib.load(case / "series_7.nii.gz")
    save(case / "series_7_seg.nii.gz", mask_on(grid), copy.affine)  # drawn on the copy
    r = do_scan(tmp_path)
    (c,) = r.cases
    assert c.image.label == "p1/series_7.nii.gz"  # the grid the mask lies on
    assert "the mask lies on the copy's grid" in c.evidence
    (u,) = [u for u in r.unpaired if u.file == "p1/series"]
    assert "its converted copy p1/series_7.nii.gz took its masks" in u.reason


def test_a_dcm2niix_sidecar_says_which_of_several_alike_series_a_copy_comes_from(tmp_path):
    dicom = tmp_path / "study" / "dicom"
    for n in (1, 2, 3):
        write_series(dicom / f"s{n}", axial_positions([0, 1, 2]), prefix=f"s{n}_",
                     SeriesNumber=n)
    grids = {s.series_number: s.grid for s in do_scan(dicom).series}
    grid = grids[2]
    out = tmp_path / "study" / "nifti"
    save(out / "brain_ct.nii.gz", ct(grid), flipped(grid, 0))
    (out / "brain_ct.json").write_text(json.dumps({"SeriesNumber": 2, "Modality": "CT"}))
    save(tmp_path / "study" / "dicom" / "s2" / "brain_seg.nii.gz", mask_on(grid), grid.affine)
    r = do_scan(tmp_path)
    (c,) = r.cases
    assert c.image.label == "study/dicom/s2"  # named after the copy, on the grid of all three
    (u,) = [u for u in r.unpaired if u.file == "study/nifti/brain_ct.nii.gz"]
    assert "study/dicom/s2" in u.reason and "brain_ct.json" in u.reason


def test_dicom2nifti_ground_truth_beside_its_series(shared_data, tmp_path):
    src = shared_data / "dicom2nifti" / "anatomical"
    shutil.copytree(src / "001", tmp_path / "001")
    shutil.copy(src / "001_ground_truth.nii.gz", tmp_path)
    grid = series_grid(tmp_path / "001")
    save(tmp_path / "001_ground_truth_seg.nii.gz", mask_on(grid), grid.affine)
    r = do_scan(tmp_path)
    (c,) = r.cases
    assert c.image.is_dicom and c.image.label == "001"
    (u,) = [u for u in r.unpaired if u.file == "001_ground_truth.nii.gz"]
    assert "converted copy" in u.reason


def test_dcm2niix_reference_copies_go_to_their_own_series(shared_data, tmp_path):
    src = shared_data / "dcm_qa_ts"
    for n in (4, 5):
        (tmp_path / "In").mkdir(exist_ok=True)
        (tmp_path / "Ref").mkdir(exist_ok=True)
        shutil.copy(src / "In" / f"{n}.dcm", tmp_path / "In")
        for ext in (".nii", ".json"):
            shutil.copy(src / "Ref" / f"{n}{ext}", tmp_path / "Ref")
    r = do_scan(tmp_path)
    grids = {s.series_number: s.grid for s in r.series}
    if grids.get(4) is None:
        pytest.skip("the mosaic does not decode here")
    save(tmp_path / "Ref" / "4_seg.nii.gz", mask_on(grids[4]), grids[4].affine)
    r = do_scan(tmp_path)
    (c,) = r.cases
    assert c.image.is_dicom and c.image.series_number == 4
    reasons = {u.file: u.reason for u in r.unpaired}
    assert "In/5.dcm" in reasons["Ref/5.nii"] and "In/4.dcm" in reasons["Ref/4.nii"]


# Task names of series in generic folders (issue 10, item 7).

def test_series_in_generic_dicom_folders_are_named_after_their_case_folder(tmp_path):
    for case in ("case_a", "case_b"):
        write_series(tmp_path / case / "DICOM", axial_positions([0, 1, 2]))
        grid = series_grid(tmp_path / case)
        save(tmp_path / case / "seg.nii.gz", mask_on(grid), grid.affine)
    r = do_scan(tmp_path)
    assert [c.name for c in r.cases] == ["case_a", "case_b"]


def test_a_generic_folder_up_to_a_generic_scanned_folder_takes_the_patient(tmp_path):
    root = tmp_path / "data"
    write_series(root / "IMG", axial_positions([0, 1, 2]), PatientName="Doe^Jane")
    grid = series_grid(root)
    save(root / "seg.nii.gz", mask_on(grid), grid.affine)
    (c,) = do_scan(root).cases
    assert c.name == "Doe_Jane"


def test_dcm2niix_header_description_marks_a_copy_whose_name_says_nothing(tmp_path):
    write_series(tmp_path / "p1" / "series", axial_positions([0, 1, 2, 3, 4]))
    grid = series_grid(tmp_path / "p1")
    aff = flipped(grid)
    aff[0, 3] += 0.2  # rounded: not the series' grid exactly
    img = nib.Nifti1Image(ct(grid), aff)
    img.header["descrip"] = b"TE=2.5;Time=101010.000;phase=1"
    nib.save(img, tmp_path / "p1" / "anat.nii.gz")
    r = do_scan(tmp_path)
    (u,) = [u for u in r.unpaired if u.file == "p1/anat.nii.gz"]
    assert "converted copy of the DICOM series p1/series" in u.reason and "dcm2niix" in u.reason
