"""Validation on real data: TotalSegmentator's reference files, and the demo dataset."""

from __future__ import annotations

import json

import pytest

from app.items import load_items
from app.validate import validate

from ..builders import codes, only


@pytest.fixture
def ts(shared_data):
    return shared_data / "totalsegmentator" / "tests" / "reference_files"


@pytest.mark.shared_data
def test_totalsegmentator_binary_masks(tmp_path, ts):
    masks = sorted(p for p in (ts / "example_seg_fast").glob("*.nii.gz"))
    assert len(masks) == 117
    smap = {str(i): {"category": m.name[:-7], "mask": str(m)} for i, m in enumerate(masks, 1)}
    task = {"name": "ts", "series": [{"items": str(ts / "example_ct_sm.nii.gz"),
                                      "segmentations": [str(m) for m in masks],
                                      "segmentMap": {**smap, "binaryMask": True}}]}
    (tmp_path / "items.json").write_text(json.dumps([task]))
    found = validate(load_items(tmp_path / "items.json"))
    # Structures outside the field of view have empty masks; nothing else is wrong.
    assert codes(found) == {"taxonomy-not-checked", "empty-mask"}
    assert all(f.severity != "error" for f in found)


@pytest.mark.shared_data
def test_totalsegmentator_multilabel_pairs(tmp_path, ts):
    def series(image):
        return {"items": str(ts / image), "segmentations": str(ts / "example_seg.nii.gz"),
                "segmentMap": {"1": "spleen", "5": "liver"}}
    tasks = [{"name": "good", "series": [series("example_ct_sm.nii.gz")]},
             {"name": "bad", "series": [series("example_ct.nii.gz")]}]
    (tmp_path / "items.json").write_text(json.dumps(tasks))
    found = validate(load_items(tmp_path / "items.json"))
    assert not [f for f in found if f.task == "good" and f.severity == "error"]
    [grid] = [f for f in found if f.task == "bad" and f.code.startswith("grid-")]
    assert grid.severity == "error" and "122x101x112" in grid.message
    assert only(found, "unmapped-value")  # the other TotalSegmentator labels


def test_demo_shows_exactly_its_deliberate_problems(demo_dataset):
    from app.items import load_taxonomy

    items = load_items(demo_dataset.items_json)
    found = validate(items, load_taxonomy(demo_dataset.taxonomy_json))
    problems = [(f.task, f.code, f.value) for f in found if f.severity != "info"]
    assert problems == [("demo-I-one-multilabel-file", "unmapped-value", 7),
                        ("demo-III-binary-mask-per-organ", "overlap", 7)]
    # Until DICOM geometry lands in app.readers._volumes, the DICOM series are only noted.
    assert {f.code for f in found if f.severity == "info"} <= {"grid-not-checked"}
