"""Matching by a CSV (or TSV) of task,mask_path: what it accepts and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import SegmapError
from app.upload import MatchBy, MatchCsvError, match_tasks

from .test_match import case, items_of, names, remote, rseries


@pytest.fixture
def two_cases(tmp_path):
    """Local tasks a, b (mask a/seg.nii.gz, b/seg.nii.gz) and remote tasks A (id-A), B."""
    items = items_of(tmp_path, case(tmp_path, "a"), case(tmp_path, "b"))
    return items, [remote("A", rseries()), remote("B", rseries())]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_rows_join_masks_to_tasks_by_name_or_id_with_extra_columns(tmp_path, two_cases):
    items, project = two_cases
    sheet = write(tmp_path / "lists" / "match.csv",
                  "\ufeffMask_Path , Task,note\n../a/seg.nii.gz,A,first\n"
                  f"{tmp_path / 'b' / 'seg.nii.gz'},id-B,absolute path and a task id\n\n")
    result = match_tasks(items, project, MatchBy.CSV, csv_path=sheet)
    assert names(result) == {0: "A", 1: "B"}
    assert [m.how for m in result.matches] == ["CSV row 2", "CSV row 3"]


@pytest.mark.parametrize("name, text", [
    ("match.tsv", "task\tmask_path\nA\ta/seg.nii.gz\nB\tb/seg.nii.gz\n"),  # by extension
    ("match.txt", "task\tmask_path\nA\ta/seg.nii.gz\nB\tb/seg.nii.gz\n"),  # sniffed
    ("match.csv", "task;mask_path\nA;a/seg.nii.gz\nB;b/seg.nii.gz\n"),  # Excel in Europe
])
def test_tab_and_semicolon_files(tmp_path, two_cases, name, text):
    items, project = two_cases
    result = match_tasks(items, project, MatchBy.CSV, csv_path=write(tmp_path / name, text))
    assert names(result) == {0: "A", 1: "B"}


@pytest.mark.parametrize("text, said", [
    ("task,mask\nA,a/seg.nii.gz\n", "no column 'mask_path'"),
    ("name,file\nA,a/seg.nii.gz\n", "no column 'task' or 'mask_path'"),
    ("", "is empty"),
    ("task,mask_path\nA,\n", "row 2: the `mask_path` cell is empty"),
    ("task,mask_path\nA,a/seg.nii.gz\n,b/seg.nii.gz\n", "row 3: the `task` cell is empty"),
    ("task,mask_path\nA,a/seg.nii.gz\nB,./a/../a/seg.nii.gz\n",
     "rows 2 and 3 both name the mask"),
    ("task,mask_path\nA,c/seg.nii.gz\n", "row 2: the mask c/seg.nii.gz"),
])
def test_a_file_that_cannot_be_used_is_one_clear_error(tmp_path, two_cases, text, said):
    items, project = two_cases
    sheet = write(tmp_path / "match.csv", text)
    with pytest.raises(MatchCsvError) as err:
        match_tasks(items, project, MatchBy.CSV, csv_path=sheet)
    assert said in err.value.message and str(sheet) in err.value.message
    assert err.value.hint  # and says what to do
    assert isinstance(err.value, SegmapError)  # the CLI prints it without a traceback


def test_an_unknown_task_leaves_only_its_local_task_unmatched(tmp_path, two_cases):
    items, project = two_cases
    sheet = write(tmp_path / "match.csv", "task,mask_path\nAA,a/seg.nii.gz\nB,b/seg.nii.gz\n")
    result = match_tasks(items, project, MatchBy.CSV, csv_path=sheet)
    assert names(result) == {1: "B"}
    (ti, reason), = result.unmatched_local
    assert ti == 0 and "row 2 names the task 'AA', which is not in the project" in reason
    assert [r.name for r in result.unmatched_remote] == ["A"]


def test_a_local_task_without_a_row_is_unmatched(tmp_path, two_cases):
    items, project = two_cases
    sheet = write(tmp_path / "match.csv", "task,mask_path\nA,a/seg.nii.gz\n")
    result = match_tasks(items, project, MatchBy.CSV, csv_path=sheet)
    assert names(result) == {0: "A"}
    assert result.unmatched_local == [(1, "no row of match.csv names any of its masks")]


def test_masks_of_one_task_sent_to_two_tasks_are_ambiguous(tmp_path):
    entry = case(tmp_path, "a")
    (tmp_path / "a" / "seg2.nii.gz").write_bytes((tmp_path / "a" / "seg.nii.gz").read_bytes())
    entry["series"][0]["segmentations"].append("a/seg2.nii.gz")
    items = items_of(tmp_path, entry)
    sheet = write(tmp_path / "match.csv",
                  "task,mask_path\nA,a/seg.nii.gz\nB,a/seg2.nii.gz\n")
    result = match_tasks(items, [remote("A", rseries()), remote("B", rseries())], MatchBy.CSV,
                         csv_path=sheet)
    assert not result.matches
    assert [r.name for r in result.ambiguous[0][1]] == ["A", "B"]


def test_two_local_tasks_sent_to_one_task_are_ambiguous(tmp_path, two_cases):
    items, project = two_cases
    sheet = write(tmp_path / "match.csv", "task,mask_path\nA,a/seg.nii.gz\nA,b/seg.nii.gz\n")
    result = match_tasks(items, project, MatchBy.CSV, csv_path=sheet)
    assert not result.matches and [ti for ti, _ in result.ambiguous] == [0, 1]


def test_a_csv_match_is_grid_checked_too(tmp_path):
    items = items_of(tmp_path, case(tmp_path, "a", mask_shape=(5, 3, 2)))
    sheet = write(tmp_path / "match.csv", "task,mask_path\nA,a/seg.nii.gz\n")
    result = match_tasks(items, [remote("A", rseries())], MatchBy.CSV, csv_path=sheet)
    assert not result.matches and "5x3x2" in result.refused[0][1]


def test_missing_or_absent_csv(tmp_path, two_cases):
    items, project = two_cases
    with pytest.raises(MatchCsvError, match="needs the CSV"):
        match_tasks(items, project, MatchBy.CSV)
    with pytest.raises(MatchCsvError, match="Cannot read the match CSV"):
        match_tasks(items, project, MatchBy.CSV, csv_path=tmp_path / "nope.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("task,mask_path\nA,caf\xe9.nii.gz\n".encode("latin-1"))
    with pytest.raises(MatchCsvError, match="not UTF-8"):
        match_tasks(items, project, MatchBy.CSV, csv_path=latin)
