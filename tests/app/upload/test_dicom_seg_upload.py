"""A DICOM SEG in an items list goes up as RedBrick's CLI sends it with --dicom-seg.

The SDK converts the SEG to NIfTI locally (``convert_dicom_seg_to_nii``) and uploads
that; Segmap's upload converts it the same way (``sdk_seg_volume``: values unchanged,
segmentMap unchanged), in memory, and never touches the user's file.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from app.items import load_items
from app.progress import run
from app.readers import sdk_seg_volume
from app.upload import Destination, TaskState, UploadBlocked, UploadOptions, upload

from ..rb_server import ORG, PROJECT, RBServer
from .test_upload_e2e import decode_nifti, fast_client

DCMQI = "dcmqi/data/segmentations"
HIGHDICOM = "highdicom/data/test_files"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _list(tmp_path: Path, series: list[str], seg: str, smap: dict[str, str]) -> Path:
    path = tmp_path / "items.json"
    path.write_text(json.dumps([{"name": "case-1", "series": [
        {"items": series, "segmentations": seg, "segmentMap": smap}]}]))
    return path


def _upload(server: RBServer, items_path: Path, **options):
    items = load_items(items_path)
    return run(upload(items, Destination(server.url, ORG, PROJECT),
                      options=UploadOptions(**options), client=fast_client(server)))


def test_a_seg_goes_up_as_the_sdks_nifti_and_stays_as_it_was(rb, tmp_path, shared_data):
    root = shared_data / DCMQI
    seg = tmp_path / "liver.dcm"  # a copy: the SDK deletes what it converts; Segmap must not
    shutil.copyfile(root / "liver.dcm", seg)
    before = _sha(seg)
    series = [str(p) for p in sorted((root / "ct-3slice").glob("*.dcm"))]
    report = _upload(rb, _list(tmp_path, series, "liver.dcm", {"1": "liver"}))
    assert report.ok and [t.state for t in report.tasks] == [TaskState.CREATED], report.tasks
    assert rb.violations == []
    assert seg.is_file() and _sha(seg) == before
    assert not list(tmp_path.rglob("*.nii*"))  # converted in memory: nothing written beside it
    created = rb.variables("createDatapointSDK")[0]
    uploaded = decode_nifti(rb.blob(created["labelsMap"][0]["labelName"]))
    expected = sdk_seg_volume(seg)
    assert np.array_equal(np.asanyarray(uploaded.dataobj), np.asanyarray(expected.dataobj))
    assert np.allclose(uploaded.affine, expected.affine)
    # RedBrick is shown the name the SDK gives its conversion, as with `--dicom-seg`.
    shown = json.loads(rb.variables("validateAndConvertToImportFormatSDK")[0]["original"])
    assert shown[0]["series"][0]["segmentations"] == "liver.nii.gz"
    assert any("DICOM SEG" in n for n in report.notes)
    labels = json.loads(created["labelsData"])
    assert [(lab["category"], lab["dicom"]["instanceid"]) for lab in labels] == [("liver", 1)]
    # The SEG itself never goes up: only the images and the converted labels.
    assert not any(b.body == seg.read_bytes() for b in rb.blobs.values())


def test_a_seg_the_sdk_refuses_blocks_the_upload(rb, tmp_path, shared_data):
    root = shared_data / HIGHDICOM
    path = _list(tmp_path, [str(root / "ct_image.dcm")],
                 str(root / "seg_image_ct_binary_fractional.dcm"), {"1": "liver"})
    with pytest.raises(UploadBlocked) as err:
        _upload(rb, path, validate=True)
    assert any(f.code == "dicom-seg-refused" for f in err.value.findings)
    assert "createDatapointSDK" not in rb.ops()
