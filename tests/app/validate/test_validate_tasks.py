"""Validation of the list's structure, the code table, progress and the census cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import app.validate
import app.validate._files
from app.items import load_items
from app.progress import Progress
from app.validate import Code, FileCache, Finding, validate, validate_work

from ..builders import check, codes, image, items_file, nifti, only, seed, volume

HERE = Path(__file__).parents[1]  # tests/app: every package's tests


def good_series(folder: Path) -> dict:
    image(folder / "img.nii.gz")
    nifti(folder / "seg.nii.gz", volume({(0, 0, 0): 1}))
    return {"items": "img.nii.gz", "segmentations": "seg.nii.gz", "segmentMap": {"1": "a"}}


def test_code_table_is_complete_and_every_code_is_tested():
    assert len(Code) >= 50
    assert {c.severity for c in Code} == {"error", "warning", "info"}
    sources = "".join(p.read_text() for p in HERE.rglob("test_*.py"))
    untested = [c for c in Code if f'"{c}"' not in sources]
    assert untested == []


def test_the_documented_code_table_is_the_codes():
    """The table in app.validate's docstring lists exactly the codes, severities, meanings."""
    doc = app.validate.__doc__ or ""
    rows = [tuple(c.strip() for c in line.strip().strip("|").split("|"))
            for line in doc.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0] == ("code", "severity", "meaning")
    assert rows[1:] == [(c.value, c.severity.value, c.meaning) for c in Code]


def test_finding_json_has_the_documented_keys():
    f = app.validate.finding("overlap", "m", task="t", series=0, file=Path("a"), value=3)
    assert f.to_json() == {"severity": "warning", "code": "overlap", "task": "t", "series": 0,
                           "file": "a", "value": 3, "message": "m"}
    with pytest.raises(AttributeError):
        f.code = "x"  # type: ignore[misc]


def test_format_problems_become_findings(tmp_path):
    s = good_series(tmp_path)
    s["segmentations"] = 5
    found = only(check(tmp_path, s), "format")
    assert found and "`segmentations`" in found[0].message and found[0].series == 0


def test_no_tasks(tmp_path):
    assert codes(check(tmp_path, tasks=[])) == {"no-tasks"}


def test_task_name_missing_uses_redbricks_name(tmp_path):
    s = good_series(tmp_path)
    found = check(tmp_path, tasks=[{"series": [s]}])
    [f] = only(found, "task-name-missing")
    assert f.task == "img.nii.gz" and f.severity == "warning"


def test_task_name_duplicate(tmp_path):
    s = good_series(tmp_path)
    found = check(tmp_path, tasks=[{"name": "a", "series": [s]}, {"name": "a", "series": [s]},
                                   {"name": "b", "series": [s]}])
    assert [f.task for f in only(found, "task-name-duplicate")] == ["a"]


def test_task_no_series(tmp_path):
    assert "task-no-series" in codes(check(tmp_path, tasks=[{"name": "a", "series": []}]))


@pytest.mark.parametrize("priority", [1.5, -0.1, "high", True])
def test_priority_range(tmp_path, priority):
    s = good_series(tmp_path)
    assert "priority-range" in codes(check(tmp_path, tasks=[
        {"name": "a", "priority": priority, "series": [s]}]))
    assert "priority-range" not in codes(check(tmp_path, tasks=[
        {"name": "a", "priority": 0.5, "series": [s]}]))


def test_task_segment_map_flag(tmp_path):
    s = good_series(tmp_path)
    s.pop("segmentMap")
    found = check(tmp_path, tasks=[{"name": "a", "series": [s],
                                    "segmentMap": {"1": "a", "binaryMask": True}}])
    assert "task-segment-map-flag" in codes(found)
    assert "task-segment-map-flag" not in codes(check(tmp_path, tasks=[
        {"name": "a", "series": [s], "segmentMap": {"1": "a"}}]))


def test_task_level_map_applies_to_its_series(tmp_path):
    s = good_series(tmp_path)
    s.pop("segmentMap")
    found = check(tmp_path, tasks=[{"name": "a", "series": [s], "segmentMap": {"2": "b"}}])
    assert {"mapped-value-absent", "unmapped-value"} <= codes(found)


def test_series_name_duplicate(tmp_path):
    s = {**good_series(tmp_path), "name": "ct"}
    assert "series-name-duplicate" in codes(check(tmp_path, [s, s]))
    assert "series-name-duplicate" not in codes(check(tmp_path, [s, {**s, "name": "pet"}]))


