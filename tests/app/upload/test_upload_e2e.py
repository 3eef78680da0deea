"""End to end against a RedBrick-protocol server: the guide's cases I, II and III.

What a user relies on: the label volume RedBrick receives is the core merge
(overlap groups included), and the createDatapoint variables are what
redbrick-sdk 2.35.4 sends for the same items list to the same server.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any
from unittest.mock import patch

import nibabel as nib
import numpy as np
import pytest

from app.items import load_items
from app.merge import merge_series
from app.progress import run
from app.upload import (
    Destination,
    RedBrickClient,
    RetryPolicy,
    TaskState,
    Timeouts,
    UploadBlocked,
    UploadOptions,
    upload,
)
from app.upload._protocol import get_project

from ..rb_server import API_KEY, ORG, PROJECT, RBServer, make_items


def fast_client(server: RBServer, key: str = API_KEY, attempts: int = 8) -> RedBrickClient:
    return RedBrickClient(key, server.url, retry=RetryPolicy(attempts, 0.001, 0.01),
                          timeouts=Timeouts(api=(2, 5), put=(2, 5)))


def segmap_upload(server: RBServer, items_path: Path, **options):
    """Upload with short retries; Segmap's own validation is tested on its own."""
    options.setdefault("validate", False)
    items = load_items(items_path)
    report = run(upload(items, Destination(server.url, ORG, PROJECT),
                        options=UploadOptions(**options), client=fast_client(server)))
    return items, report


def decode_nifti(data: bytes) -> nib.Nifti1Image:
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return nib.Nifti1Image.from_bytes(data)


def test_guide_cases_upload_the_core_merge(rb, tmp_path):
    items_path = make_items(tmp_path, 3)
    items, report = segmap_upload(rb, items_path)
    assert report.ok and [t.state for t in report.tasks] == [TaskState.CREATED] * 3
    assert rb.violations == []
    created = {v["name"]: v for v in rb.variables("createDatapointSDK")}
    for task in items.tasks:
        variables = created[task.name]
        uploaded = decode_nifti(rb.blob(variables["labelsMap"][0]["labelName"]))
        expected = run(merge_series(items, task, 0))
        vol = np.asanyarray(uploaded.dataobj)
        if expected.source is not None:  # case I: the file goes up as it is
            assert rb.blob(variables["labelsMap"][0]["labelName"]) == expected.source.read_bytes()
        assert vol.dtype == expected.volume.dtype
        assert np.array_equal(vol, expected.volume)
        assert np.allclose(uploaded.affine, expected.affine)
        # The labels carry the merge's overlap groups.
        labels = json.loads(variables["labelsData"])
        groups = {lab["dicom"]["instanceid"]: lab["dicom"].get("groupids") for lab in labels}
        assert {k: sorted(v) if v else None for k, v in groups.items()} == {
            k: sorted(v) if v else None for k, v in expected.segments.items()}
        # The image went up byte for byte.
        image = items.resolve(task.series[0].item_paths[0])
        assert rb.blob(variables["items"][0]) == image.read_bytes()
    # Cases II and III overlap: their labels name group 3.
    assert '"groupids":[3]' in created["case-001-II"]["labelsData"]
    assert '"groupids":[3]' in created["case-002-III"]["labelsData"]


def _normalise(server: RBServer, variables: dict) -> dict:
    """Replace RedBrick's random file paths by what was uploaded there."""
    def content(path: str) -> str:
        data = server.blob(path)
        if path.endswith(".nii.gz") and "/labels/" in path:
            img = decode_nifti(data)
            vol = np.asanyarray(img.dataobj)
            return f"labels {vol.dtype} {vol.shape} {hashlib.sha256(vol.tobytes()).hexdigest()}"
        return "file " + hashlib.sha256(data).hexdigest()

    out = json.loads(json.dumps(variables))
    out["items"] = [content(p) for p in out["items"]]
    out["labelsMap"] = [dict(m, labelName=content(m["labelName"])) if m else None
                        for m in out["labelsMap"] or []]
    return out


def sdk_run(server: RBServer, items_path: Path, call: Any) -> Any:
    """``call(project)`` with redbrick-sdk against ``server``, in the list's folder."""
    redbrick = pytest.importorskip("redbrick")
    from redbrick.upload import interact
    from redbrick.utils import nifti
    from redbrick.utils import upload as sdk_upload

    tmp = tempfile.mkdtemp()
    cwd = os.getcwd()
    os.chdir(items_path.parent)  # the SDK resolves relative paths against the cwd
    try:
        with patch.object(nifti, "config_path", return_value=tmp), \
                patch.object(interact, "config_path", return_value=tmp), \
                patch.object(sdk_upload, "config_path", return_value=tmp):
            return call(redbrick.get_project(ORG, PROJECT, API_KEY, url=server.url))
    finally:
        os.chdir(cwd)


