"""A list holding DICOM SEG masks and other masks is exported with each SEG as the NIfTI
RedBrick's --dicom-seg makes of it: the same values, so the segmentMap holds, and a list
RedBrick's CLI uploads in one run. A list of SEG masks only keeps them as they are."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from app.export import export_items
from app.items import load_items
from app.readers import nifti_info, read_raw, seg_as_nifti
from app.validate import validate


@pytest.fixture
def lists(shared_data, tmp_path):
    seg = shared_data / "dcmqi" / "data" / "segmentations"
    shutil.copytree(seg / "ct-3slice", tmp_path / "ct")
    shutil.copy(seg / "liver.dcm", tmp_path / "liver.dcm")
    shutil.copy(seg / "spine_seg.nrrd", tmp_path / "spine.nrrd")
    files = sorted(str(p) for p in (tmp_path / "ct").iterdir())
    seg_task = {"name": "seg", "series": [{"items": files, "segmentations": "liver.dcm",
                                           "segmentMap": {"1": "liver"}}]}
    nrrd_task = {"name": "nrrd", "series": [{"items": files, "segmentations": "spine.nrrd",
                                             "segmentMap": {"2": "spine"}}]}
    mixed, only = tmp_path / "mixed.json", tmp_path / "only.json"
    mixed.write_text(json.dumps([seg_task, nrrd_task]))
    only.write_text(json.dumps([seg_task]))
    return mixed, only


@pytest.mark.shared_data
def test_a_mixed_list_writes_its_segs_as_the_dicom_seg_nifti(lists, tmp_path):
    mixed, _ = lists
    before = (tmp_path / "liver.dcm").read_bytes()
    summary = export_items(load_items(mixed), tmp_path / "out" / "items.json")
    assert not summary.dicom_seg and summary.upload_command == "redbrick upload items.json"
    (seg,) = [c for c in summary.converted if c.dicom_seg]
    assert "as the NIfTI RedBrick's --dicom-seg makes" in summary.converted_text()
    out = load_items(summary.path)
    written = out.resolve(out.tasks[0].series[0].segmentation_paths[0])
    assert written == seg.target and written.name == "liver.nii.gz"
    want = np.asarray(seg_as_nifti(tmp_path / "liver.dcm").dataobj)
    np.testing.assert_array_equal(read_raw(nifti_info(written)), want)
    codes = {str(f.code) for f in validate(out)}
    assert "dicom-seg-mixed" not in codes and "dicom-seg" not in codes
    assert (tmp_path / "liver.dcm").read_bytes() == before


@pytest.mark.shared_data
def test_a_list_of_seg_masks_only_keeps_them(lists, tmp_path):
    _, only = lists
    summary = export_items(load_items(only), tmp_path / "out" / "items.json")
    assert summary.dicom_seg and not summary.converted
    assert "--dicom-seg" in summary.upload_command
