"""A DICOM SEG named in an items list: censused, checked and measured as RedBrick stores it.

RedBrick's CLI converts a SEG with ``redbrick upload --dicom-seg`` (``sdk_seg_volume``
reproduces it): segment numbers become the voxel values, on the SEG's own frame span.
Validation reads the SEG as that NIfTI, names what the SDK refuses, and compares its
grid with the image in world space.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pydicom
import pytest

from app.cli import main
from app.items import load_items
from app.readers import census
from app.validate import Code, Severity, validate

DCMQI = "dcmqi/data/segmentations"
HIGHDICOM = "highdicom/data/test_files"


def write_list(tmp_path: Path, series: list[Path], seg: Path | str,
               smap: dict[str, str] | None = None, name: str = "case-1") -> Path:
    path = tmp_path / "items.json"
    path.write_text(json.dumps([{"name": name, "series": [{
        "items": [str(p) for p in series], "segmentations": str(seg),
        "segmentMap": smap or {"1": "liver"}}]}]))
    return path


def codes(found, severity: Severity | None = None) -> set[str]:
    return {f.code.value for f in found if severity is None or f.severity is severity}


@pytest.fixture
def ct3(shared_data: Path) -> tuple[Path, list[Path]]:
    root = shared_data / DCMQI
    return root, sorted((root / "ct-3slice").glob("*.dcm"))


def test_dcmqi_liver_seg_censuses_and_validates_as_redbrick_stores_it(ct3, tmp_path):
    root, series = ct3
    c = census(root / "liver.dcm")
    nrrd = census(root / "liver_seg.nrrd")
    assert c.nonzero == {1: nrrd.nonzero[1]} and c.shape == (512, 512, 3)
    found = validate(load_items(write_list(tmp_path, series, root / "liver.dcm")))
    assert codes(found, Severity.ERROR) == set()
    note = next(f for f in found if f.code == "dicom-seg")
    assert "redbrick upload --dicom-seg" in note.message


def test_mapped_segments_the_seg_lacks_and_unmapped_ones_are_found(ct3, tmp_path):
    root, series = ct3
    found = validate(load_items(write_list(tmp_path, series, root / "liver.dcm",
                                           {"2": "spleen"})))
    assert {Code.MAPPED_VALUE_ABSENT, Code.UNMAPPED_VALUE} <= {f.code for f in found}
    assert next(f for f in found if f.code is Code.MAPPED_VALUE_ABSENT).value == 2


def test_a_seg_with_frames_on_part_of_the_series_is_a_crop_said_plainly(ct3, tmp_path):
    root, series = ct3
    ds = pydicom.dcmread(root / "liver.dcm")  # one frame per slice, bit-packed 512x512
    size = ds.Rows * ds.Columns // 8
    ds.PixelData = ds.PixelData[: 2 * size]
    ds.PerFrameFunctionalGroupsSequence = ds.PerFrameFunctionalGroupsSequence[:2]
    ds.NumberOfFrames = 2
    ds.save_as(tmp_path / "two.dcm")
    assert census(tmp_path / "two.dcm").shape == (512, 512, 2)  # the SDK's frame span
    found = validate(load_items(write_list(tmp_path, series, tmp_path / "two.dcm")))
    crop = next(f for f in found if f.code is Code.GRID_CROP)
    assert crop.severity is Severity.ERROR
    assert "span of its frames" in crop.message and "2 of the image's 3 slices" in crop.message


def test_highdicom_binary_segs_are_taken_and_the_refused_ones_say_why(shared_data, tmp_path):
    root = shared_data / HIGHDICOM
    image = [root / "ct_image.dcm"]
    ok = validate(load_items(write_list(tmp_path, image,
                                        root / "seg_image_ct_binary_single_frame.dcm")))
    assert codes(ok, Severity.ERROR) == set() and Code.DICOM_SEG in {f.code for f in ok}
    # Accepted by the SDK, but drawn on another CT series: its grid is not this image's.
    other = validate(load_items(write_list(tmp_path, image, root / "seg_image_ct_binary.dcm")))
    assert Code.DICOM_SEG_REFUSED not in {f.code for f in other}
    assert Code.GRID_MISMATCH in {f.code for f in other}
    for name, why in [("seg_image_ct_binary_overlap.dcm", "overlap"),
                      ("seg_image_ct_binary_fractional.dcm", "FRACTIONAL")]:
        found = validate(load_items(write_list(tmp_path, image, root / name)))
        refused = [f for f in found if f.code == "dicom-seg-refused"]
        assert len(refused) == 1 and refused[0].severity is Severity.ERROR
        assert why in refused[0].message and "--dicom-seg" in refused[0].message
        assert Code.MERGE_FAILED not in {f.code for f in found}


def test_a_label_map_seg_is_refused(ct3, tmp_path, shared_data):
    root, series = ct3
    found = validate(load_items(write_list(tmp_path, series,
                                           root / "sparse-labelmap-ppv5.dcm")))
    refused = next(f for f in found if f.code == "dicom-seg-refused")
    assert "label-map" in refused.message and "BINARY SEG" in refused.message


def test_a_truncated_seg_is_a_finding_and_a_clear_cli_error(ct3, tmp_path, capsys):
    root, series = ct3
    data = (root / "liver.dcm").read_bytes()
    (tmp_path / "cut.dcm").write_bytes(data[: len(data) - 20000])
    items_path = write_list(tmp_path, series, tmp_path / "cut.dcm")
    found = validate(load_items(items_path))
    corrupt = next(f for f in found if f.code is Code.FILE_CORRUPT)
    assert "cut.dcm" in corrupt.message and "Traceback" not in corrupt.message
    for argv in (["validate", str(items_path)], ["census", str(tmp_path / "cut.dcm")],
                 ["merge", str(items_path), "--task", "case-1"]):
        capsys.readouterr()
        assert main(argv) != 0
        err = capsys.readouterr().err
        assert "Traceback" not in err
        if argv[0] != "validate":
            assert "Cannot read the DICOM SEG" in err


def test_seg_and_nifti_masks_in_one_list_are_a_warning(ct3, tmp_path):
    root, series = ct3
    shutil.copyfile(root / "liver_seg.nrrd", tmp_path / "liver_seg.nrrd")
    path = tmp_path / "items.json"
    path.write_text(json.dumps([
        {"name": n, "series": [{"items": [str(p) for p in series], "segmentations": seg,
                                "segmentMap": {"1": "liver"}}]}
        for n, seg in [("seg", str(root / "liver.dcm")), ("nrrd", "liver_seg.nrrd")]]))
    found = validate(load_items(path))
    mixed = [f for f in found if f.code == "dicom-seg-mixed"]
    assert len(mixed) == 1 and mixed[0].task is None


def test_binary_mask_with_a_seg_is_an_error(ct3, tmp_path):
    root, series = ct3
    seg = str(root / "liver.dcm")
    path = tmp_path / "items.json"
    path.write_text(json.dumps([{"name": "b", "series": [{
        "items": [str(p) for p in series], "segmentations": seg, "binaryMask": True,
        "segmentMap": {"1": {"category": "liver", "mask": seg}}}]}]))
    found = validate(load_items(path))
    binary = [f for f in found if f.code == "dicom-seg-binary"]
    assert len(binary) == 1 and binary[0].severity is Severity.ERROR
    assert "segment numbers" in binary[0].message
