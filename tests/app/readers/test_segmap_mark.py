"""Every NIfTI file Segmap saves carries its mark, so a scan can leave it out (issue 9)."""

from __future__ import annotations

import nibabel as nib
import numpy as np

from app.readers import nifti_info, save_nifti


def test_save_nifti_marks_the_file_and_leaves_the_image_alone(tmp_path):
    img = nib.Nifti1Image(np.arange(8, dtype=np.uint8).reshape(2, 2, 2), np.eye(4))
    img.header["descrip"] = b"from the scanner"
    for name in ("merged.nii.gz", "merged.nii"):
        info = nifti_info(save_nifti(img, tmp_path / name))
        assert info.segmap_output == "label volume"
        assert nib.load(tmp_path / name).header["descrip"] == b"segmap: label volume"
    assert img.header["descrip"] == b"from the scanner"
    assert nifti_info(save_nifti(img, tmp_path / "x.nii.gz", what="test")).segmap_output == "test"


def test_other_files_carry_no_mark(tmp_path):
    img = nib.Nifti1Image(np.zeros((2, 2, 2), np.uint8), np.eye(4))
    nib.save(img, tmp_path / "a.nii.gz")
    img.header["descrip"] = b"segmentation by hand"
    nib.save(img, tmp_path / "b.nii.gz")
    assert nifti_info(tmp_path / "a.nii.gz").segmap_output == ""
    assert nifti_info(tmp_path / "b.nii.gz").segmap_output == ""
