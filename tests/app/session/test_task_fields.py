"""Task names and fields in the session: edits like any other (undoable, autosaved), in what
validation and export get, with findings still naming the case."""

from __future__ import annotations

import json

import pytest

from app.errors import InputError
from app.items import load_items, load_taxonomy
from app.progress import run
from app.session import load_session, open_folder, save_session


@pytest.fixture
def session(demo_dataset):
    return run(open_folder(demo_dataset.root, load_taxonomy(demo_dataset.taxonomy_json)))


def test_pattern_and_own_names_are_undoable_and_unique(session):
    first, second = session.cases[:2]
    assert session.task_name(first) == first.name  # no pattern: the case id
    before = session.snapshot()
    change = session.set_name_pattern("{patient_id}-{modality}")
    assert change.mapping == {c.name for c in session.cases}
    names = [session.task_name(c) for c in session.cases]
    assert names[0] == "SEGMAP-DEMO-001-CT" and names[1] == "SEGMAP-DEMO-001-CT-2"
    assert any("taken by an earlier case" in n for n in session.task_names().notes)
    session.set_task_name(second, "own {case}")
    assert session.task_name(second) == f"own {second.name}"
    with pytest.raises(InputError):
        session.set_name_pattern("{nope}")
    assert session.name_pattern == "{patient_id}-{modality}"  # unchanged
    session.restore(before)
    assert session.name_pattern is None
    assert [session.task_name(c) for c in session.cases] == [c.name for c in session.cases]


def test_fields_csv_autosave_validation_and_export(session, tmp_path):
    case = session.cases[0]
    csv = tmp_path / "fields.csv"
    csv.write_text(f"case,name,priority,meta.site,preassign.Label\n"
                   f"{case.name},T-{{case}},1.5,A,not-an-email\n")
    session.set_task_name(session.cases[1], "kept")
    change = session.load_task_fields(csv)
    assert change.mapping == {case.name} and case.fields.priority == 1.5
    assert session.task_name(case) == f"T-{case.name}"
    assert case.task.name == case.name  # the session's task keeps the case id
    # Autosaved and restored as they were.
    saved = load_session(save_session(session, tmp_path / "s.json"))
    assert [c.fields for c in saved.cases] == [c.fields for c in session.cases]
    assert saved.task_name(saved.cases[1]) == "kept"
    # Validation finds the bad values and names the case, as every page finds it.
    found = run(session.validate_work())
    bad = {f.code: f.task for f in found if f.code in ("priority-range", "preassign-email")}
    assert bad == {"priority-range": case.name, "preassign-email": case.name}
    # Export writes them; the list reads back unchanged.
    out = tmp_path / "out" / "items.json"
    session.export(out)
    tasks = {t["name"]: t for t in json.loads(out.read_text())}
    task = tasks[f"T-{case.name}"]
    assert (task["priority"], task["metaData"], task["preAssign"]) == (
        1.5, {"site": "A"}, {"Label": "not-an-email"})
    assert "kept" in tasks
    assert load_items(out).to_json() == json.loads(out.read_text())


def test_a_bad_csv_changes_nothing(session, tmp_path):
    csv = tmp_path / "fields.csv"
    csv.write_text("case,priority\nnobody,0.5\n")
    with pytest.raises(InputError) as exc:
        session.load_task_fields(csv)
    assert "row 2" in exc.value.message
    assert all(c.fields.empty for c in session.cases)


def test_a_case_left_out_never_takes_a_name_from_one_exported(session):
    first, second = session.cases[:2]
    session.set_name_pattern("{patient_id}")
    session.set_included(first, False)
    assert session.task_name(second) == "SEGMAP-DEMO-001"
    assert session.task_name(first) != "SEGMAP-DEMO-001"
    assert [t.name for t in session.included_items().tasks].count("SEGMAP-DEMO-001") == 1
