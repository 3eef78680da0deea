"""Commands that work on a list as RedBrick reads it refuse a malformed one, by file and
place; merge never writes over what it reads (issue 16, items 10 and 15)."""

from __future__ import annotations

import hashlib
import json

import pytest

from app.cli import main
from tests.app.builders import seed


def _run(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "internal error" not in err
    return code, out + err


@pytest.mark.parametrize("command", ["export", "stats", "merge"])
@pytest.mark.parametrize("data", [[1, 2, 3], [{"name": 5, "series": "no"}],
                                  [{"name": "t", "series": [7]}]])
def test_a_malformed_list_is_refused_by_file_and_place(capsys, tmp_path, command, data):
    path = tmp_path / "items.json"
    path.write_text(json.dumps(data))
    extra = {"export": ["-o", tmp_path / "out.json"], "stats": ["--task", "t"],
             "merge": ["--task", "t"]}[command]
    code, text = _run(capsys, command, path, *extra)
    assert code == 1
    assert "items.json is not in RedBrick's items-list format" in text
    assert "Task #1" in text and "segmap validate" in text
    assert not (tmp_path / "out.json").exists()


def test_an_object_instead_of_a_list_names_the_file(capsys, tmp_path):
    path = tmp_path / "items.json"
    path.write_text('{"name": "t"}')
    code, text = _run(capsys, "export", path, "-o", tmp_path / "out.json")
    assert code == 1 and f"{path} is not an items list" in text and "an object" in text


def test_no_task_of_that_name_lists_the_names_there(capsys, tmp_path):
    path = seed(tmp_path, "I")
    code, text = _run(capsys, "stats", path, "--task", "nope")
    assert code == 1 and "No task named 'nope' in" in text and "case" in text.lower()


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("target", ["seg.nii.gz", "items.json", "link.nii.gz"])
def test_merge_never_writes_over_its_own_inputs(capsys, tmp_path, target):
    path = seed(tmp_path, "I")
    (tmp_path / "link.nii.gz").symlink_to(tmp_path / "seg.nii.gz")
    before = {p.name: _digest(p) for p in tmp_path.iterdir() if p.is_file()}
    task = json.loads(path.read_text())[0]["name"]
    code, text = _run(capsys, "merge", path, "--task", task, "-o", tmp_path / target)
    assert code == 1 and "it is an input of this command" in text
    assert {p.name: _digest(p) for p in tmp_path.iterdir() if p.is_file()} == before


def test_merge_writes_beside_its_inputs(capsys, tmp_path):
    path = seed(tmp_path, "II")
    task = json.loads(path.read_text())[0]["name"]
    code, text = _run(capsys, "merge", path, "--task", task, "-o", tmp_path / "merged.nii.gz")
    assert code == 0 and (tmp_path / "merged.nii.gz").is_file()
