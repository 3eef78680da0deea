"""Image volumes and masks in any format: grids, voxels and the errors a user sees."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from pydicom.uid import generate_uid

from app.errors import VolumeReadError
from app.progress import run
from app.readers._volumes import image_grid, load_image, load_mask
from tests.app.dicom_synth import axial_positions, pixels_for, write_series


def save(tmp_path: Path, name: str, data: np.ndarray, affine: np.ndarray | None = None,
         slope: float | None = None) -> Path:
    img = nib.Nifti1Image(data, np.diag([2.0, 3.0, 4.0, 1.0]) if affine is None else affine)
    if slope is not None:
        img.header.set_slope_inter(slope, 5.0)
    path = tmp_path / name
    nib.save(img, path)
    return path


def test_nifti_image_grid_and_scaled_voxels(tmp_path: Path) -> None:
    data = np.arange(24, dtype=np.int16).reshape(2, 3, 4)
    path = save(tmp_path, "ct.nii.gz", data, slope=2.0)
    grid = image_grid([path])
    assert grid.shape == (2, 3, 4) and grid.spacing == (2.0, 3.0, 4.0)
    voxels, grid2 = run(load_image([path]))
    assert np.array_equal(voxels, data * 2.0 + 5.0)
    assert np.array_equal(grid2.affine, grid.affine)


def test_dicom_files_are_one_image(tmp_path: Path) -> None:
    files = write_series(tmp_path, axial_positions([0, 2, 4]))
    grid = image_grid(files[::-1])
    assert grid.shape == (3, 4, 3) and grid.spacing[2] == pytest.approx(2.0)
    voxels, _ = run(load_image(files))
    assert np.array_equal(voxels[:, :, 1], pixels_for(2, 4, 3).T)


def test_dicom_files_of_two_series_are_refused(tmp_path: Path) -> None:
    files = write_series(tmp_path / "a", axial_positions([0, 1, 2]))
    files += write_series(tmp_path / "b", axial_positions([0, 1, 2]), uid=generate_uid())
    with pytest.raises(VolumeReadError, match="2 DICOM image series, not one"):
        image_grid(files)
    with pytest.raises(VolumeReadError, match="no DICOM image series"):
        image_grid([_text_file(tmp_path)])


def _text_file(tmp_path: Path) -> Path:
    p = tmp_path / "notes.dat"
    p.write_text("not an image")
    return p


def test_several_volume_files_are_refused(tmp_path: Path) -> None:
    a = save(tmp_path, "a.nii.gz", np.zeros((2, 2, 2), np.int16))
    with pytest.raises(VolumeReadError, match="single NIFTI volume"):
        image_grid([a, a])
    with pytest.raises(VolumeReadError, match="lists no image"):
        image_grid([])


def test_masks_become_integer_labels(tmp_path: Path) -> None:
    whole = save(tmp_path, "f.nii.gz", np.array([[[0.0, 1.0], [2.0, 300.0]]], np.float32))
    labels, _ = load_mask(whole)
    assert labels.dtype == np.uint16 and labels.max() == 300
    boolean = save(tmp_path, "b.nii", np.ones((2, 2, 2), np.uint8))
    assert load_mask(boolean)[0].dtype == np.uint8
    fraction = save(tmp_path, "p.nii.gz", np.full((2, 2, 2), 0.25, np.float32))
    with pytest.raises(VolumeReadError, match="fractional values"):
        load_mask(fraction)
    four = save(tmp_path, "t.nii.gz", np.zeros((2, 2, 2, 3), np.uint8))
    with pytest.raises(VolumeReadError, match="holds 3 volumes"):
        load_mask(four)
    with pytest.raises(VolumeReadError, match="not a NIfTI or NRRD mask"):
        load_mask(tmp_path / "m.png")
