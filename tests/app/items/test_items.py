"""The items-list model: round trips keep every field, paths resolve like RedBrick's CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.errors import ItemsFormatError, JsonFileError
from app.items import Segment, SegmentMap, Series, Task, load_items, parse_items

# The three seed cases of RedBrick's importing-annotations guide (reference §2.4).
GUIDE_I = [{"name": "task-1", "series": [{"items": "scan.nii.gz", "segmentations": "seg.nii.gz",
                                          "segmentMap": {"1": "category-a", "2": "category-b"}}]}]
GUIDE_II = [{"name": "task-2", "series": [{
    "items": ["a.dcm", "b.dcm"], "segmentations": ["s1.nii.gz", "s2.nii.gz"],
    "segmentMap": {"1": "category-a", "2": "category-b"}}]}]
GUIDE_III = [{"name": "task-3", "series": [{
    "items": "scan.nii.gz", "segmentations": ["p1.nii.gz", "p2.nii.gz"],
    "segmentMap": {"1": {"category": "category-a", "mask": "p1.nii.gz"},
                   "2": {"category": "category-b", "mask": "p2.nii.gz"}, "binaryMask": True}}]}]

# Every field of reference §2, every segmentMap value form, unknown keys, nulls, odd key spelling.
RICH = [
    {
        "name": "rich", "priority": 0.7, "metaData": {"site": "A"},
        "preAssign": {"Label": ["a@x.org", "b@x.org"]},
        "classification": {"attributes": {"quality": "good"}, "id": "c1", "readOnly": True,
                           "comment": {"text": "ok", "pin": {"pointX": 1, "pointY": 2, "pointZ": 3}}},
        "customTaskKey": {"kept": [1, 2, {"deep": None}]},
        "status": "IN_REVIEW", "taskId": "abc",
        "series": [{
            "name": "CT", "items": ["1.dcm", "2.dcm"], "metaData": {"kVp": "120"},
            "imageHeaders": {"dimensions": [2, 2, 2], "spacing": [1, 1, 1]},
            "segmentations": ["s1.nii.gz", "s2.nii.gz"],
            "segmentMap": {
                "01": "liver", "2": 4, "3": ["Organs", "Kidney"], "4": [["object", "A", "B"]],
                "5": {"category": "spleen", "attributes": {"size": 3, "tags": ["x"]},
                      "overlappingGroups": [9], "id": "l5", "group": "g", "readOnly": False,
                      "comment": "check"},
                "6": {"category": None}, "semanticMask": False, "whatever": 1,
            },
            "binaryMask": False, "pngMask": False,
            "heatMaps": [{"item": "h.nii.gz", "name": "heat", "preset": "Hot"}],
            "transforms": [{"transform": [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]}],
            "centerline": [{"name": "c", "centerline": {"points": []}}],
            "landmarks": [{"point": {"xNorm": 0.1, "yNorm": 0.2}, "category": "pt"}],
            "landmarks3d": [{"point": {"i": 1, "j": 2, "k": 3}, "category": "pt"}],
            "measurements": [{"type": "length", "point1": {"i": 0, "j": 0, "k": 0},
                              "point2": {"i": 1, "j": 1, "k": 1}, "normal": [0, 0, 1],
                              "category": "len"}],
            "ellipses": [], "boundingBoxes": [], "cuboids": [], "polygons": [], "polylines": [],
            "classifications": [{"attributes": {"a": True}}],
            "instanceClassifications": [{"fileIndex": 0, "values": {"a": 1}}],
            "seriesOnlyUnknown": None,
        }, {"items": "second.nii.gz", "segmentations": None}],
    },
    {"name": "legacy-flat", "items": ["x.nii.gz"], "segmentations": ["s.nii.gz"],
     "segmentMap": {"1": "a"}, "labels": [], "labelsMap": [{"labelName": "s.nii.gz", "seriesIndex": 0}]},
    {"name": 7, "series": "not a list"},
]


@pytest.mark.parametrize("data", [GUIDE_I, GUIDE_II, GUIDE_III, RICH],
                         ids=["guide-I", "guide-II", "guide-III", "rich"])
def test_load_and_save_keeps_every_field(tmp_path, data):
    src = tmp_path / "in.json"
    src.write_text(json.dumps(data))
    items = load_items(src)
    out = items.save(tmp_path / "out.json")
    assert json.loads(out.read_text()) == data
    # Key order survives too, so diffs of edited lists stay small.
    assert list(json.loads(out.read_text())[0]) == list(data[0])


def test_rich_list_is_modelled():
    items = parse_items(RICH)
    task = items.tasks[0]
    s = task.series[0]
    assert s.item_paths == ["1.dcm", "2.dcm"]
    assert s.segmentation_paths == ["s1.nii.gz", "s2.nii.gz"]
    smap = s.segment_map
    assert smap is not None
    assert smap.segments[1].category == "liver" and smap.key_of(1) == "01"
    assert smap.segments[2].category == 4
    assert smap.segments[3].category == ["Organs", "Kidney"]
    assert smap.segments[4].category == [["object", "A", "B"]]
    assert smap.segments[5].overlapping_groups == [9]
    assert smap.segments[5].attributes == {"size": 3, "tags": ["x"]}
    assert not s.is_binary and smap.flags == {"semanticMask": False}
    assert items.tasks[1].legacy and items.tasks[1].series[0].item_paths == ["x.nii.gz"]
    # Wrong types are kept and reported, not dropped or fatal.
    fields = {(p.task, p.field) for p in items.problems}
    assert {(2, "name"), (2, "series"), (0, "segmentMap.6")} <= fields
    # A key that is no number is an ROI name (RT-struct maps are keyed so); validation
    # says when the series' segmentations are not RTSTRUCT files.
    assert smap.names["whatever"].category == 1
    assert (0, "segmentMap.whatever") not in fields


def test_editing_changes_only_what_was_edited():
    items = parse_items(json.loads(json.dumps(RICH)))
    smap = items.tasks[0].series[0].segment_map
    assert smap is not None
    smap.set(7, Segment(category="aorta"))
    smap.segments[1].category = "Liver"
    smap.remove(2)
    out = items.to_json()
    expected = json.loads(json.dumps(RICH))
    m = expected[0]["series"][0]["segmentMap"]
    m["01"] = "Liver"
    del m["2"]
    m["7"] = "aorta"
    assert out == expected


def test_binary_flag_is_read_from_the_series_or_the_map():
    assert parse_items(GUIDE_III).tasks[0].series[0].is_binary
    on_series = [{"name": "t", "series": [{"items": "a", "binaryMask": True}]}]
    assert parse_items(on_series).tasks[0].series[0].is_binary
    assert not parse_items(GUIDE_I).tasks[0].series[0].is_binary


def test_new_items_list_serialises_in_redbrick_shape(tmp_path):
    smap = SegmentMap.of({1: "liver", 2: "spleen"}, binary_masks={1: "m/liver.nii.gz",
                                                                  2: "m/spleen.nii.gz"})
    task = Task(name="case", series=[Series(items="ct.nii.gz",
                                            segmentations=["m/liver.nii.gz", "m/spleen.nii.gz"],
                                            segment_map=smap)])
    items = parse_items([])
    items.tasks.append(task)
    assert items.to_json() == [{"name": "case", "series": [{
        "items": "ct.nii.gz", "segmentations": ["m/liver.nii.gz", "m/spleen.nii.gz"],
        "segmentMap": {"1": {"category": "liver", "mask": "m/liver.nii.gz"},
                       "2": {"category": "spleen", "mask": "m/spleen.nii.gz"},
                       "binaryMask": True}}]}]


def test_relative_paths_resolve_against_the_list_folder_or_a_root(tmp_path):
    (tmp_path / "sub").mkdir()
    f = tmp_path / "sub" / "items.json"
    f.write_text(json.dumps(GUIDE_I))
    items = load_items(f)
    assert items.resolve("seg.nii.gz") == tmp_path / "sub" / "seg.nii.gz"
    assert items.resolve("/abs/x.nii.gz") == Path("/abs/x.nii.gz")
    assert items.resolve("s3://bucket/x.nii.gz") is None
    assert load_items(f, root=tmp_path).resolve("seg.nii.gz") == tmp_path / "seg.nii.gz"


def test_save_is_atomic_and_leaves_no_temporary_files(tmp_path):
    items = parse_items(GUIDE_I)
    target = tmp_path / "items.json"
    target.write_text("old")
    items.save(target)
    assert json.loads(target.read_text()) == GUIDE_I
    assert [p.name for p in tmp_path.iterdir()] == ["items.json"]


@pytest.mark.parametrize("text,needle", [
    ('[{"name": "a",}]', "line 1, column 15"),
    ('{"tasks": []}', "JSON array"),
    ('"just a string"', "JSON array"),
])
def test_bad_items_lists_say_what_is_wrong(tmp_path, text, needle):
    f = tmp_path / "items.json"
    f.write_text(text)
    with pytest.raises((ItemsFormatError, JsonFileError)) as exc:
        load_items(f)
    assert needle in str(exc.value)


def test_missing_file_and_folder_are_clear_errors(tmp_path):
    with pytest.raises(JsonFileError, match="not found"):
        load_items(tmp_path / "nope.json")
    with pytest.raises(JsonFileError, match="is a folder"):
        load_items(tmp_path)


def _containers(value: object) -> list[object]:
    """Every list and dict inside a JSON value (itself included)."""
    found: list[object] = []
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, (list, dict)):
            found.append(v)
            stack.extend(v.values() if isinstance(v, dict) else v)
    return found


def test_the_json_written_shares_no_list_or_dict_with_the_model():
    # each level copies what it did not make itself (copied again at each level, a task's
    # segmentMaps were copied three times); an edit of the output never reaches the model
    items = parse_items(json.loads(json.dumps(RICH)))
    first, again = items.to_json(), items.to_json()
    assert first == again == RICH
    mine = {id(c) for c in _containers(first)}
    assert not mine & {id(c) for c in _containers(again)}
    for c in _containers(first):  # scribbled over: the model writes the same again
        if isinstance(c, dict):
            c["scribbled"] = 1
        else:
            c.append("scribbled")
    assert items.to_json() == again
