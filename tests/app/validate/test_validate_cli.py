"""`segmap validate`: JSON and human output, exit codes, and bad input without tracebacks."""

from __future__ import annotations

import copy
import json
import os

import pytest

from app.cli import main

from ..builders import image, items_file, nifti, seed, taxonomy_v2, volume


def run(capsys, *argv):
    code = main(["validate", *map(str, argv)])
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "internal error" not in err
    return code, out, err


@pytest.fixture
def clean(tmp_path):
    path = seed(tmp_path, "II")
    taxonomy_v2(["category-a", "category-b"], tmp_path / "tax.json")
    return path


def test_clean_list_exits_0(capsys, clean):
    code, out, _ = run(capsys, clean, "--taxonomy", clean.parent / "tax.json", "-q")
    assert code == 0 and out.strip() == "0 errors, 0 warnings, 0 notes in 1 task: ready to upload."


def test_json_output(capsys, clean):
    nifti(clean.parent / "s2.nii.gz", volume({(3, 2, 1): 5}))
    code, out, _ = run(capsys, clean, "--taxonomy", clean.parent / "tax.json", "--json")
    data = json.loads(out)
    assert code == 1 and set(data) == {"findings", "errors", "warnings"}
    assert {f["code"] for f in data["findings"]} == {"mapped-value-absent", "unmapped-value"}
    assert data["errors"] == 1 and data["warnings"] == 1
    for f in data["findings"]:
        assert set(f) == {"severity", "code", "task", "series", "file", "value", "message"}


def test_human_output_grouped_by_task_errors_first(capsys, tmp_path):
    path = seed(tmp_path, "I")
    tasks = json.loads(path.read_text())
    tasks.append({**copy.deepcopy(tasks[0]), "name": "case-2"})
    tasks[1]["series"][0]["segmentMap"] = {"1": "category-a", "3": "category-b"}
    items_file(tmp_path, tasks)
    code, out, _ = run(capsys, path, "-q")
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == "Items list" and "Task 'case-2'" in lines
    task_at = lines.index("Task 'case-2'")
    heads = [line.split()[0] for line in lines[task_at + 1:] if line.startswith("  ")
             and not line.startswith("   ")]
    assert heads == ["ERROR", "WARNING"]
    assert lines[-1].startswith("1 error, 1 warning, 1 note in 2 tasks: fix the errors")


def test_warnings_only_exit_0(capsys, clean):
    nifti(clean.parent / "s2.nii.gz", volume({(2, 1, 1): 2, (3, 2, 1): 7}))
    code, out, _ = run(capsys, clean, "--taxonomy", clean.parent / "tax.json", "-q")
    assert code == 0 and "unmapped-value" in out


def test_root_option(capsys, tmp_path):
    data = tmp_path / "data"
    seed(data, "I")
    path = items_file(tmp_path, json.loads((data / "items.json").read_text()))
    assert run(capsys, path, "-q")[0] == 1
    assert run(capsys, path, "--root", data, "-q")[0] == 0


def test_progress_goes_to_stderr(capsys, clean):
    code, out, err = run(capsys, clean, "--json")
    assert code == 0 and "validate:" in err and json.loads(out)


@pytest.mark.parametrize("argv", [[], ["a.json", "--bogus"], ["a.json", "--taxonomy"]])
def test_usage_errors_exit_2(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(["validate", *argv])
    assert exc.value.code == 2


def test_malformed_json_says_line_and_column(capsys, tmp_path):
    path = tmp_path / "items.json"
    path.write_text('[\n  {"name": "a",\n   "series": [}\n]')
    code, _, err = run(capsys, path)
    assert code == 1 and "line 3, column" in err and "hint:" in err


def test_wrong_top_level_type(capsys, tmp_path):
    path = tmp_path / "items.json"
    path.write_text('{"name": "a"}')
    code, _, err = run(capsys, path)
    assert code == 1 and "JSON array of tasks" in err


def test_wrong_field_types_are_findings(capsys, tmp_path):
    image(tmp_path / "img.nii.gz")
    path = items_file(tmp_path, [{"name": 3, "series": [{"items": "img.nii.gz",
                                                         "segmentMap": {"x": 1}}]}])
    code, out, _ = run(capsys, path, "--json")
    got = {f["code"] for f in json.loads(out)["findings"]}
    assert code == 1 and "format" in got


def test_missing_items_file(capsys, tmp_path):
    code, _, err = run(capsys, tmp_path / "nope.json")
    assert code == 1 and "not found" in err


def test_directory_instead_of_items_file(capsys, tmp_path):
    code, _, err = run(capsys, tmp_path)
    assert code == 1 and "is a folder" in err


def test_unreadable_items_file(capsys, tmp_path, monkeypatch):
    path = seed(tmp_path, "I")
    real = os.open

    def denied(file, *args, **kwargs):
        if os.fspath(file).endswith("items.json"):
            raise PermissionError(13, "Permission denied")
        return real(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    code, _, err = run(capsys, path)
    assert code == 1 and "Permission denied" in err


def test_corrupt_gzip_mask_is_a_finding_not_a_crash(capsys, tmp_path):
    path = seed(tmp_path, "I")
    (tmp_path / "seg.nii.gz").write_bytes(b"\x1f\x8b\x08\x00garbage-garbage-garbage")
    code, out, _ = run(capsys, path, "--json")
    assert code == 1 and "file-corrupt" in {f["code"] for f in json.loads(out)["findings"]}


def test_directory_given_as_a_mask_file(capsys, tmp_path):
    path = seed(tmp_path, "III")
    tasks = json.loads(path.read_text())
    (tmp_path / "m9.nii.gz").mkdir()
    tasks[0]["series"][0]["segmentMap"]["2"]["mask"] = "m9.nii.gz"
    tasks[0]["series"][0]["segmentations"] = ["m1.nii.gz", "m9.nii.gz"]
    items_file(tmp_path, tasks)
    code, out, _ = run(capsys, path, "--json")
    # RedBrick lists a folder only when it is the one entry: among several it fails the task.
    found = {f["code"]: f["message"] for f in json.loads(out)["findings"]}
    assert code == 1 and "one entry" in found["file-unreadable"]
    assert "mask-not-listed" not in found  # the mask names that entry exactly


@pytest.mark.parametrize(("content", "expect"), [
    ('{"isNew": true, "objectTypes": [{"category": "a", "labelType": "SEGMENTATION"}]}',
     "object_types->0 has no `classId`"),
    ('{"objectTypes": [', "malformed JSON at line 1"),
    ('["a", 3]', "must be an object"),
])
def test_bad_taxonomy(capsys, clean, content, expect):
    tax = clean.parent / "tax.json"
    tax.write_text(content)
    code, _, err = run(capsys, clean, "--taxonomy", tax)
    assert code == 1 and expect in err and str(tax) in err


def test_missing_taxonomy(capsys, clean):
    code, _, err = run(capsys, clean, "--taxonomy", clean.parent / "none.json")
    assert code == 1 and "not found" in err
