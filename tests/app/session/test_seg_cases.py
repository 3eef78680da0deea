"""A case made from a DICOM SEG keeps what the SEG says of each segment: its colour in the
preview and the report, and its coded concept as the category's code (not a guess)."""

from __future__ import annotations

import shutil

import pytest

from app.progress import run
from app.session import open_folder


@pytest.fixture
def seg_folder(shared_data, tmp_path):
    seg = shared_data / "dcmqi" / "data" / "segmentations"
    shutil.copytree(seg / "ct-3slice", tmp_path / "p1" / "ct")
    (tmp_path / "p1" / "seg").mkdir()
    for name in ("liver.dcm", "partial_overlaps.dcm"):
        shutil.copy(seg / name, tmp_path / "p1" / "seg" / name)
    return tmp_path


@pytest.mark.shared_data
def test_segments_keep_the_seg_colours_and_codes(seg_folder):
    import pydicom

    session = run(open_folder(seg_folder))
    by_name = {c.name: c for c in session.cases}
    liver = by_name["p1-liver"]
    (row,) = [r for r in session.rows(liver) if r.category is not None]
    choice = session.code_of(liver, row.category, row.files)
    ds = pydicom.dcmread(seg_folder / "p1" / "seg" / "liver.dcm", stop_before_pixels=True)
    want = ds.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0].CodeValue
    assert choice.confirmed and choice.origin == "liver.dcm"
    assert choice.code is not None and choice.code.type.value == want
    # partial_overlaps names its segments by colour: each is drawn in the SEG's colour
    from app.discover import derived_info
    from app.readers.dicom._seg import seg_header

    overlaps = by_name["p1-partial_overlaps"]
    rgb = {s.label: s.rgb for s in seg_header(seg_folder / "p1" / "seg" /
                                              "partial_overlaps.dcm").segments}
    rows = [r for r in session.rows(overlaps) if r.category is not None]
    assert len(rows) == 5
    for row in rows:
        segment = derived_info(row.files[0]).name
        assert session.colour(row) == rgb[segment], (row.category, segment)
    r, g, b = rgb["DARK_BLUE"]
    assert b > r and b > g


@pytest.mark.shared_data
def test_a_seg_kept_as_it_is_gives_its_segments_colour_and_code(shared_data, tmp_path):
    import pydicom

    seg = shared_data / "dcmqi" / "data" / "segmentations"
    shutil.copytree(seg / "ct-3slice", tmp_path / "ct")
    shutil.copy(seg / "liver.dcm", tmp_path / "liver.dcm")
    session = run(open_folder(tmp_path))
    (case,) = session.cases
    assert not case.binary and case.masks == [tmp_path / "liver.dcm"]
    (row,) = [r for r in session.rows(case) if r.category is not None]
    assert row.value == 1 and str(row.category) == "Liver"
    ds = pydicom.dcmread(tmp_path / "liver.dcm", stop_before_pixels=True)
    want = ds.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0].CodeValue
    choice = session.code_of(case, row.category, row.files, row.value)
    assert choice.confirmed and choice.origin == "liver.dcm" and choice.code.type.value == want
    from app.readers.dicom._seg import seg_header

    assert session.colour(row) == seg_header(tmp_path / "liver.dcm").segments[0].rgb


@pytest.mark.shared_data
def test_a_list_of_seg_masks_says_to_upload_it_with_dicom_seg(shared_data, tmp_path):
    """RedBrick's CLI reads a SEG mask only with --dicom-seg: the export says the command
    that works (the CLI and the Export page print ``upload_command``)."""
    seg = shared_data / "dcmqi" / "data" / "segmentations"
    shutil.copytree(seg / "ct-3slice", tmp_path / "src" / "ct")
    shutil.copy(seg / "liver.dcm", tmp_path / "src" / "liver.dcm")
    session = run(open_folder(tmp_path / "src"))
    summary = session.export(tmp_path / "out" / "items.json")
    assert summary.dicom_seg and summary.upload_command == "redbrick upload --dicom-seg items.json"


def test_a_list_of_nifti_masks_uploads_without_a_flag(demo_dataset, tmp_path):
    from app.session import open_items

    summary = run(open_items(demo_dataset.items_json)).export(tmp_path / "o" / "items.json")
    assert not summary.dicom_seg and summary.upload_command == "redbrick upload items.json"


@pytest.mark.shared_data
def test_a_segment_with_a_placeholder_label_is_mapped_by_its_code(shared_data, tmp_path):
    """ "Segment 1" says nothing; its coded concept (SNOMED CT Liver) names the taxonomy's
    Liver, whether the SEG is kept as it is or converted."""
    import json

    import numpy as np

    from app.export import SegmentSpec, write_dicom_seg
    from app.items import load_taxonomy
    from app.mapping import suggest_code
    from app.readers import read_nrrd

    seg = shared_data / "dcmqi" / "data" / "segmentations"
    series = sorted((seg / "ct-3slice").iterdir())
    raw, grid = read_nrrd(seg / "liver_seg.nrrd")
    liver = suggest_code("liver").code
    shutil.copytree(seg / "ct-3slice", tmp_path / "src" / "ct")
    write_dicom_seg(tmp_path / "src" / "seg.dcm", series, (np.asarray(raw) != 0).astype(np.uint8),
                    [SegmentSpec(1, "Segment 1", liver.category, liver.type)], kind="BINARY",
                    grid=grid)
    tax = tmp_path / "tax.json"
    tax.write_text(json.dumps({"name": "t", "objectTypes": [
        {"category": "Spleen", "classId": 0, "labelType": "SEGMENTATION"},
        {"category": "Liver", "classId": 1, "labelType": "SEGMENTATION"}]}))
    session = run(open_folder(tmp_path / "src", load_taxonomy(tax)))
    (case,) = session.cases
    assert case.masks == [tmp_path / "src" / "seg.dcm"]  # kept as it is
    (row,) = [r for r in session.rows(case) if r.label_value == 1]
    assert row.category == "Liver"
    assert row.suggestion is not None and "DICOM segment codes" in row.suggestion.source
    # beside a NIfTI case every DICOM mask is converted: the code still names it
    from tests.app.discover.test_dicom_masks import _with_a_nifti_mask

    session = run(open_folder(_with_a_nifti_mask(tmp_path / "src"), load_taxonomy(tax)))
    case = next(c for c in session.cases if c.binary)
    (row,) = [r for r in session.rows(case) if r.files]
    assert row.category == "Liver" and "DICOM segment codes" in row.suggestion.source
