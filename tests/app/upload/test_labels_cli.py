"""`segmap tasks` and `segmap label`: tables, matching said plainly, exit codes, no key shown."""

from __future__ import annotations

import json
import logging

import pytest

from app.cli import main

from ..rb_server import API_KEY, ORG, PROJECT, make_items
from .labels_helpers import seed


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("VIRTUAL_ENV", raising=False)
    monkeypatch.delenv("REDBRICK_PROFILE", raising=False)
    monkeypatch.setenv("REDBRICK_API_KEY", API_KEY)
    return monkeypatch


def where(rb) -> tuple[str, ...]:
    return ("--org", ORG, "--project", PROJECT, "--url", rb.url)


def test_tasks_prints_a_table_and_counts(rb, env, tmp_path, capsys):
    rb.add_task("ct-001", assignee="a@b.org", labels_data='[{"category":"liver"}]')
    rb.add_task("ct-002", stage="Output", series=[
        {"name": "CT", "itemsIndices": [0, 1, 2], "dataType": "DICOM"},
        {"name": "PET", "itemsIndices": [3], "dataType": "DICOM"}])
    assert main(["tasks", *where(rb)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["name", "stage", "series", "instances", "labels", "assignee"]
    assert out[1].split() == ["ct-001", "Label", "CT", "1", "yes", "a@b.org"]
    assert out[2].split() == ["ct-002", "Output", "CT,", "PET", "3+1", "no", "-"]
    assert out[3] == "2 task(s) (1 in Label, 1 in Output), 1 with labels, 1 without."
    assert main(["tasks", *where(rb), "--stage", "Output", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["count"] == 1 and answer["tasks"][0]["name"] == "ct-002"
    assert answer["tasks"][0]["series"][0]["instances"] == 3


def test_tasks_with_an_unknown_stage_or_a_wrong_key(rb, env, capsys):
    assert main(["tasks", *where(rb), "--stage", "Revew"]) == 1
    err = capsys.readouterr().err
    assert "no stage called 'Revew'; its stages are 'Label', 'Output'" in err
    assert "Traceback" not in err
    env.setenv("REDBRICK_API_KEY", "z" * 43)
    assert main(["tasks", *where(rb), "--json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["ok"] is False and "z" * 43 not in out + err


def test_label_matches_by_name_and_attaches(rb, env, tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    items_path = make_items(tmp_path, 3)
    seed(rb, items_path)
    rb.add_task("someone-else")
    code = main(["label", str(items_path), *where(rb), "--no-validate"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    assert "3 of 3 local task(s) matched a task of the project (4 task(s) there)." in out
    assert "1 task(s) in the project got no labels from this list: 'someone-else'" in out
    assert out.count("labels attached ") == 3 + 1  # a line each and the summary
    assert set(rb.attached.values()) == {1} and len(rb.attached) == 3
    journal = (tmp_path / "items.labels-journal.jsonl").read_text()
    for text in (out, err, journal, caplog.text):
        assert API_KEY not in text
    # Again: nothing sent, still success.
    assert main(["label", str(items_path), *where(rb), "--no-validate", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["ok"] and answer["labelsAttachedBefore"] == 3
    assert len(answer["match"]["matched"]) == 3


def test_label_says_what_did_not_match_and_exits_1(rb, env, tmp_path, capsys):
    items_path = make_items(tmp_path, 3)
    tasks = json.loads(items_path.read_text())
    seed(rb, items_path)
    rb.tasks.pop(next(iter(rb.tasks)))  # case-000-I is not in the project
    items_path.write_text(json.dumps(tasks))
    code = main(["label", str(items_path), *where(rb), "--no-validate", "--json"])
    out, _ = capsys.readouterr()
    answer = json.loads(out)
    assert code == 1 and answer["ok"] is False
    assert [u["name"] for u in answer["match"]["unmatchedLocal"]] == ["case-000-I"]
    assert answer["labelsAttached"] == 2


def test_label_refuses_to_replace_without_replace(rb, env, tmp_path, capsys):
    items_path = make_items(tmp_path, 1)
    seed(rb, items_path, labels_data='[{"category":"liver"}]')
    assert main(["label", str(items_path), *where(rb), "--no-validate"]) == 1
    err = capsys.readouterr().err
    assert "already have labels" in err and "--replace" in err and "'case-000-I'" in err
    assert rb.mutations() == []
    assert main(["label", str(items_path), *where(rb), "--no-validate", "--replace"]) == 0
    assert len(rb.attached) == 1


def test_label_into_a_stage_finalizes_unless_told(rb, env, tmp_path, capsys):
    items_path = make_items(tmp_path, 2)
    seed(rb, items_path)
    assert main(["label", str(items_path), *where(rb), "--no-validate", "--stage", "Label",
                 "--no-finalize"]) == 0
    assert {v["finished"] for v in rb.variables("putTaskAndLabelsSDK")} == {False}
    assert main(["label", str(items_path), *where(rb), "--no-validate", "--stage", "Nope"]) == 1
    assert "no stage called 'Nope'" in capsys.readouterr().err


def test_label_bad_match_option_and_dry_run(rb, env, tmp_path, capsys):
    items_path = make_items(tmp_path, 1)
    seed(rb, items_path)
    assert main(["label", str(items_path), *where(rb), "--match", "colour"]) == 1
    assert "is not a way to match" in capsys.readouterr().err
    assert main(["label", str(items_path), *where(rb), "--match", "csv"]) == 1
    assert "--match csv:FILE" in capsys.readouterr().err
    assert main(["label", str(items_path), *where(rb), "--dry-run", "--no-validate"]) == 0
    assert "Dry run: 1 task(s), 1 ready" in capsys.readouterr().out
    assert rb.mutations() == []


def test_label_by_series_name_says_ambiguous_tasks_and_sends_nothing(rb, env, tmp_path, capsys):
    items_path = make_items(tmp_path, 2)
    seed(rb, items_path)  # every task has one series called CT
    code = main(["label", str(items_path), *where(rb), "--match", "series", "--no-validate"])
    out, err = capsys.readouterr()
    assert code == 1
    assert out.count("ambiguous") == 2 and "none is used" in out
    assert "no local task matches" in err
    assert rb.mutations() == []


def test_label_by_a_csv_of_mask_files(rb, env, tmp_path, capsys):
    items_path = make_items(tmp_path, 2)
    ids = seed(rb, items_path)
    rb.tasks[ids[0]]["name"], rb.tasks[ids[1]]["name"] = "scan-A", "scan-B"
    csv = tmp_path / "pairs.csv"
    csv.write_text("task,mask_path\nscan-B,case-000-I/seg.nii.gz\n"
                   f"{ids[0]},case-001-II/s1.nii.gz\n")
    code = main(["label", str(items_path), *where(rb), "--match", f"csv:{csv}",
                 "--no-validate", "--json"])
    answer = json.loads(capsys.readouterr().out)
    assert code == 0, answer
    assert {m["name"]: m["taskId"] for m in answer["match"]["matched"]} == {
        "case-000-I": ids[1], "case-001-II": ids[0]}
    assert set(rb.attached) == set(ids)
