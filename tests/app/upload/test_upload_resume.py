"""Resuming safely: a create whose answer was an error, and two uploads of one list at once.

A task RedBrick made although it answered with an error is found and kept, not failed
forever; a task of the same name with other images is not taken for ours. One upload
of a list to a project runs at a time, whatever journal each was given, and a killed
upload leaves no lock behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys

import pytest

from app.errors import SegmapError
from app.items import load_items
from app.progress import run
from app.upload import Destination, TaskState, UploadOptions, upload
from app.upload._locks import UploadLocked, hold, lock_folder

from ..rb_server import ORG, PROJECT, Faults, RBServer, make_items
from .test_upload_e2e import fast_client, segmap_upload

OTHER_PROJECT = "33333333-aaaa-4bbb-8ccc-000000000004"


@pytest.fixture(autouse=True)
def _state_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


# -- 6. a create that worked but answered with an error -------------------------------------

def test_a_create_answered_with_an_error_is_found_and_kept_on_the_next_run(tmp_path):
    faults = Faults(rate=1.0, kinds=("graphql",), phases=("after",),
                    ops=frozenset({"createDatapointSDK"}))
    server = RBServer(faults=faults).start()
    try:
        items_path = make_items(tmp_path, 3)
        _, first = segmap_upload(server, items_path)
        assert [t.state for t in first.tasks] == [TaskState.FAILED] * 3
        assert len(server.datapoints) == 3  # RedBrick made them all the same
        server.faults = Faults()
        _, report = segmap_upload(server, items_path)
        assert report.ok, [t.error for t in report.tasks]
        assert report.count(TaskState.EXISTING) == 3
        for t in report.tasks:
            assert t.task_id == server.datapoints[t.name]["taskId"]
            assert any("already" in n for n in t.notes)
        assert set(server.creations.values()) == {1}
        # Recorded: a third run asks RedBrick nothing about the tasks.
        ops_before = len(server.ops())
        _, again = segmap_upload(server, items_path)
        assert again.count(TaskState.EXISTING) == 3
        assert server.ops()[ops_before:] == ["getProjectSDK"]
    finally:
        server.stop()


def test_a_task_of_the_same_name_with_other_images_is_not_ours(rb, tmp_path):
    items_path = make_items(tmp_path, 1)
    rb.datapoints["case-000-I"] = {"dpId": "x", "taskId": "y", "name": "case-000-I",
                                   "items": ["org/proj/items/other/image.nii.gz"],
                                   "seriesInfo": [{"name": "CT", "itemsIndices": [0]}]}
    _, report = segmap_upload(rb, items_path)
    task = report.tasks[0]
    assert task.state == TaskState.FAILED and task.task_id is None
    assert "already exists" in task.error and "other images" in task.error


# -- 7. one upload of a list to a project at a time ------------------------------------------

def _start(server: RBServer, items_path, project: str = PROJECT, **options):
    work = upload(load_items(items_path), Destination(server.url, ORG, project),
                  options=UploadOptions(validate=False, **options), client=fast_client(server))
    next(work)  # running: its locks are taken before the first step
    return work


def test_two_uploads_of_one_list_with_different_journals_do_not_both_run(rb, tmp_path):
    items_path = make_items(tmp_path, 4)
    first = _start(rb, items_path, journal=tmp_path / "a.jsonl")
    with pytest.raises(SegmapError) as err:
        _start(rb, items_path, journal=tmp_path / "b.jsonl")
    assert "Another upload of this items list to this project is running" in err.value.message
    assert str(lock_folder()) in err.value.message and err.value.hint
    # A copy of the list elsewhere is the same list.
    copy = tmp_path / "copy" / "items.json"
    copy.parent.mkdir()
    shutil.copy(items_path, copy)
    with pytest.raises(SegmapError, match="Another upload of this items list"):
        _start(rb, copy, journal=tmp_path / "c.jsonl")
    # Another project is another upload.
    other = _start(rb, items_path, OTHER_PROJECT, journal=tmp_path / "d.jsonl")
    other.close()
    for _ in first:
        pass
    assert set(rb.creations.values()) == {1} and len(rb.creations) == 4
    # The first is over: its locks are gone.
    second = _start(rb, items_path, journal=tmp_path / "b.jsonl")
    second.close()
    assert not any(lock_folder().iterdir())


def test_a_dry_run_takes_no_lock(rb, tmp_path):
    items_path = make_items(tmp_path, 1)
    first = _start(rb, items_path)
    report = run(upload(load_items(items_path), Destination(rb.url, ORG, PROJECT),
                        options=UploadOptions(validate=False, dry_run=True),
                        client=fast_client(rb)))
    assert report.ok
    first.close()


def test_a_lock_does_not_survive_kill_9(tmp_path):
    code = ("import sys, time\n"
            "from app.upload._locks import hold\n"
            "held = hold(['dest', 'list'], 'this items list to this project')\n"
            "print('held', flush=True)\n"
            "time.sleep(600)\n")
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             env=env, cwd=os.getcwd())
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with pytest.raises(UploadLocked):
            hold(["dest", "list"], "this items list to this project")
        child.send_signal(signal.SIGKILL)
        child.wait()
        held = hold(["dest", "list"], "this items list to this project")
        held.release()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        if child.stdout is not None:
            child.stdout.close()


def test_the_lock_file_says_who_holds_it_and_never_the_key(tmp_path):
    held = hold(["https://x org project", "items.json"], "this items list to this project")
    try:
        (lock,) = lock_folder().iterdir()
        text = lock.read_text()
        assert str(os.getpid()) in text and "this items list" in text
        assert json.loads(text)["pid"] == os.getpid()
    finally:
        held.release()
