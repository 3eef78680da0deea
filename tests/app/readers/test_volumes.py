"""Image volumes and masks in any format: grids, voxels and the errors a user sees."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from pydicom.uid import generate_uid

from app.errors import VolumeReadError
from app.progress import run
from app.readers import image_grid, load_image, mask_as_nifti
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


def test_an_nrrd_mask_converts_to_nifti_with_its_values_and_grid(tmp_path: Path) -> None:
    import nrrd as pynrrd

    values = np.array([[[0.0, 1.0], [2.0, 300.0]]], np.float32)
    header = {"space": "left-posterior-superior", "space directions": np.diag([2.0, 1, 3]),
              "space origin": np.array([5.0, 6, 7])}
    pynrrd.write(str(tmp_path / "f.nrrd"), values, header)
    img = mask_as_nifti(tmp_path / "f.nrrd")
    assert img.get_data_dtype() == np.float32
    assert np.array_equal(np.asanyarray(img.dataobj), values)
    expected = np.diag([-2.0, -1.0, 3.0, 1.0])
    expected[:3, 3] = [-5.0, -6.0, 7.0]
    np.testing.assert_allclose(img.affine, expected)
    assert int(img.header["sform_code"]) == 1 and int(img.header["qform_code"]) == 1
    pynrrd.write(str(tmp_path / "b.nrrd"), np.ones((2, 2, 2), np.int64), header)
    assert mask_as_nifti(tmp_path / "b.nrrd").get_data_dtype() == np.uint8
    pynrrd.write(str(tmp_path / "t.nrrd"), np.zeros((2, 2, 2, 3), np.uint8),
                 {"kinds": ["domain", "domain", "domain", "list"]})
    with pytest.raises(VolumeReadError, match="holds 3 volumes"):
        mask_as_nifti(tmp_path / "t.nrrd")
    with pytest.raises(VolumeReadError, match="not an NRRD file"):
        mask_as_nifti(tmp_path / "m.png")
