"""How an image opens (its file's window first) and how labels are coloured."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from app.preview import FILE, Palette, default_colours, default_preset, preset_window
from app.preview._style import _lab
from app.readers import ImageHints, image_hints


def _ct(path, **tags):
    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, ds.file_meta.MediaStorageSOPInstanceUID
    for k, v in tags.items():
        setattr(ds, k, v)
    ds.save_as(path, enforce_file_format=True)
    return path


def test_a_dicom_window_and_modality_are_read(tmp_path):
    path = _ct(tmp_path / "CT.1.2.3", Modality="CT", WindowCenter=["40", "300"],
               WindowWidth=["300", "1500"], WindowCenterWidthExplanation=["WINDOW1", "WINDOW2"])
    assert image_hints([path]) == ImageHints("CT", (40.0, 300.0), "WINDOW1")
    bare = _ct(tmp_path / "b.dcm", Modality="MR")
    assert image_hints([bare]) == ImageHints("MR")
    broken = _ct(tmp_path / "w.dcm", Modality="CT", WindowCenter="40", WindowWidth="0")
    assert image_hints([broken]).window is None
    (tmp_path / "junk.dcm").write_bytes(b"not dicom")
    assert image_hints([tmp_path / "junk.dcm"]) == ImageHints()


def test_a_nifti_display_range_is_its_window(tmp_path):
    import nibabel as nib

    img = nib.Nifti1Image(np.zeros((4, 4, 4), np.int16), np.eye(4))
    img.header["cal_min"], img.header["cal_max"] = -160, 240
    nib.save(img, tmp_path / "a.nii.gz")
    assert image_hints([tmp_path / "a.nii.gz"]).window == (40.0, 400.0)
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.int16), np.eye(4)), tmp_path / "b.nii.gz")
    assert image_hints([tmp_path / "b.nii.gz"]).window is None


@pytest.mark.parametrize("hints,preset", [
    (ImageHints("CT", (40.0, 400.0)), FILE),
    (ImageHints("CT"), "soft tissue"),
    (ImageHints("MR"), "auto"),
])
def test_an_image_opens_with_its_files_window_then_its_modalitys(hints, preset):
    mr_like = np.random.default_rng(0).integers(0, 3000, (16, 16, 3)).astype(np.int16)
    assert default_preset(mr_like, hints) == preset
    if preset == FILE:
        assert preset_window(FILE, mr_like, hints) == (40.0, 400.0)
    with pytest.raises(ValueError):
        preset_window(FILE, mr_like, ImageHints())


def test_label_colours_are_distinct_saturated_and_stable():
    colours = default_colours(np.arange(1, 118))
    lab = _lab(colours)
    dist = np.linalg.norm(lab[:, None] - lab[None], axis=2)
    np.fill_diagonal(dist, np.inf)
    assert dist.min() > 10  # 117 TotalSegmentator labels, no two alike
    assert (lab[:, 0] > 20).all() and (lab[:, 0] < 95).all()  # no black, no white
    assert (np.hypot(lab[:, 1], lab[:, 2]) > 30).all()  # no greys, no cream
    assert np.array_equal(default_colours(np.arange(1, 118)), colours)
    palette = Palette()
    assert palette.colour("Spleen") != palette.colour("Kidney Right")
    assert palette.colour("Spleen") == palette.colour("Spleen")