def sdk_create_datapoints(server: RBServer, items_path: Path, **kwargs) -> list:
    """Run redbrick-sdk's create_datapoints on the same list against the same server."""
    import redbrick

    return sdk_run(server, items_path, lambda project: project.upload.create_datapoints(
        redbrick.StorageMethod.REDBRICK, json.loads(items_path.read_text()), **kwargs))


@pytest.mark.oracle
def test_create_datapoint_variables_are_the_sdks(tmp_path):
    items_path = make_items(tmp_path, 3)
    tasks = json.loads(items_path.read_text())
    tasks[0].update(priority=0.25, metaData={"site": "A", "age": "61"},
                    preAssign={"Label": ["a@b.org", "c@d.org"]})
    tasks[1]["series"][0]["metaData"] = {"modality": "CT"}
    # A task with two series (volumes 0 and 1 of one task).
    tasks.append({"name": "two-series", "series": tasks[1]["series"] + tasks[2]["series"]})
    items_path.write_text(json.dumps(tasks))
    ours, theirs = RBServer().start(), RBServer().start()
    try:
        _, report = segmap_upload(ours, items_path)
        assert report.ok
        out = sdk_create_datapoints(theirs, items_path)
        assert all("response" in o for o in out), out
        mine = {v["name"]: _normalise(ours, v) for v in ours.variables("createDatapointSDK")}
        sdk = {v["name"]: _normalise(theirs, v) for v in theirs.variables("createDatapointSDK")}
        assert mine == sdk
        assert_same_operations(ours, theirs, [
            "getProjectSDK", "validateAndConvertToImportFormatSDK", "getLabelStorageSDK"])
    finally:
        ours.stop()
        theirs.stop()


def assert_same_operations(ours: RBServer, theirs: RBServer, first: list[str]) -> None:
    """The same operations, the same number of times, starting with ``first`` (tasks then
    run concurrently), with the same GraphQL documents and the same validation requests."""
    assert ours.ops()[:len(first)] == theirs.ops()[:len(first)] == first
    assert Counter(ours.ops()) == Counter(theirs.ops())
    for op in set(ours.ops()):
        assert _tokens(ours.queries[op]) == _tokens(theirs.queries[op]), op
    assert ours.variables("validateAndConvertToImportFormatSDK") == \
        theirs.variables("validateAndConvertToImportFormatSDK")
    assert ours.violations == theirs.violations == []


def _tokens(query: str) -> list[str]:
    return [t for t in re.findall(r"\.\.\.|\$?[A-Za-z_]\w*|[^\s\w]", query) if t != ","]


def test_external_storage_uploads_no_images(rb, tmp_path):
    items_path = make_items(tmp_path, 2)
    storage = "abcdef01-2345-6789-abcd-ef0123456789"
    _, report = segmap_upload(rb, items_path, storage=storage)
    assert report.ok
    assert "itemsUploadPresignSDK" not in rb.ops()
    for v in rb.variables("createDatapointSDK"):
        assert v["storageId"] == storage
        assert v["items"] == [f"{v['name']}/image.nii.gz"]  # storage paths, as written
        assert rb.blob(v["labelsMap"][0]["labelName"])  # merged labels still go up


def test_project_must_be_ready(tmp_path):
    server = RBServer(status="CREATING").start()
    try:
        with pytest.raises(Exception, match="not ready"):
            get_project(fast_client(server), ORG, PROJECT)
    finally:
        server.stop()


def test_dry_run_sends_nothing_but_checks(rb, tmp_path):
    items_path = make_items(tmp_path, 3)
    _, report = segmap_upload(rb, items_path, dry_run=True)
    assert [t.state for t in report.tasks] == [TaskState.READY] * 3
    assert set(rb.ops()) == {"getProjectSDK", "validateAndConvertToImportFormatSDK"}
    assert not (tmp_path / "items.upload-journal.jsonl").exists()


def test_ground_truth_and_task_fields_pass_through(rb, tmp_path):
    items_path = make_items(tmp_path, 1)
    tasks = json.loads(items_path.read_text())
    tasks[0].update(priority=0.7, metaData={"site": "A"}, preAssign={"Label": "a@b.org"})
    items_path.write_text(json.dumps(tasks))
    _, report = segmap_upload(rb, items_path, ground_truth=True)
    assert report.ok
    (v,) = rb.variables("createDatapointSDK")
    assert v["isGroundTruth"] is True and v["priority"] == 0.7
    assert v["metaData"] == '{"site":"A"}' and v["preAssign"] == '{"Label":"a@b.org"}'



