"""Standard labels out: a case as a DICOM SEG of its series, its label table for Slicer and
ITK-SNAP, and all of them read back into Segmap with the same voxels, names and codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.export import Code, read_itksnap_labels, read_slicer_colour_table
from app.geometry import align_to_image, compare_grids
from app.progress import run
from app.readers import read_nrrd
from app.readers.dicom._seg import read_seg, seg_header
from app.session import export_standard_labels, open_items

ORGANS = {"liver": 1, "spine": 2, "heart": 3}
CODES = {"liver": "10200004", "spine": "421060004", "heart": "80891009"}


@pytest.fixture
def ct3(shared_data, tmp_path) -> tuple[Path, Path]:
    """dcmqi's 3-slice CT with its liver, spine and heart NRRD label maps, as one task."""
    seg = shared_data / "dcmqi" / "data" / "segmentations"
    files = sorted(str(p) for p in (seg / "ct-3slice").iterdir())
    items = [{"name": "ct 3/slice", "series": [{
        "items": files, "segmentations": [str(seg / f"{o}_seg.nrrd") for o in ORGANS],
        "segmentMap": {str(v): o for o, v in ORGANS.items()}}]}]
    path = tmp_path / "items.json"
    path.write_text(json.dumps(items))
    return path, seg


@pytest.mark.shared_data
def test_a_case_round_trips_through_dicom_seg_and_both_label_tables(ct3, tmp_path):
    items, seg = ct3
    session = run(open_items(items))
    out = run(export_standard_labels(session, tmp_path / "out"))
    assert out.skipped == []
    (dcm,) = out.segs
    assert dcm.name == "ct_3_slice.dcm"  # a file name from the case name

    # The SEG references the series and reads back to the very voxels of each NRRD.
    header = seg_header(dcm)
    series = sorted((seg / "ct-3slice").iterdir())
    import pydicom
    assert header.referenced_series_uids == (pydicom.dcmread(series[0]).SeriesInstanceUID,)
    masks = read_seg(dcm, series)
    by_label = {s.label: s for s in masks.segments}
    assert set(by_label) == set(ORGANS)
    for organ, number in ORGANS.items():
        raw, grid = read_nrrd(seg / f"{organ}_seg.nrrd")
        want = align_to_image(raw, compare_grids(masks.grid, grid)) != 0
        assert np.array_equal(masks.mask(by_label[organ].number), want), organ
        assert by_label[organ].type == Code("SCT", CODES[organ], organ.title())

    # Both tables give back the values, names and colours the wizard shows.
    colours = dict(session.colours(session.cases[0]))
    csv, txt = (p for p in out.tables)
    for rows in (read_slicer_colour_table(csv), read_itksnap_labels(txt)):
        got = {r.value: (r.name, r.rgb) for r in rows if r.value}
        assert got == {v: (o, tuple(colours[v])) for o, v in ORGANS.items()}
    slicer = {r.value: r.code for r in read_slicer_colour_table(csv)}
    assert slicer[1] is not None and slicer[1].type.value == "10200004"


@pytest.mark.shared_data
def test_cli_export_writes_them_beside_the_items_list(ct3, tmp_path):
    items, _ = ct3
    out = tmp_path / "o" / "items.json"
    done = subprocess.run([sys.executable, "-m", "app.cli", "export", str(items), "-o", str(out),
                           "--dicom-seg", "--colour-table", "--json", "-q"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)["standard_labels"]
    assert [Path(p).name for p in summary["dicom_seg"]] == ["ct_3_slice.dcm"]
    assert sorted(Path(p).name for p in summary["label_tables"]) == [
        "ct_3_slice.csv", "ct_3_slice.label.txt"]
    assert (out.parent / "dicom-seg" / "ct_3_slice.dcm").is_file()


def test_a_nifti_case_gets_its_tables_and_says_why_it_has_no_seg(tmp_path):
    import nibabel as nib

    labels = np.zeros((8, 8, 4), np.uint8)
    labels[2:5, 2:5, 1:3] = 1
    labels[6, 6, 0] = 2
    for name, data in (("ct.nii.gz", labels.astype(np.int16) * 40), ("seg.nii.gz", labels)):
        nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / name)
    items = tmp_path / "items.json"
    items.write_text(json.dumps([{"name": "nifti", "series": [{
        "items": "ct.nii.gz", "segmentations": "seg.nii.gz",
        "segmentMap": {"1": "liver", "2": "spleen"}}]}]))
    out = run(export_standard_labels(run(open_items(items)), tmp_path / "out"))
    assert out.segs == []
    assert out.skipped == ["nifti: a DICOM SEG needs a DICOM image series; this case's image "
                           "is not one"]
    rows = read_slicer_colour_table(tmp_path / "out" / "labels" / "nifti.csv")
    assert [(r.value, r.name) for r in rows] == [(1, "liver"), (2, "spleen")]


def test_sources_are_never_replaced(demo_dataset, tmp_path):
    """An output beside the sources that is one of them is refused, not overwritten."""
    session = run(open_items(demo_dataset.items_json))
    before = {p: p.read_bytes() for p in demo_dataset.root.rglob("*") if p.is_file()}
    run(export_standard_labels(session, demo_dataset.root, dicom_seg=False))
    after = {p: p.read_bytes() for p in before}
    assert before == after


@pytest.mark.shared_data
def test_an_exported_seg_scans_back_into_the_same_labels_and_codes(ct3, tmp_path):
    """Out and back in: the SEG Segmap writes, scanned beside its series, gives a case of
    the same three structures, the same voxels, named and coded as they were."""
    import shutil

    from app.discover import derived_info
    from app.session import open_folder

    items, seg = ct3
    out = run(export_standard_labels(run(open_items(items)), tmp_path / "out", tables=False))
    folder = tmp_path / "again"
    shutil.copytree(seg / "ct-3slice", folder / "ct")
    (folder / "seg").mkdir()
    shutil.copy(out.segs[0], folder / "seg" / "labels.dcm")
    session = run(open_folder(folder))
    (case,) = session.cases
    rows = {str(r.category).lower(): r for r in session.rows(case) if r.category is not None}
    assert set(rows) == set(ORGANS)
    for organ, row in rows.items():
        raw, grid = read_nrrd(seg / f"{organ}_seg.nrrd")
        assert row.voxels == int(np.count_nonzero(raw)), organ
        assert session.code_of(case, row.category, row.files).code.type.value == CODES[organ]
        assert derived_info(row.files[0]).name == organ
