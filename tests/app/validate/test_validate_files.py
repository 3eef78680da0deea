"""Validation of files: missing, unreadable, corrupt, not NIfTI, odd values, wrong geometry."""

from __future__ import annotations

import gzip
import os

import nibabel as nib
import numpy as np
import pytest

from ..builders import check, codes, image, nifti, only, volume

MAP = {"1": "a"}
ONE = {(0, 0, 0): 1}


def series(seg, smap=None, items="img.nii.gz"):
    return {"items": items, "segmentations": seg, "segmentMap": MAP if smap is None else smap}


@pytest.fixture
def case(tmp_path):
    image(tmp_path / "img.nii.gz")
    nifti(tmp_path / "good.nii.gz", volume(ONE))
    return tmp_path


def test_good_file_is_silent(case):
    assert codes(check(case, series("good.nii.gz"))) == {"taxonomy-not-checked"}


def test_file_missing(case):
    found = only(check(case, series(["good.nii.gz", "nope.nii.gz"])), "file-missing")
    assert len(found) == 1 and found[0].file.endswith("nope.nii.gz")
    assert found[0].severity == "error" and "Invalid label files" in found[0].message


def test_broken_symlink_is_missing(case):
    os.symlink(case / "gone.nii.gz", case / "link.nii.gz")
    assert "file-missing" in codes(check(case, series("link.nii.gz")))


def test_file_unreadable_permissions(case, monkeypatch):
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m: False if str(p).endswith("good.nii.gz")
                        else real(p, m))
    found = only(check(case, series("good.nii.gz")), "file-unreadable")
    assert found and "Permission denied" in found[0].message


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads everything")
def test_file_unreadable_chmod(case):
    (case / "good.nii.gz").chmod(0)
    assert "file-unreadable" in codes(check(case, series("good.nii.gz")))


def test_folder_holding_a_subfolder_is_unreadable(case):
    (case / "segs" / "sub").mkdir(parents=True)
    nifti(case / "segs" / "a.nii.gz", volume(ONE))
    assert "file-unreadable" in codes(check(case, series("segs")))


def test_segmentations_directory(case):
    for n in ("a", "b"):
        nifti(case / "segs" / f"{n}.nii.gz", volume(ONE))
    found = only(check(case, series("segs")), "segmentations-directory")
    assert found and found[0].severity == "warning" and "order" in found[0].message
    assert "segmentations-directory" not in codes(
        check(case, series(["segs/a.nii.gz", "segs/b.nii.gz"])))


def test_file_corrupt_truncated_gzip(case):
    data = (case / "good.nii.gz").read_bytes()
    (case / "cut.nii.gz").write_bytes(data[: len(data) // 2])
    found = only(check(case, series("cut.nii.gz")), "file-corrupt")
    assert found and "truncated" in found[0].message


def test_file_corrupt_bad_gzip_stream(case):
    (case / "bad.nii.gz").write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(64))
    assert "file-corrupt" in codes(check(case, series("bad.nii.gz")))


def test_file_corrupt_payload_cut_short(case):
    nifti(case / "plain.nii", volume(ONE))
    data = (case / "plain.nii").read_bytes()
    (case / "plain.nii").write_bytes(data[:-5])
    assert "file-corrupt" in codes(check(case, series("plain.nii")))


def test_not_nifti(case):
    # MetaImage is neither NIfTI (RedBrick reads it) nor NRRD (Segmap converts it).
    (case / "seg.mha").write_text("ObjectType = Image\n")
    (case / "text.nii.gz").write_bytes(gzip.compress(b"hello" * 100))
    found = check(case, series(["good.nii.gz", "seg.mha", "text.nii.gz"]))
    assert {f.file.rsplit("/", 1)[-1] for f in only(found, "not-nifti")} == {"seg.mha",
                                                                          "text.nii.gz"}


def test_an_unreadable_nrrd_mask_cannot_be_converted(case):
    (case / "seg.nrrd").write_text("NRRD0004\n")
    [f] = only(check(case, series(["good.nii.gz", "seg.nrrd"])), "file-corrupt")
    assert f.file.endswith("seg.nrrd") and "convert it to NIfTI" in f.message


def test_gzip_name_mismatch(case):
    nifti(case / "plain.nii", volume(ONE))
    os.rename(case / "plain.nii", case / "plain.nii.gz")
    os.rename(case / "good.nii.gz", case / "zipped.nii")
    found = only(check(case, series(["plain.nii.gz", "zipped.nii"])), "gzip-name-mismatch")
    assert len(found) == 2
    nifti(case / "fine.nii", volume(ONE))
    assert codes(check(case, series("fine.nii"))) == {"taxonomy-not-checked",
                                                      "uncompressed-upload"}


@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 2, 1)])
def test_mask_dimensions(case, shape):
    nifti(case / "odd.nii.gz", np.ones(shape, np.uint8))
    found = only(check(case, series("odd.nii.gz")), "mask-dimensions")
    assert found and "3-D" in found[0].message


