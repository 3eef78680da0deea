"""Listing the tasks of a project: paging, what each task says, bad answers, the cache."""

from __future__ import annotations

import json

import pytest

from app.upload import Destination, RedBrickError
from app.upload._tasks import TaskCache, list_tasks, parse_task

from ..rb_server import ORG, PROJECT
from .test_upload_e2e import fast_client

UID = "1.2.840.113619.2.55.3.604688119.969.1268071029.320"
STUDY = "1.2.840.113619.2.55.3.604688119.969.1268071029.100"


def _dest(rb) -> Destination:
    return Destination(rb.url, ORG, PROJECT)


def test_every_page_is_read_in_order(rb):
    ids = [rb.add_task(f"t{k:03d}", stage="Label" if k % 3 else "Output") for k in range(123)]
    tasks = list_tasks(fast_client(rb), _dest(rb), page_size=50)
    assert [t.task_id for t in tasks] == ids
    pages = rb.variables("tasksPagedSDK")
    assert [p["after"] for p in pages] == [None, "after-50", "after-100"]
    assert {p["first"] for p in pages} == {50}
    labelled = list_tasks(fast_client(rb), _dest(rb), stage="Output")
    assert [t.name for t in labelled] == [f"t{k:03d}" for k in range(0, 123, 3)]
    assert rb.variables("tasksPagedSDK")[-1]["stageName"] == "Output"


def test_an_empty_project_lists_nothing(rb):
    assert list_tasks(fast_client(rb), _dest(rb)) == []


def test_a_task_says_its_series_labels_stage_and_assignee(rb):
    headers = {"dimensions": [512, 512, 40], "spacing": [0.7, 0.7, 2.5], "origin": [0, 0, 0],
               "direction": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "totalFrames": 1,
               "SeriesInstanceUID": UID}
    rb.add_task("ct-1", stage="Review_1", assignee="r@x.org", priority=0.5, series=[
        {"name": "CT", "itemsIndices": list(range(40)), "dataType": "DICOM",
         "metaData": json.dumps({"StudyInstanceUID": STUDY}),
         "imageHeaders": json.dumps(headers)},
        {"name": "PET", "itemsIndices": [40, 41], "dataType": "DICOM", "metaData": None,
         "imageHeaders": [{"dimensions": [2, 2, 1]}, {"dimensions": [2, 2, 1]}]}],
        labels_map=[{"labelName": "a/b.nii.gz", "seriesIndex": 0}, None])
    rb.add_task("ct-2", labels_data="[]")
    rb.add_task("ct-3", labels_data='[{"category":"liver"}]')
    one, two, three = list_tasks(fast_client(rb), _dest(rb))
    assert (one.name, one.stage, one.assignee, one.priority) == ("ct-1", "Review_1", "r@x.org", 0.5)
    assert one.series_names == ["CT", "PET"]
    assert [s.num_instances for s in one.series] == [40, 2]
    assert one.series[0].series_uid == UID and one.series[0].study_uid == STUDY
    assert one.series[0].image_headers == (headers,) and one.series[0].data_type == "DICOM"
    assert len(one.series[1].image_headers) == 2 and one.series[1].series_uid is None
    assert one.has_labels and not two.has_labels and three.has_labels
    assert two.assignee is None


@pytest.mark.parametrize(("change", "words"), [
    ({"datapoint": None}, "it has no datapoint"),
    ({"datapoint": {"name": 5}}, "its datapoint has no name"),
    ({"datapoint": {"name": "x", "seriesInfo": {"a": 1}}}, "seriesInfo is not a list"),
    ({"datapoint": {"name": "x", "seriesInfo": [{"name": "a", "itemsIndices": 3}]}},
     r"seriesInfo\[0\].itemsIndices is not a list"),
    ({"datapoint": {"name": "x", "seriesInfo": [{"imageHeaders": "{not json"}]}},
     r"seriesInfo\[0\].imageHeaders is not JSON"),
    ({"datapoint": {"name": "x", "seriesInfo": [{"imageHeaders": "[1, 2]"}]}},
     r"seriesInfo\[0\].imageHeaders is neither an object nor a list of objects"),
    ({"currentStageName": 3}, "currentStageName is not text"),
    ({"priority": "high"}, "priority is not a number"),
    ({"latestTaskData": "labels"}, "latestTaskData is not an object"),
])
def test_a_bad_answer_is_one_clear_sentence(change, words):
    entry = {"taskId": "t-1", "datapoint": {"name": "x"}, **change}
    with pytest.raises(RedBrickError, match=f"task t-1 cannot be read: {words}"):
        parse_task(entry)


def test_a_task_without_an_id_or_a_list_that_is_not_one(rb, monkeypatch):
    with pytest.raises(RedBrickError, match="without a taskId"):
        parse_task({"datapoint": {"name": "x"}})
    with pytest.raises(RedBrickError, match="not a task"):
        parse_task("x")
    original = rb.handle
    monkeypatch.setattr(rb, "handle", lambda op, v: {"tasksPaged": {"entries": "x"}}
                        if op == "tasksPagedSDK" else original(op, v))
    with pytest.raises(RedBrickError, match="list of tasks is not a list"):
        list_tasks(fast_client(rb), _dest(rb))
    monkeypatch.setattr(rb, "handle", lambda op, v: {"tasksPaged": None})
    with pytest.raises(RedBrickError, match="did not list the tasks"):
        list_tasks(fast_client(rb), _dest(rb))
    monkeypatch.setattr(rb, "handle", lambda op, v: {"tasksPaged": {"entries": [],
                                                                    "cursor": "same"}})
    with pytest.raises(RedBrickError, match="does not end"):
        list_tasks(fast_client(rb), _dest(rb))


def test_the_cache_lists_a_project_once_per_stage_until_refreshed(rb):
    rb.add_task("a")
    cache = TaskCache()
    client, dest = fast_client(rb), _dest(rb)
    assert [t.name for t in cache.get(client, dest)] == ["a"]
    rb.add_task("b", stage="Output")
    assert [t.name for t in cache.get(client, dest)] == ["a"]  # from the cache
    assert rb.ops().count("tasksPagedSDK") == 1
    assert [t.name for t in cache.get(client, dest, stage="Output")] == ["b"]
    assert [t.name for t in cache.get(client, dest, refresh=True)] == ["a", "b"]
    cache.forget(dest)
    cache.get(client, dest)
    assert rb.ops().count("tasksPagedSDK") == 4
    other = Destination(rb.url, ORG, "33333333-aaaa-4bbb-8ccc-000000000004")
    cache.get(client, other)  # another project is its own entry
    assert rb.ops().count("tasksPagedSDK") == 5
