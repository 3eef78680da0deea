"""Labels onto tasks already in RedBrick: exactly once, resumable, never replacing unasked.

Faults on a fifth of the requests, an interrupted run resumed, a run whose answer was
lost, labels a task already has (refused without ``replace``), and bad input (an
unknown task, a stage that does not exist, a key without access), each with a clear
message and nothing changed in RedBrick.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from app.items import load_items
from app.progress import run
from app.upload import AuthError, Destination, RedBrickError, TaskState, UploadProgress
from app.upload._labeling import (
    LabelOptions,
    LabelsWouldBeReplaced,
    attach_labels,
    labels_journal_path,
)
from app.upload._match import Match
from app.upload._remote import RemoteTask

from ..rb_server import ORG, PROJECT, Faults, RBServer, make_items
from .labels_helpers import by_name, listed, seed, seeded, segmap_attach
from .test_upload_e2e import fast_client


@pytest.fixture(autouse=True)
def _state_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def _each_attached_once(server: RBServer) -> None:
    assert set(server.attached) == set(server.tasks)
    assert set(server.attached.values()) == {1}, server.attached
    for task in server.tasks.values():  # the label file each names is there
        (label_map,) = task["labelsMap"]
        assert server.blob(label_map["labelName"])


def test_labels_attach_to_every_matched_task(rb, tmp_path):
    items_path = make_items(tmp_path, 3)
    seed(rb, items_path)
    report = segmap_attach(rb, items_path, validate=True)
    assert report.ok and report.count(TaskState.ATTACHED) == 3
    assert "labels attached" in report.summary()
    _each_attached_once(rb)
    assert [t.task_id for t in report.tasks] == list(rb.tasks)
    assert labels_journal_path(items_path).exists()
    # Listed again, the tasks have labels now.
    assert all(t.has_labels for t in listed(rb))


@pytest.mark.parametrize("stage", [None, "Label"])
def test_faults_on_a_fifth_of_requests_attach_once(tmp_path, stage):
    items_path, server, remote = seeded(tmp_path, 12, Faults(rate=0.2, seed=5))
    try:
        report = segmap_attach(server, items_path, remote, stage=stage, concurrency=4,
                               finalize=False)
        assert report.ok, [(t.name, t.error) for t in report.tasks if not t.ok]
        _each_attached_once(server)
        assert {k.split("-")[0] for k in server.faults_done} == {"500", "429", "reset", "slow"}
        assert server.violations == []
    finally:
        server.stop()


def test_a_lost_answer_is_looked_up_not_sent_again(tmp_path):
    items_path, server, remote = seeded(tmp_path, 3, Faults(
        rate=1.0, kinds=("reset", "500"), phases=("after",),
        ops=frozenset({"updateTasksLabelsSDK"})))
    try:
        report = segmap_attach(server, items_path, remote)
        assert report.ok
        _each_attached_once(server)
        assert server.ops().count("taskSDK") == 3
        assert server.ops().count("updateTasksLabelsSDK") == 3
    finally:
        server.stop()


def test_an_interrupted_run_resumes_and_never_attaches_twice(rb, tmp_path):
    items_path = make_items(tmp_path, 10)
    seed(rb, items_path)
    remote = listed(rb)
    items = load_items(items_path)
    work = attach_labels(items, by_name(items, remote), Destination(rb.url, ORG, PROJECT),
                         options=LabelOptions(concurrency=2, validate=False),
                         client=fast_client(rb))
    for step in work:
        assert isinstance(step, UploadProgress)
        if sum(t.state == TaskState.ATTACHED for t in step.tasks) >= 3:
            break
    work.close()  # the wizard's Cancel
    first = set(rb.attached)
    assert 3 <= len(first) < 10
    # Resumed with a fresh listing: the tasks this list labelled have labels now, and are
    # not taken for someone else's (no --replace needed), nor attached again.
    report = segmap_attach(rb, items_path, listed(rb), concurrency=2)
    assert report.ok, [(t.name, t.error) for t in report.tasks if not t.ok]
    assert report.count(TaskState.ATTACHED_BEFORE) == len(first)
    _each_attached_once(rb)
    # A third run sends nothing but the project check.
    before = len(rb.ops())
    again = segmap_attach(rb, items_path, listed(rb))
    assert again.count(TaskState.ATTACHED_BEFORE) == 10
    assert rb.ops()[before:] == ["tasksPagedSDK", "getProjectSDK"]


def test_an_attach_in_flight_at_a_crash_is_looked_up_on_the_next_run(tmp_path):
    items_path, server, remote = seeded(tmp_path, 2, Faults(
        rate=1.0, kinds=("reset",), phases=("after",),
        ops=frozenset({"updateTasksLabelsSDK", "taskSDK"})))
    try:
        first = segmap_attach(server, items_path, remote, attempts=1)
        assert first.count(TaskState.FAILED) == 2  # the outcome is unknown to the client
        server.faults = Faults()
        report = segmap_attach(server, items_path, listed(server))
        assert report.count(TaskState.ATTACHED_BEFORE) == 2
        assert all("earlier run" in t.notes[0] for t in report.tasks)
        _each_attached_once(server)
    finally:
        server.stop()


# -- labels a task already has ----------------------------------------------------------

def _labelled(server: RBServer, items_path) -> list[str]:
    return seed(server, items_path, labels_data='[{"category":"liver"}]',
                labels_map=[{"labelName": "old/labels.nii.gz", "seriesIndex": 0}])


def test_existing_labels_are_refused_before_any_request(rb, tmp_path):
    items_path = make_items(tmp_path, 2)
    _labelled(rb, items_path)
    remote = listed(rb)
    assert all(t.has_labels for t in remote)
    rb.calls.clear()
    with pytest.raises(LabelsWouldBeReplaced) as err:
        segmap_attach(rb, items_path, remote)
    assert "'case-000-I', 'case-001-II'" in err.value.message
    assert "would replace" in err.value.message and "--replace" in err.value.hint
    assert rb.calls == []
    # A dry run lists them too, and sends nothing that changes anything.
    dry = segmap_attach(rb, items_path, remote, dry_run=True)
    assert any("case-000-I" in w and "--replace" in w for w in dry.warnings)
    assert [t.state for t in dry.tasks] == [TaskState.READY] * 2
    assert rb.mutations() == [] and "presignUploadsSDK" not in rb.ops()


def test_existing_labels_are_replaced_with_replace(rb, tmp_path):
    items_path = make_items(tmp_path, 2)
    _labelled(rb, items_path)
    report = segmap_attach(rb, items_path, replace=True)
    assert report.ok and report.count(TaskState.ATTACHED) == 2
    for task in rb.tasks.values():
        assert task["labelsMap"][0]["labelName"] != "old/labels.nii.gz"
        assert "liver" not in task["labelsData"]


# -- bad input ------------------------------------------------------------------------

def _ghost(task: RemoteTask) -> RemoteTask:
    """The task under an id the project does not have (deleted since it was listed)."""
    return dataclasses.replace(task, task_id="99999999-aaaa-4bbb-8ccc-000000000009")


def test_an_unknown_task_id_fails_that_task_clearly(rb, tmp_path):
    items_path = make_items(tmp_path, 2)
    seed(rb, items_path)
    remote = listed(rb)
    remote[1] = _ghost(remote[1])
    report = segmap_attach(rb, items_path, remote)
    assert [t.state for t in report.tasks] == [TaskState.ATTACHED, TaskState.FAILED]
    assert "does not exist in this project" in report.tasks[1].error, report.tasks[1].error
    assert not report.ok and report.failed_names() == ["case-001-II"]
    assert set(rb.attached) == {remote[0].task_id}


def test_a_stage_that_does_not_exist_is_refused_naming_the_stages(rb, tmp_path):
    items_path = make_items(tmp_path, 1)
    seed(rb, items_path)
    remote = listed(rb)
    with pytest.raises(RedBrickError, match=r"no stage called 'Lable'; its stages are "
                                            r"'Label', 'Output'"):
        segmap_attach(rb, items_path, remote, stage="Lable")
    with pytest.raises(RedBrickError, match="not a Label stage"):
        segmap_attach(rb, items_path, remote, stage="Output")
    with pytest.raises(RedBrickError, match="no stage called 'Lable'"):
        listed(rb, stage="Lable")
    assert rb.mutations() == [] and "presignUploadsSDK" not in rb.ops()


def test_a_task_in_another_stage_or_not_assigned_fails_clearly(rb, tmp_path):
    items_path = make_items(tmp_path, 2)
    ids = seed(rb, items_path)
    rb.tasks[ids[0]]["stage"] = "Output"
    rb.tasks[ids[1]]["assignee"] = "someone@else.org"
    report = segmap_attach(rb, items_path, stage="Label")
    assert "is in stage 'Output', not 'Label'" in report.tasks[0].error
    assert "not assigned to you" in report.tasks[1].error
    assert rb.mutations() == [("putTaskAndLabelsSDK", rb.variables("putTaskAndLabelsSDK")[0])]
    assert not rb.attached


@pytest.mark.parametrize("status", [401, 403])
def test_a_key_without_access_stops_before_anything_changes(rb, tmp_path, status):
    items_path = make_items(tmp_path, 2)
    seed(rb, items_path)
    remote = listed(rb)
    rb.api_key = "x" * 43 if status == 401 else rb.api_key
    if status == 403:
        rb.faults = Faults(rate=1.0, kinds=("403",), phases=("before",))
    with pytest.raises(AuthError) as err:
        segmap_attach(rb, items_path, remote)
    assert "\n" not in err.value.message and "Traceback" not in str(err.value)
    assert rb.mutations() == [] and not rb.attached


def test_more_local_series_than_remote_fails_that_task(rb, tmp_path):
    items_path = make_items(tmp_path, 1)
    tasks = json.loads(items_path.read_text())
    tasks[0]["series"].append(dict(tasks[0]["series"][0], name="CT2"))
    items_path.write_text(json.dumps(tasks))
    seed(rb, items_path)
    report = segmap_attach(rb, items_path)
    assert "2 series, the task in RedBrick 1" in report.tasks[0].error
    assert rb.mutations() == []


def test_matches_to_one_remote_task_from_two_local_tasks_fail_the_second(rb, tmp_path):
    items_path = make_items(tmp_path, 2)
    seed(rb, items_path)
    remote = listed(rb)
    items = load_items(items_path)
    report = run(attach_labels(items, [Match(0, remote[0], "x"), Match(1, remote[0], "y")],
                               Destination(rb.url, ORG, PROJECT),
                               options=LabelOptions(validate=False), client=fast_client(rb)))
    assert report.tasks[0].state == TaskState.ATTACHED
    assert "matched by another local task too" in report.tasks[1].error


def test_the_images_need_not_be_on_this_computer(rb, tmp_path):
    items_path = make_items(tmp_path, 2)
    for image in tmp_path.glob("*/image.nii.gz"):
        image.unlink()  # they are in RedBrick already
    seed(rb, items_path)
    report = segmap_attach(rb, items_path, validate=True)
    assert report.ok and report.count(TaskState.ATTACHED) == 2
    assert "itemsUploadPresignSDK" not in rb.ops()


def test_validation_errors_block_before_anything_is_sent(rb, tmp_path):
    from app.upload import UploadBlocked

    items_path = make_items(tmp_path, 2)
    tasks = json.loads(items_path.read_text())
    tasks[1]["series"][0]["segmentMap"]["2"] = "not-in-the-project"
    items_path.write_text(json.dumps(tasks))
    seed(rb, items_path)
    with pytest.raises(UploadBlocked, match="category 'not-in-the-project'"):
        segmap_attach(rb, items_path, validate=True)
    assert rb.mutations() == [] and "presignUploadsSDK" not in rb.ops()


def test_a_missing_label_file_sends_nothing_for_that_task(rb, tmp_path):
    items_path = make_items(tmp_path, 2)
    (tmp_path / "case-001-II" / "s2.nii.gz").unlink()
    seed(rb, items_path)
    report = segmap_attach(rb, items_path)
    assert report.tasks[0].state == TaskState.ATTACHED
    assert report.tasks[1].state == TaskState.FAILED and "s2.nii.gz" in report.tasks[1].error
    assert len(rb.attached) == 1