@pytest.mark.parametrize(("code", "bad", "good", "dtype"), [
    ("values-non-integer", 1.5, 1.0, np.float32),
    ("values-negative", -1, 1, np.int16),
    ("values-over-65535", 70000, 1, np.int32),
    ("values-non-finite", np.nan, 1.0, np.float32),
])
def test_value_flags(case, code, bad, good, dtype):
    nifti(case / "bad.nii.gz", volume({(0, 0, 0): 1, (1, 0, 0): bad}, dtype=dtype))
    nifti(case / "ok.nii.gz", volume({(0, 0, 0): 1, (1, 0, 0): good}, dtype=dtype))
    assert code in codes(check(case, series("bad.nii.gz")))
    assert code not in codes(check(case, series("ok.nii.gz")))


def test_negative_values_say_what_they_become(case):
    nifti(case / "neg.nii.gz", volume({(0, 0, 0): 1, (1, 0, 0): -1}, dtype=np.int16))
    found = check(case, series("neg.nii.gz"))
    assert "-1 -> 65535" in only(found, "values-negative")[0].message
    assert only(found, "unmapped-value")[0].value == 65535  # as RedBrick will store it


def test_uncompressed_upload(case):
    nifti(case / "plain.nii", volume(ONE))
    assert "uncompressed-upload" in codes(check(case, series("plain.nii")))
    nifti(case / "wide.nii", volume(ONE, dtype=np.uint16))  # rewritten as uint8 by the SDK
    assert "uncompressed-upload" not in codes(check(case, series("wide.nii")))
    assert "uncompressed-upload" not in codes(check(case, series("good.nii.gz")))


def test_empty_mask(case):
    nifti(case / "empty.nii.gz", volume())
    found = only(check(case, series(["good.nii.gz", "empty.nii.gz"])), "empty-mask")
    assert len(found) == 1 and found[0].file.endswith("empty.nii.gz")


# -- geometry ---------------------------------------------------------------------------


def test_grid_reoriented(case):
    data = volume(ONE)
    flipped = np.diag([-1.0, 1, 1, 1])
    flipped[0, 3] = 3
    nifti(case / "flip.nii.gz", data[::-1], flipped)
    found = only(check(case, series("flip.nii.gz")), "grid-reoriented")
    assert found and found[0].severity == "warning" and "world space" in found[0].message


@pytest.mark.parametrize(("code", "shape", "affine"), [
    ("grid-crop", (2, 3, 2), np.eye(4)),
    ("grid-resolution", (2, 3, 2), np.diag([2.0, 1, 1, 1])),
    ("grid-mismatch", (4, 3, 2), np.array([[1, 0, 0, 100], [0, 1, 0, 0], [0, 0, 1, 0],
                                           [0, 0, 0, 1.0]])),
])
def test_grid_errors_carry_the_numbers(case, code, shape, affine):
    nifti(case / "m.nii.gz", volume(ONE, shape=shape), affine)
    found = only(check(case, series("m.nii.gz")), code)
    assert found and found[0].severity == "error"
    assert "x".join(map(str, shape)) in found[0].message


def _zero_voxel_size(path):
    """A NIfTI whose sform squashes the z axis (the affine is singular)."""
    arr = volume(ONE)
    h = nib.Nifti1Header()
    h.set_data_shape(arr.shape)
    h.set_data_dtype(np.uint8)
    h["sform_code"], h["qform_code"], h["vox_offset"] = 1, 0, 352
    h["srow_x"], h["srow_y"], h["srow_z"] = [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]
    path.write_bytes(h.binaryblock + b"\0" * 4 + arr.tobytes(order="F"))
    return path


def test_degenerate_geometry_is_a_finding_not_a_crash(case):
    _zero_voxel_size(case / "flat.nii")
    found = only(check(case, series("flat.nii")), "grid-mismatch")
    assert found and "zero voxel size" in found[0].message
    _zero_voxel_size(case / "flatimg.nii")
    found = check(case, series("good.nii.gz", items="flatimg.nii"))
    assert "zero voxel size" in only(found, "grid-not-checked")[0].message


def _flat_dicom(path):
    """A DICOM image slice without geometry (no position, no orientation)."""
    from ..dicom_synth import write_slice

    return write_slice(path, series_uid="1.2.3.77", position=None, orientation=None)


def test_files_misaligned_without_image_geometry(case):
    _flat_dicom(case / "img.dcm")
    nifti(case / "small.nii.gz", volume(ONE, shape=(2, 3, 2)))
    found = check(case, series(["good.nii.gz", "small.nii.gz"], items="img.dcm"))
    assert "grid-not-checked" in codes(found)
    assert only(found, "files-misaligned")[0].file.endswith("small.nii.gz")
    nifti(case / "good2.nii.gz", volume(ONE))
    assert "files-misaligned" not in codes(check(case, series(["good.nii.gz", "good2.nii.gz"],
                                                              items="img.dcm")))


