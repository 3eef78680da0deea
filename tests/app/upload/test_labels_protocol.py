"""Labels onto existing tasks, on the wire as redbrick-sdk 2.35.4 sends them.

The SDK's ``update_tasks_labels`` and ``labeling.put_tasks`` run against one server,
Segmap's ``attach_labels`` against another seeded with the same tasks: the same
operations, documents and variables, field by field (label files by their voxels).
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from app.upload import _queries as queries

from .labels_helpers import listed, normalised, sdk_run, sdk_tasks, seed, segmap_attach
from .labels_helpers import two_servers_with as servers

pytestmark = pytest.mark.oracle
LABEL_OPS = {"updateTasksLabelsSDK", "putTaskAndLabelsSDK"}


def _tokens(query: str) -> list[str]:
    return [t for t in re.findall(r"\.\.\.|\$?[A-Za-z_]\w*|[^\s\w]", query) if t != ","]


def _same_protocol(ours, theirs, op: str) -> None:
    assert ours.violations == theirs.violations == []
    # The same operations, as often, starting in the same order (tasks then run at once).
    assert ours.ops()[:3] == theirs.ops()[:3] == [
        "getProjectSDK", "getLabelStorageSDK", "validateAndConvertToImportFormatSDK"]
    assert Counter(ours.ops()) == Counter(theirs.ops())
    for name in set(ours.ops()):
        assert _tokens(ours.queries[name]) == _tokens(theirs.queries[name]), name
    assert ours.variables("validateAndConvertToImportFormatSDK") == \
        theirs.variables("validateAndConvertToImportFormatSDK")
    ours_vars, sdk_vars = normalised(ours, op), normalised(theirs, op)
    assert ours_vars and ours_vars == sdk_vars
    for v in ours.variables("presignUploadsSDK") + theirs.variables("presignUploadsSDK"):
        assert v["filesData"] == [] and re.fullmatch(r"labels/[0-9a-f-]{36}/[0-9a-f-]{36}/0"
                                                     r"\.nii\.gz", v["filesSeg"][0])
    # Each task holds the same labels on both servers afterwards.
    for task_id, task in ours.tasks.items():
        assert task["labelsData"] == theirs.tasks[task_id]["labelsData"]
        assert task["stage"] == theirs.tasks[task_id]["stage"]


@pytest.mark.parametrize("finalize", [False, True])
def test_update_tasks_labels_is_the_sdks(tmp_path, finalize):
    items_path, ours, theirs = servers(tmp_path)
    try:
        seed(ours, items_path)
        seed(theirs, items_path)
        remote = listed(ours)
        ours.calls.clear()
        report = segmap_attach(ours, items_path, remote, finalize=finalize)
        assert report.ok, report.tasks
        tasks = sdk_tasks(items_path, remote)
        sdk_run(theirs, items_path,
                lambda p: p.upload.update_tasks_labels(tasks, finalize=finalize))
        _same_protocol(ours, theirs, "updateTasksLabelsSDK")
        assert {v["finalize"] for v in ours.variables("updateTasksLabelsSDK")} == {finalize}
        assert {t["stage"] for t in ours.tasks.values()} == {"Output" if finalize else "Label"}
    finally:
        ours.stop()
        theirs.stop()


@pytest.mark.parametrize("finalize", [False, True])
def test_put_tasks_is_the_sdks(tmp_path, finalize):
    items_path, ours, theirs = servers(tmp_path)
    try:
        seed(ours, items_path)
        seed(theirs, items_path)
        remote = listed(ours)
        ours.calls.clear()
        report = segmap_attach(ours, items_path, remote, stage="Label", finalize=finalize)
        assert report.ok, report.tasks
        tasks = sdk_tasks(items_path, remote)
        failed = sdk_run(theirs, items_path,
                         lambda p: p.labeling.put_tasks("Label", tasks, finalize=finalize))
        assert failed == []
        _same_protocol(ours, theirs, "putTaskAndLabelsSDK")
        assert {v["finished"] for v in ours.variables("putTaskAndLabelsSDK")} == {finalize}
    finally:
        ours.stop()
        theirs.stop()


def test_put_tasks_finalizes_by_default_as_the_sdk(tmp_path):
    items_path, ours, theirs = servers(tmp_path, 1)
    try:
        seed(ours, items_path)
        report = segmap_attach(ours, items_path, stage="Label")
        assert report.ok
        (v,) = ours.variables("putTaskAndLabelsSDK")
        assert v["finished"] is True and v["stageName"] == "Label" and v["elapsedTimeMs"] == 0
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
    import inspect

    from redbrick.repo import export, labeling, upload
    from redbrick.repo.shards import task_shard

    def doc(method) -> str:
        src = inspect.getsource(method)
        text = re.search(r'(?:query_string|query) = f?"""(.*?)"""', src, re.S).group(1)
        return text.replace("{task_shard(presign_items, with_consensus)}",
                            task_shard(False, False)).replace("{{", "{").replace("}}", "}")

    pairs = {
        queries.TASKS_PAGED: export.ExportRepoImpl.get_datapoints_latest,
        queries.TASK: export.ExportRepoImpl.get_datapoint_latest,
        queries.UPDATE_TASKS_LABELS: upload.UploadRepoImpl.update_labels,
        queries.PUT_TASK_AND_LABELS: labeling.LabelingRepoImpl.put_labeling_results,
    }
    for ours, method in pairs.items():
        assert _tokens(ours) == _tokens(doc(method)), method.__name__