def test_no_segment_map_is_one_unmapped_finding(tmp_path):
    s = good_series(tmp_path)
    s.pop("segmentMap")
    nifti(tmp_path / "seg.nii.gz", volume({(0, 0, 0): 1, (1, 1, 1): 2, (2, 2, 1): 3}))
    [f] = only(check(tmp_path, s), "unmapped-value")
    assert "no segmentMap" in f.message and "1, 2, 3" in f.message


def test_items_missing(tmp_path):
    s = good_series(tmp_path)
    s.pop("items")
    assert "items-missing" in codes(check(tmp_path, s))


def test_no_segmentations(tmp_path):
    s = good_series(tmp_path)
    s.pop("segmentations")
    assert "no-segmentations" in codes(check(tmp_path, s))


def test_findings_are_grouped_by_task_errors_first(tmp_path):
    s = good_series(tmp_path)
    bad = {**s, "segmentMap": {"1": "a", "9": "b", "0": "c"}}
    found = check(tmp_path, tasks=[{"name": "x", "series": [s]}, {"name": "y", "series": [bad]}])
    assert found[0].code == "taxonomy-not-checked" and found[0].task is None
    assert [f.task for f in found[1:]] == ["y", "y"]
    assert [f.severity for f in found[1:]] == ["error", "warning"]


def test_root_overrides_the_list_folder(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    s = good_series(data)
    path = items_file(tmp_path, [{"name": "a", "series": [s]}])
    assert "file-missing" in codes(validate(load_items(path)))
    assert codes(validate(load_items(path), root=data)) == {"taxonomy-not-checked"}


def test_progress_per_series_and_result(tmp_path):
    s = good_series(tmp_path)
    path = items_file(tmp_path, [{"name": "a", "series": [s, s]}, {"name": "b", "series": [s]}])
    work = validate_work(load_items(path))
    steps = []
    while True:
        try:
            steps.append(next(work))
        except StopIteration as stop:
            result = stop.value
            break
    assert all(isinstance(p, Progress) and p.total == 3 for p in steps)
    assert [p.done for p in steps] == [0, 1, 2]
    assert all(isinstance(f, Finding) for f in result)


def test_each_file_is_censused_once_and_the_cache_survives_runs(tmp_path, monkeypatch):
    calls: list[str] = []
    real = app.validate._files.census

    def counting(path, info=None, **kw):
        calls.append(str(path))
        return real(path, info, **kw)

    monkeypatch.setattr(app.validate._files, "census", counting)
    s = good_series(tmp_path)
    path = items_file(tmp_path, [{"name": n, "series": [s, s]} for n in "abc"])
    cache = FileCache()
    items = load_items(path)
    app.progress.run(validate_work(items, cache=cache))
    assert len(calls) == 1
    app.progress.run(validate_work(items, cache=cache))
    assert len(calls) == 1
    nifti(tmp_path / "seg.nii.gz", volume({(0, 0, 0): 1, (1, 1, 1): 2}))  # changed on disk
    found = app.progress.run(validate_work(items, cache=cache))
    assert len(calls) == 2 and "unmapped-value" in codes(found)


def test_png_masks_merge_clean(tmp_path):
    from PIL import Image
    seed(tmp_path, "III")
    rgb = np.zeros((3, 4, 3), np.uint8)
    rgb[0, 0] = 255
    Image.fromarray(rgb).save(tmp_path / "p1.png")
    rgb[0, 0], rgb[2, 3] = 0, 255
    Image.fromarray(rgb).save(tmp_path / "p2.png")
    smap = {"1": {"category": "a", "mask": "p1.png"}, "2": {"category": "b", "mask": "p2.png"},
            "binaryMask": True}
    found = check(tmp_path, {"items": "img.nii.gz", "segmentations": ["p1.png", "p2.png"],
                             "segmentMap": smap, "pngMask": True})
    assert codes(found) == {"taxonomy-not-checked"}
    assert "file-missing" in codes(check(tmp_path, {
        "items": "img.nii.gz", "segmentations": ["p1.png", "p3.png"], "segmentMap": smap,
        "pngMask": True}))


def test_seed_list_round_trips_untouched(tmp_path):
    path = seed(tmp_path, "II")
    before = path.read_bytes()
    validate(load_items(path))
    assert path.read_bytes() == before and json.loads(before)


def test_cancel_in_the_middle_of_an_overlap_merge(tmp_path):
    path = seed(tmp_path, "III")
    work = validate_work(load_items(path))
    messages = []
    for p in work:
        messages.append(p.message)
        if "Reading" in p.message:  # inside the RedBrick-identical merge
            break
    assert "Reading" in messages[-1]
    work.close()  # what the wizard's worker does on cancel: no exception, nothing left open