def test_files_misaligned_when_each_lines_up_with_the_image_differently(case):
    flipped = np.diag([-1.0, 1, 1, 1])
    flipped[0, 3] = 3
    nifti(case / "flip.nii.gz", volume({(3, 0, 0): 1}), flipped)
    assert {"grid-reoriented", "files-misaligned"} <= codes(
        check(case, series(["good.nii.gz", "flip.nii.gz"])))


# -- images -----------------------------------------------------------------------------


def test_image_missing(case):
    found = only(check(case, series("good.nii.gz", items="nope.nii.gz")), "image-missing")
    assert found and "35 s" in found[0].message
    (case / "dicomdir").mkdir()
    found = only(check(case, series("good.nii.gz", items=["dicomdir"])), "image-missing")
    assert "is a folder" in found[0].message


def test_image_type_unsupported(case):
    (case / "scan.mha").write_bytes(b"x")
    (case / "1.2.840.5").write_bytes(b"x")
    found = only(check(case, series("good.nii.gz", items=["scan.mha"])), "image-type-unsupported")
    assert found and "Unsupported file type mha" in found[0].message
    assert "image-type-unsupported" in codes(check(case, series("good.nii.gz",
                                                                items=["1.2.840.5"])))
    (case / "IM0001").write_bytes(b"x")
    assert "image-type-unsupported" not in codes(check(case, series("good.nii.gz",
                                                                    items=["IM0001"])))


def test_image_unreadable(case):
    (case / "img.nii.gz").write_bytes(b"garbage")
    assert "image-unreadable" in codes(check(case, series("good.nii.gz")))


def test_grid_not_checked_is_info_not_a_crash(case):
    _flat_dicom(case / "a.dcm")
    found = only(check(case, series("good.nii.gz", items=["a.dcm"])), "grid-not-checked")
    assert found and found[0].severity == "info"
    assert "grid-not-checked" not in codes(check(case, series("good.nii.gz")))


def test_a_dcm_file_that_is_no_dicom_is_an_error_not_a_note(case):
    (case / "a.dcm").write_bytes(b"x")
    (case / "b.dcm").write_bytes(b"x")
    found = only(check(case, series("good.nii.gz", items=["a.dcm", "b.dcm"])), "image-unreadable")
    assert found and found[0].file.endswith("a.dcm") and "not a DICOM file" in found[0].message


def test_remote_file(case):
    found = check(case, series(["good.nii.gz", "s3://bucket/seg.nii.gz"]))
    assert only(found, "remote-file")[0].severity == "info"
    assert "mapped-value-absent" not in codes(found)  # incomplete: values are not judged


def test_dicom_named_without_dcm_is_a_warning_not_an_error(tmp_path):
    """PACS names (CT.1.2.3.300000) are DICOM RedBrick's CLI refuses by name only."""
    import pydicom
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    from app.items import load_items
    from app.progress import run
    from app.validate import Code, validate_work

    ds = pydicom.Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.save_as(tmp_path / "CT.1.2.3.300000", enforce_file_format=True)
    (tmp_path / "notes.300000").write_bytes(b"not dicom")
    (tmp_path / "items.json").write_text(
        '[{"name": "a", "series": [{"items": ["CT.1.2.3.300000"]}]},'
        ' {"name": "b", "series": [{"items": ["notes.300000"]}]}]')
    found = run(validate_work(load_items(tmp_path / "items.json")))
    codes = {(f.task, f.code) for f in found if f.code.startswith("image-")}
    assert ("a", Code.IMAGE_DCM_NAME) in codes and ("a", Code.IMAGE_TYPE_UNSUPPORTED) not in codes
    assert ("b", Code.IMAGE_TYPE_UNSUPPORTED) in codes
    assert next(f for f in found if f.code == "image-dcm-name").severity == "warning"


@pytest.mark.parametrize("name", ["vox-offset-0.nii", "negative-dim.nii", "huge-claim.nii",
                                  "nan-affine.nii"])
def test_a_mask_whose_header_lies_is_a_broken_header_not_a_format(case, name):
    from tests.app.hostile.corpus import broken_volumes

    made = broken_volumes(case / "bad")
    found = only(check(case, series(f"bad/{name}")), "mask-header-broken")
    assert len(found) == 1 and str(made[name]) in found[0].message
    assert "Invalid mask type" not in found[0].message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_fifo_mask_is_unreadable_for_what_it_is(case):
    os.mkfifo(case / "pipe.nii.gz")
    (found,) = only(check(case, series("pipe.nii.gz")), "file-unreadable")
    assert "is a named pipe (FIFO), but a mask file is expected" in found.message
