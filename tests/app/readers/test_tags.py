"""A few DICOM header values by keyword: text, headers only, never an exception."""

from __future__ import annotations

import os

from app.readers import dicom_tags


def test_values_by_keyword_and_nothing_for_what_is_not_there(demo_dataset):
    first = sorted(demo_dataset.dicom_dir.iterdir())[0]
    tags = dicom_tags(first, ["PatientID", "Modality", "AccessionNumber", "NoSuchKeyword"])
    assert tags["PatientID"] == "SEGMAP-DEMO-001" and tags["Modality"] == "CT"
    assert "NoSuchKeyword" not in tags


def test_a_file_that_is_no_dicom_or_no_file_gives_no_values(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a DICOM file")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # refused by what it is, never opened blocking
    for path in (text, fifo, tmp_path / "missing.dcm", tmp_path):
        assert dicom_tags(path, ["PatientID"]) == {}
