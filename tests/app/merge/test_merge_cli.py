"""`segmap merge` on items lists: paths as RedBrick resolves them, JSON output, errors."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from app.cli import main
from app.items import load_items
from app.merge import merge_series, series_inputs
from app.progress import run


def mask(path: Path, values: list[int]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.array(values, np.uint8).reshape(1, 1, -1), np.eye(4)), path)
    return path.name


@pytest.fixture
def case_iii(tmp_path):
    mask(tmp_path / "masks" / "liver.nii.gz", [1, 1, 0, 0])
    mask(tmp_path / "masks" / "tumor.nii.gz", [0, 1, 1, 0])
    items = [{"name": "case", "series": [{
        "items": "ct.nii.gz",
        "segmentations": ["masks/liver.nii.gz", "./masks/tumor.nii.gz"],
        "segmentMap": {"1": {"category": "liver", "mask": "./masks/liver.nii.gz"},
                       "2": {"category": "tumor", "mask": "masks/../masks/tumor.nii.gz"},
                       "binaryMask": True}}]}]
    f = tmp_path / "items.json"
    f.write_text(json.dumps(items))
    return f


def test_mask_paths_are_normalised_like_the_redbrick_cli(case_iii):
    items = load_items(case_iii)
    inputs = series_inputs(items, items.tasks[0], 0)
    assert inputs.masks == {"1": inputs.files[0], "2": inputs.files[1]}
    result = run(merge_series(items, items.tasks[0], 0))
    assert result.volume is not None and result.volume.ravel().tolist() == [1, 3, 2, 0]
    assert result.segments_json() == {"1": [3], "2": [3]}


def test_cli_merge_writes_the_volume_and_prints_json(case_iii, tmp_path, capsys):
    out = tmp_path / "out" / "merged.nii.gz"
    code = main(["merge", str(case_iii), "--task", "case", "--series", "0", "-o", str(out), "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == {"output": str(out), "segments": {"1": [3], "2": [3]}, "error": None,
                   "unchanged": False}
    assert np.asanyarray(nib.load(out).dataobj).ravel().tolist() == [1, 3, 2, 0]


def test_cli_merge_failure_exits_1_with_the_reason(case_iii, capsys):
    code = main(["merge", str(case_iii), "--task", "case", "--label-validate", "--json"])
    assert code == 0  # ids 1 and 2 are both present: validate passes
    capsys.readouterr()
    items = json.loads(case_iii.read_text())
    items[0]["series"][0]["segmentMap"]["3"] = "extra"
    case_iii.write_text(json.dumps(items))
    code = main(["merge", str(case_iii), "--task", "case", "--label-validate", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1 and doc["output"] is None and "[3] are in no file" in doc["error"]


def test_cli_merge_unknown_task_and_series(case_iii, capsys):
    assert main(["merge", str(case_iii), "--task", "nope"]) == 1
    assert "No task named 'nope'" in capsys.readouterr().err
    assert main(["merge", str(case_iii), "--task", "case", "--series", "3"]) == 1
    assert "no series 3" in capsys.readouterr().err


def test_folder_of_segmentations_is_merged_in_sorted_order(tmp_path):
    mask(tmp_path / "segs" / "b.nii.gz", [0, 2, 2, 0])
    mask(tmp_path / "segs" / "a.nii.gz", [1, 1, 0, 0])
    f = tmp_path / "items.json"
    f.write_text(json.dumps([{"name": "t", "series": [{"items": "x.nii.gz", "segmentations": "segs",
                                                     "segmentMap": {"1": "a", "2": "b"}}]}]))
    items = load_items(f)
    inputs = series_inputs(items, items.tasks[0], 0)
    assert [Path(p).name for p in inputs.files] == ["a.nii.gz", "b.nii.gz"]
