"""DICOM files without ``.dcm`` go up under ``.dcm`` names, as if they had been renamed.

RedBrick's SDK refuses ``CT.1.3...300000`` ('Unsupported file type 300000!') and takes
the same file named ``CT.1.3...300000.dcm`` as ``application/dicom``. Segmap shows
RedBrick the list with those names (its validation, the presign, the MIME type) and
sends the files' bytes; the user's files keep their names.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from redbrick.utils.files import get_file_type

from app.items import load_items
from app.progress import run
from app.upload import Destination, UploadBlocked, UploadOptions, upload

from ..dicom_synth import write_slice
from ..rb_server import ORG, PROJECT, make_items
from .test_upload_e2e import fast_client

UIDS = [f"CT.1.2.826.0.1.3680043.8.498.{1000 + k}" for k in range(3)]


def fake_dicom(path: Path, k: int) -> Path:
    """A real one-slice CT (validation refuses DICOM without an image since issue 16)."""
    return write_slice(path, series_uid="1.2.826.0.1.3680043.8.498.1", position=(0, 0, k),
                       instance=k + 1)


def with_images(tmp_path: Path, names: list[str], task_name: bool = True) -> Path:
    items_path = make_items(tmp_path, 1)
    tasks = json.loads(items_path.read_text())
    # Only the images matter here: the case's mask is on another grid than these slices.
    tasks[0]["series"][0] = {"items": [f"pacs/{fake_dicom(tmp_path / 'pacs' / n, k).name}"
                                       for k, n in enumerate(names)]}
    if not task_name:
        del tasks[0]["name"]
    items_path.write_text(json.dumps(tasks))
    return items_path


def go(rb, items_path: Path, **options):
    items = load_items(items_path)
    return run(upload(items, Destination(rb.url, ORG, PROJECT), options=UploadOptions(**options),
                      client=fast_client(rb)))


def test_extension_less_dicom_goes_up_under_dcm_names(rb, tmp_path):
    names = [*UIDS, "IM0001", "slice.dcm"]  # no dot and .dcm are accepted as they are
    items_path = with_images(tmp_path, names)
    before = sorted(p.name for p in (tmp_path / "pacs").iterdir())
    report = go(rb, items_path, validate=True)  # Segmap's validation does not block them
    assert report.ok, [t.error for t in report.tasks]
    assert any(".dcm" in n for n in report.notes)
    (presign,) = rb.variables("itemsUploadPresignSDK")
    assert presign["files"] == [f"{u}.dcm" for u in UIDS] + ["IM0001", "slice.dcm"]
    for name, ftype in zip(presign["files"], presign["fileType"], strict=True):
        assert get_file_type(name)[1] == ftype == "application/dicom"  # the SDK's own rule
    # RedBrick validated the list as if the files were renamed.
    (checked,) = rb.variables("validateAndConvertToImportFormatSDK")
    shown = json.loads(checked["original"])[0]["series"][0]["items"]
    assert shown == [f"pacs/{u}.dcm" for u in UIDS] + ["pacs/IM0001", "pacs/slice.dcm"]
    (created,) = rb.variables("createDatapointSDK")
    assert [rb.blob(p) for p in created["items"]] == [
        (tmp_path / "pacs" / n).read_bytes() for n in names]
    assert created["name"] == "case-000-I"
    assert sorted(p.name for p in (tmp_path / "pacs").iterdir()) == before
    assert rb.violations == []


def test_a_task_named_by_its_first_item_keeps_that_name(rb, tmp_path):
    items_path = with_images(tmp_path, UIDS, task_name=False)
    report = go(rb, items_path)
    assert report.ok and report.tasks[0].name == f"pacs/{UIDS[0]}"
    assert list(rb.datapoints) == [f"pacs/{UIDS[0]}"]  # as the list names it, not .dcm


def test_a_refused_file_that_is_not_dicom_still_blocks(rb, tmp_path):
    items_path = with_images(tmp_path, UIDS)
    tasks = json.loads(items_path.read_text())
    (tmp_path / "pacs" / "scan.mha").write_bytes(b"ObjectType = Image\n")
    tasks[0]["series"][0]["items"].append("pacs/scan.mha")
    items_path.write_text(json.dumps(tasks))
    with pytest.raises(UploadBlocked) as err:
        go(rb, items_path, validate=True)
    assert [f.code for f in err.value.findings] == ["image-type-unsupported"]
    assert rb.variables("itemsUploadPresignSDK") == []


def test_totalsegmentator_ct_goes_up(rb, tmp_path, shared_data):
    """The real thing: TotalSegmentator's CT as a PACS exports it, with its segmentation."""
    ref = shared_data / "totalsegmentator" / "tests" / "reference_files"
    files = sorted((ref / "example_ct_dicom").iterdir())
    (tmp_path / "items.json").write_text(json.dumps([{"name": "ts", "series": [{
        "items": [str(f) for f in files], "segmentations": str(ref / "example_seg_dicom.nii.gz"),
        "segmentMap": {"1": "spleen"}}]}]))
    report = go(rb, tmp_path / "items.json", validate=True)
    assert report.ok, [t.error for t in report.tasks]
    (presign,) = rb.variables("itemsUploadPresignSDK")
    assert presign["files"] == [f"{f.name}.dcm" for f in files]
    assert {get_file_type(n)[1] for n in presign["files"]} == {"application/dicom"}
    (created,) = rb.variables("createDatapointSDK")
    assert [rb.blob(p) for p in created["items"]] == [f.read_bytes() for f in files]
