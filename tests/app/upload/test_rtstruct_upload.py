"""An RTSTRUCT series goes up as RedBrick's CLI sends it with --rt-struct.

The SDK fills the contours with rt-utils (``convert_rt_struct_to_nii_labels``) into one
label map valued in segmentMap order and uploads that; Segmap's upload sends the same
volume, from its cache, and never touches the structure set. The oracle is the SDK's own
``create_datapoints(rt_struct=True)`` against a second test server.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from app.items import load_items
from app.progress import run
from app.upload import Destination, TaskState, UploadOptions, upload
from tests.app.rt_synth import write_rt_list

from ..rb_server import ORG, PROJECT, RBServer
from .test_upload_e2e import _normalise, decode_nifti, fast_client, sdk_create_datapoints


def _rt_list(tmp_path: Path) -> Path:
    path = write_rt_list(tmp_path / "user")
    data = json.loads(path.read_text())
    data[0]["series"][0]["segmentMap"] = {"Cord": "category-b", "Liver": "category-a"}
    path.write_text(json.dumps(data))
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_structure_set_goes_up_as_the_sdks_label_map(rb: RBServer, tmp_path: Path) -> None:
    path = _rt_list(tmp_path)
    rs = path.parent / "rt" / "rs.dcm"
    before = _sha(rs)
    report = run(upload(load_items(path), Destination(rb.url, ORG, PROJECT),
                        options=UploadOptions(), client=fast_client(rb)))
    assert report.ok and [t.state for t in report.tasks] == [TaskState.CREATED], report.tasks
    assert any("--rt-struct" in n for n in report.notes)
    assert _sha(rs) == before and not list(path.parent.rglob("*.nii*"))
    created = rb.variables("createDatapointSDK")[0]
    labels = json.loads(created["labelsData"])
    assert [(lab["category"], lab["dicom"]["instanceid"]) for lab in labels] == [
        ("category-b", 1), ("category-a", 2)]  # the SDK numbers ROIs in segmentMap order
    stored = decode_nifti(rb.blob(created["labelsMap"][0]["labelName"]))
    assert sorted(int(v) for v in set(stored.get_fdata().ravel())) == [0, 1, 2]


@pytest.mark.oracle
def test_what_goes_up_is_what_the_sdk_sends(tmp_path: Path) -> None:
    path = _rt_list(tmp_path)
    ours, theirs = RBServer().start(), RBServer().start()
    try:
        report = run(upload(load_items(path), Destination(ours.url, ORG, PROJECT),
                            options=UploadOptions(), client=fast_client(ours)))
        assert report.ok
        out = sdk_create_datapoints(theirs, path, rt_struct=True)
        assert all("response" in o for o in out), out
        mine = [_normalise(ours, v) for v in ours.variables("createDatapointSDK")]
        sdk = [_normalise(theirs, v) for v in theirs.variables("createDatapointSDK")]
        assert mine == sdk
    finally:
        ours.stop()
        theirs.stop()


@pytest.mark.shared_data
@pytest.mark.oracle
def test_a_real_ct_folder_kept_as_rtstruct_goes_up_as_the_sdk_sends_it(
        shared_data: Path, tmp_path: Path) -> None:
    """TotalSegmentator's real CT with four of its organs as an rt-utils structure set: the
    scan keeps it as it is, build keys it by ROI name, and the upload equals the SDK's."""
    from app.discover import scan
    from app.mapping import build
    from app.validate import validate
    from tests.app.rt_synth import write_real_ct_rt

    folder = tmp_path / "patient"
    organs = write_real_ct_rt(shared_data, folder)
    assert len(organs) >= 2
    result = run(scan(folder))
    (case,) = result.cases
    assert case.masks == [folder / "rt" / "organs.dcm"] and result.derived[0].native
    built = run(build(result, tmp_path / "out" / "items.json"))
    items_path = built.output
    smap = json.loads(items_path.read_text())[0]["series"][0]["segmentMap"]
    assert list(smap) == list(organs)
    data = json.loads(items_path.read_text())  # the test server's taxonomy's categories
    data[0]["series"][0]["segmentMap"] = {n: ("spleen" if n == "spleen" else "liver"
                                              if n == "liver" else "category-a")
                                          for n in organs}
    items_path.write_text(json.dumps(data))
    assert not [f for f in validate(load_items(items_path)) if f.severity == "error"]
    ours, theirs = RBServer().start(), RBServer().start()
    try:
        report = run(upload(load_items(items_path), Destination(ours.url, ORG, PROJECT),
                            options=UploadOptions(), client=fast_client(ours)))
        assert report.ok, report.tasks
        out = sdk_create_datapoints(theirs, items_path, rt_struct=True)
        assert all("response" in o for o in out), out
        assert [_normalise(ours, v) for v in ours.variables("createDatapointSDK")] == \
            [_normalise(theirs, v) for v in theirs.variables("createDatapointSDK")]
    finally:
        ours.stop()
        theirs.stop()

