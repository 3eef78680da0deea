"""The Cases page says what export and upload do with DICOM masks: a SEG kept as it is needs
RedBrick's --dicom-seg, a mask converted from one is copied beside the list."""

from __future__ import annotations

import shutil

import pytest

from app.progress import run
from app.session import open_folder
from ui.cases_model import DERIVED_NOTE, SEG_NOTE, export_notes, mask_note


@pytest.mark.shared_data
def test_a_seg_kept_as_it_is_and_a_converted_one_are_told_apart(shared_data, tmp_path):
    seg = shared_data / "dcmqi" / "data" / "segmentations"
    shutil.copytree(seg / "ct-3slice", tmp_path / "a" / "ct")
    shutil.copy(seg / "liver.dcm", tmp_path / "a" / "liver.dcm")
    (case,) = run(open_folder(tmp_path / "a")).cases
    assert mask_note(case.masks[0]) == SEG_NOTE
    short, full = export_notes(case)
    assert "1 DICOM SEG" in short and "--dicom-seg" in full[0]
    shutil.copytree(seg / "ct-3slice", tmp_path / "b" / "ct")
    shutil.copy(seg / "partial_overlaps.dcm", tmp_path / "b" / "overlaps.dcm")  # refused
    (case,) = run(open_folder(tmp_path / "b")).cases
    assert {mask_note(m) for m in case.masks} == {DERIVED_NOTE}
    assert "DICOM SEG" not in export_notes(case)[0]