def test_segmap_validation_checks_against_the_projects_taxonomy(rb, tmp_path):
    items_path = make_items(tmp_path, 3)
    tasks = json.loads(items_path.read_text())
    tasks[1]["series"][0]["segmentMap"]["2"] = "not-in-the-project"
    items_path.write_text(json.dumps(tasks))
    with pytest.raises(UploadBlocked, match="category 'not-in-the-project' is not in the "
                       "taxonomy 'Test taxonomy'") as err:
        segmap_upload(rb, items_path, validate=True)
    assert [f.code for f in err.value.findings] == ["category-missing"]
    assert rb.ops() == ["getProjectSDK"]
    # Fixed: it goes up, and the overlaps of cases II and III are reported as warnings.
    tasks[1]["series"][0]["segmentMap"]["2"] = "spleen"
    items_path.write_text(json.dumps(tasks))
    _, report = segmap_upload(rb, items_path, validate=True)
    assert report.ok and sum("Overlap of" in w for w in report.warnings) == 2


def test_external_storage_items_are_not_looked_for_locally(rb, tmp_path):
    items_path = make_items(tmp_path, 1)
    tasks = json.loads(items_path.read_text())
    tasks[0]["series"][0]["items"] = "bucket-folder/ct-001.nii.gz"  # a storage path
    items_path.write_text(json.dumps(tasks))
    storage = "abcdef01-2345-6789-abcd-ef0123456789"
    with pytest.raises(UploadBlocked) as err:
        segmap_upload(rb, items_path, validate=True)  # direct upload: the image must be here
    assert [f.code for f in err.value.findings] == ["image-missing"]
    _, report = segmap_upload(rb, items_path, validate=True, storage=storage)
    assert report.ok
    assert rb.variables("createDatapointSDK")[0]["items"] == ["bucket-folder/ct-001.nii.gz"]


def test_dicom_series_upload_every_instance_in_order(rb, tmp_path):
    items_path = make_items(tmp_path, 1)
    tasks = json.loads(items_path.read_text())
    slices = []
    for k in range(7):  # instance files as a scanner names them (no extension, .dcm)
        f = tmp_path / "dicom" / (f"IM{k:04d}" if k % 2 else f"slice{k}.dcm")
        f.parent.mkdir(exist_ok=True)
        f.write_bytes(b"\0" * 128 + b"DICM" + bytes([k]) * (100 + k))
        slices.append(f"dicom/{f.name}")
    tasks[0]["series"][0]["items"] = slices
    items_path.write_text(json.dumps(tasks))
    _, report = segmap_upload(rb, items_path, concurrency=1)
    assert report.ok and report.tasks[0].files_done == 8  # 7 instances + the labels
    (presign,) = rb.variables("itemsUploadPresignSDK")
    assert presign["files"] == [s.split("/")[1] for s in slices]
    assert presign["fileType"] == ["application/dicom"] * 7
    (v,) = rb.variables("createDatapointSDK")
    assert [rb.blob(p) for p in v["items"]] == [(tmp_path / s).read_bytes() for s in slices]
    assert v["seriesInfo"][0]["itemsIndices"] == list(range(7))
    assert rb.violations == []


def test_project_taxonomy_for_the_category_choices(rb):
    from app.upload._protocol import project_taxonomy

    taxonomy = project_taxonomy(fast_client(rb), ORG, PROJECT)
    names = [c.label for c in taxonomy.segmentation_categories()]
    assert names == ["category-a", "category-b", "category-c", "liver", "spleen"]


def test_a_resumed_upload_validates_only_what_is_left(rb, tmp_path):
    items_path = make_items(tmp_path, 3)
    tasks = json.loads(items_path.read_text())
    tasks[2]["series"][0]["segmentMap"]["1"]["category"] = "unknown-organ"
    items_path.write_text(json.dumps(tasks))
    # The first two go up (the third is left out of this run).
    _, first = segmap_upload(rb, items_path, validate=True,
                             only=frozenset({"case-000-I", "case-001-II"}))
    assert first.ok
    # Their files may go away now: a re-run does not read them again.
    (tmp_path / "case-000-I" / "seg.nii.gz").unlink()
    with pytest.raises(UploadBlocked) as err:
        segmap_upload(rb, items_path, validate=True)
    assert [(f.code, f.task) for f in err.value.findings] == [
        ("category-missing", "case-002-III")]
    tasks[2]["series"][0]["segmentMap"]["1"]["category"] = "liver"
    items_path.write_text(json.dumps(tasks))
    _, second = segmap_upload(rb, items_path, validate=True)
    assert second.ok and second.count(TaskState.EXISTING) == 2
