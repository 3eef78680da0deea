"""Failures a real upload meets: a wrong key, a rejected task, missing files, a flaky
network, an interrupted run. Every task ends up created exactly once, none is lost,
no file goes up again after it was accepted."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from app.items import load_items
from app.progress import run
from app.upload import (
    AuthError,
    Destination,
    TaskState,
    UploadOptions,
    UploadProgress,
    upload,
)
from app.upload._journal import Journal, journal_path

from ..rb_server import ORG, PROJECT, Faults, RBServer, make_items
from .test_upload_e2e import fast_client, segmap_upload


def local_files(items_path: Path) -> list[Path]:
    """Every image and mask of the synthetic list (each has unique content)."""
    return sorted(p for p in items_path.parent.rglob("*.nii.gz"))


def assert_each_created_once(server: RBServer, items_path: Path) -> None:
    names = [t["name"] for t in json.loads(items_path.read_text())]
    assert sorted(server.datapoints) == sorted(names)
    assert set(server.creations.values()) == {1}
    assert not server.rejected_duplicates


def assert_no_file_sent_twice(server: RBServer, items_path: Path) -> None:
    """Images (and case-I label files, sent as they are) were accepted exactly once."""
    assert not server.late_puts
    assert [n for n in server.acked.values() if n != 1] == []
    for f in local_files(items_path):
        if f.name in ("image.nii.gz", "seg.nii.gz"):
            assert server.acked[hashlib.sha256(f.read_bytes()).hexdigest()] == 1, f


def test_wrong_key_fails_at_once_without_retries(rb, tmp_path):
    items_path = make_items(tmp_path, 2)
    wrong = "w" * 43
    client = fast_client(rb, key=wrong)
    with pytest.raises(AuthError) as err:
        run(upload(load_items(items_path), Destination(rb.url, ORG, PROJECT), client=client))
    assert rb.requests == 1  # one refused request, no retry storm
    assert "API key" in str(err.value) and wrong not in str(err.value)
    assert not rb.datapoints


def test_an_invalid_task_does_not_sink_its_batch(rb, tmp_path):
    items_path = make_items(tmp_path, 12)
    tasks = json.loads(items_path.read_text())
    tasks[4]["series"][0]["segmentMap"]["1"] = "no-such-category"
    items_path.write_text(json.dumps(tasks))
    _, report = segmap_upload(rb, items_path)
    states = {t.name: t for t in report.tasks}
    bad = states[tasks[4]["name"]]
    assert bad.state == TaskState.FAILED
    assert "Invalid category 'no-such-category'" in bad.error  # the server's message
    assert report.count(TaskState.CREATED) == 11
    assert tasks[4]["name"] not in rb.datapoints
    # Batch 1 (10 tasks) was refused, then asked about task by task; batch 2 passed.
    assert rb.ops().count("validateAndConvertToImportFormatSDK") == 1 + 10 + 1
    assert not report.ok


def test_a_task_with_a_missing_file_uploads_nothing(rb, tmp_path):
    items_path = make_items(tmp_path, 3)
    (tmp_path / "case-002-III" / "m2.nii.gz").unlink()
    _, report = segmap_upload(rb, items_path)
    failed = report.tasks[2]
    assert failed.state == TaskState.FAILED and "m2.nii.gz" in failed.error
    assert "not found" in failed.error
    assert report.count(TaskState.CREATED) == 2
    sent = {h for h in rb.acked}
    image = (tmp_path / "case-002-III" / "image.nii.gz").read_bytes()
    assert hashlib.sha256(image).hexdigest() not in sent
    # RedBrick was not even asked to validate it.
    assert all("case-002-III" not in v["original"]
               for v in rb.variables("validateAndConvertToImportFormatSDK"))


def test_faults_on_a_fifth_of_requests(tmp_path):
    items_path = make_items(tmp_path, 15)
    server = RBServer(faults=Faults(rate=0.2, seed=11)).start()
    try:
        _, report = segmap_upload(server, items_path, concurrency=4)
        assert report.ok, [(t.name, t.error) for t in report.tasks if not t.ok]
        assert_each_created_once(server, items_path)
        assert_no_file_sent_twice(server, items_path)
        assert server.violations == []
        kinds = {k.split("-")[0] for k in server.faults_done}
        assert kinds == {"500", "429", "reset", "slow"}, server.faults_done
        assert report.retries >= sum(server.faults_done.values()) - server.faults_done[
            "slow-before"] - server.faults_done["slow-after"]
    finally:
        server.stop()


def test_a_lost_create_answer_is_looked_up_not_repeated(tmp_path):
    items_path = make_items(tmp_path, 4)
    faults = Faults(rate=1.0, kinds=("reset", "500"), phases=("after",),
                    ops=frozenset({"createDatapointSDK"}))
    server = RBServer(faults=faults).start()
    try:
        _, report = segmap_upload(server, items_path)
        assert report.ok
        assert_each_created_once(server, items_path)
        assert server.ops().count("tasksListSDK") == 4
        for t in report.tasks:
            assert t.task_id == server.datapoints[t.name]["taskId"]
    finally:
        server.stop()


def test_interrupted_run_resumes_without_duplicates(rb, tmp_path):
    items_path = make_items(tmp_path, 12)
    items = load_items(items_path)
    work = upload(items, Destination(rb.url, ORG, PROJECT),
                  options=UploadOptions(concurrency=2, validate=False),
                  client=fast_client(rb))
    for step in work:
        assert isinstance(step, UploadProgress)
        if sum(t.state == TaskState.CREATED for t in step.tasks) >= 3:
            break
    work.close()  # what the wizard's Cancel does
    first = dict(rb.creations)
    assert 3 <= len(first) < 12
    assert journal_path(items_path).exists()

    _, report = segmap_upload(rb, items_path, concurrency=2)
    assert report.ok
    assert report.count(TaskState.EXISTING) == len(first)
    assert_each_created_once(rb, items_path)
    assert_no_file_sent_twice(rb, items_path)
    # A third run has nothing to do.
    ops_before = len(rb.ops())
    _, again = segmap_upload(rb, items_path)
    assert again.count(TaskState.EXISTING) == 12
    assert rb.ops()[ops_before:] == ["getProjectSDK"]


def test_half_sent_task_reuses_its_uploaded_files(rb, tmp_path):
    items_path = make_items(tmp_path, 1, kinds=("II",))
    # Run 1: the image goes up, then creating the task fails for good (GraphQL error).
    rb.datapoints["case-000-II"] = {"dpId": "x", "taskId": "y", "name": "case-000-II"}
    _, report = segmap_upload(rb, items_path)
    assert report.tasks[0].state == TaskState.FAILED
    assert "already exists" in report.tasks[0].error
    del rb.datapoints["case-000-II"]
    # Run 2: nothing is uploaded again, the task is created.
    puts_before = sum(rb.acked.values())
    _, report = segmap_upload(rb, items_path)
    assert report.ok and report.tasks[0].files_reused == 2  # image + merged labels
    assert sum(rb.acked.values()) == puts_before


def test_a_create_in_flight_at_a_crash_is_looked_up_on_the_next_run(tmp_path):
    items_path = make_items(tmp_path, 2)
    faults = Faults(rate=1.0, kinds=("reset",), phases=("after",),
                    ops=frozenset({"createDatapointSDK", "tasksListSDK"}))
    server = RBServer(faults=faults).start()
    try:
        items = load_items(items_path)
        client = fast_client(server, attempts=1)
        report = run(upload(items, Destination(server.url, ORG, PROJECT),
                            options=UploadOptions(validate=False), client=client))
        assert report.count(TaskState.FAILED) == 2  # the outcome is unknown to the client
        journal = Journal(journal_path(items_path), Destination(server.url, ORG, PROJECT).key,
                          read_only=True)
        assert {journal.state(t.name)[0] for t in report.tasks} == {"creating"}
        server.faults.rate = 0.0
        _, report = segmap_upload(server, items_path)
        assert report.count(TaskState.EXISTING) == 2
        assert_each_created_once(server, items_path)
    finally:
        server.stop()


def test_restart_ignores_the_journal(rb, tmp_path):
    items_path = make_items(tmp_path, 2)
    assert segmap_upload(rb, items_path)[1].ok
    _, report = segmap_upload(rb, items_path, restart=True)
    assert [t.state for t in report.tasks] == [TaskState.FAILED] * 2
    assert all("already exists" in t.error for t in report.tasks)
    # A GraphQL answer is not retried: one createDatapoint per task and run.
    assert rb.ops().count("createDatapointSDK") == 4


def test_retry_only_the_failed_tasks(rb, tmp_path):
    items_path = make_items(tmp_path, 3)
    seg = tmp_path / "case-001-II" / "s2.nii.gz"
    kept = seg.read_bytes()
    seg.unlink()
    _, report = segmap_upload(rb, items_path)
    assert report.failed_names() == ["case-001-II"]
    seg.write_bytes(kept)
    ops_before = len(rb.ops())
    _, retry = segmap_upload(rb, items_path, only=frozenset(report.failed_names()))
    assert [t.name for t in retry.tasks] == ["case-001-II"] and retry.ok
    assert rb.ops()[ops_before:].count("createDatapointSDK") == 1
    assert_each_created_once(rb, items_path)
