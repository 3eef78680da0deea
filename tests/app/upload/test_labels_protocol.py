"""Labels onto existing tasks, on the wire as redbrick-sdk 2.35.4 sends them.

The SDK's ``update_tasks_labels`` and ``labeling.put_tasks`` run against one server,
Segmap's ``attach_labels`` against another seeded with the same tasks: the same
operations, documents and variables, field by field (label files by their voxels).
"""

from __future__ import annotations

import re

import pytest

from app.upload import _queries as queries

from .labels_helpers import listed, normalised, sdk_tasks, seed, segmap_attach
from .labels_helpers import two_servers_with as servers
from .test_upload_e2e import assert_same_operations, sdk_run
from .test_upload_protocol import _sdk_document, _tokens

pytestmark = pytest.mark.oracle


def _same_protocol(ours, theirs, op: str) -> None:
    assert_same_operations(ours, theirs, [
        "getProjectSDK", "getLabelStorageSDK", "validateAndConvertToImportFormatSDK"])
    ours_vars, sdk_vars = normalised(ours, op), normalised(theirs, op)
    assert ours_vars and ours_vars == sdk_vars
    for v in ours.variables("presignUploadsSDK") + theirs.variables("presignUploadsSDK"):
        assert v["filesData"] == [] and re.fullmatch(r"labels/[0-9a-f-]{36}/[0-9a-f-]{36}/0"
                                                     r"\.nii\.gz", v["filesSeg"][0])
    # Each task holds the same labels, in the same stage, on both servers afterwards.
    for task_id, task in ours.tasks.items():
        assert task["labelsData"] == theirs.tasks[task_id]["labelsData"]
        assert task["stage"] == theirs.tasks[task_id]["stage"]


def _update(tasks, finalize):
    return lambda p: p.upload.update_tasks_labels(tasks, finalize=finalize)


def _put(tasks, finalize):
    return lambda p: p.labeling.put_tasks("Label", tasks, finalize=finalize)


@pytest.mark.parametrize("finalize", [False, True])
@pytest.mark.parametrize(("stage", "op", "finalize_key", "sdk_call"), [
    (None, "updateTasksLabelsSDK", "finalize", _update),
    ("Label", "putTaskAndLabelsSDK", "finished", _put),
])
def test_attaching_labels_is_the_sdks(tmp_path, finalize, stage, op, finalize_key, sdk_call):
    items_path, ours, theirs = servers(tmp_path)
    try:
        seed(ours, items_path)
        seed(theirs, items_path)
        remote = listed(ours)
        ours.calls.clear()
        report = segmap_attach(ours, items_path, remote, stage=stage, finalize=finalize)
        assert report.ok, report.tasks
        failed = sdk_run(theirs, items_path, sdk_call(sdk_tasks(items_path, remote), finalize))
        assert not failed
        _same_protocol(ours, theirs, op)
        assert {v[finalize_key] for v in ours.variables(op)} == {finalize}
        assert {t["stage"] for t in ours.tasks.values()} == {"Output" if finalize else "Label"}
    finally:
        ours.stop()
        theirs.stop()


@pytest.mark.parametrize(("stage", "op", "key", "default"), [
    (None, "updateTasksLabelsSDK", "finalize", False),
    ("Label", "putTaskAndLabelsSDK", "finished", True),
])
def test_finalize_defaults_are_the_sdks(tmp_path, stage, op, key, default):
    items_path, ours, theirs = servers(tmp_path, 1)
    try:
        seed(ours, items_path)
        assert segmap_attach(ours, items_path, stage=stage).ok
        (v,) = ours.variables(op)
        assert v[key] is default
        if stage:
            assert v["stageName"] == "Label" and v["elapsedTimeMs"] == 0
        else:
            assert v["timeSpentMs"] is None and v["extraData"] == "null"
    finally:
        ours.stop()
        theirs.stop()


def test_task_listing_is_the_sdks_export(tmp_path):
    items_path, ours, theirs = servers(tmp_path, 3)
    try:
        seed(ours, items_path)
        seed(theirs, items_path)
        ours.calls.clear()
        listed(ours)
        # The export's reader, at the page size Segmap asks for.
        sdk_run(theirs, items_path, lambda p: list(p.export.get_raw_data_latest(50)))
        (mine,) = ours.variables("tasksPagedSDK")
        sdk = theirs.variables("tasksPagedSDK")
        assert sdk and mine == sdk[0]
        assert _tokens(ours.queries["tasksPagedSDK"]) == _tokens(theirs.queries["tasksPagedSDK"])
    finally:
        ours.stop()
        theirs.stop()


def test_label_documents_are_the_sdks():
    from redbrick.repo import export, labeling, upload
    from redbrick.repo.shards import task_shard

    pairs = {
        queries.TASKS_PAGED: export.ExportRepoImpl.get_datapoints_latest,
        queries.TASK: export.ExportRepoImpl.get_datapoint_latest,
        queries.UPDATE_TASKS_LABELS: upload.UploadRepoImpl.update_labels,
        queries.PUT_TASK_AND_LABELS: labeling.LabelingRepoImpl.put_labeling_results,
    }
    for ours, method in pairs.items():
        sdk = _sdk_document(method).replace("{task_shard(presign_items, with_consensus)}",
                                            task_shard(False, False))
        assert _tokens(ours) == _tokens(sdk.replace("{{", "{").replace("}}", "}")), method
