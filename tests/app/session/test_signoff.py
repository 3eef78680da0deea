"""A case's sign-off: an edit like any other (undoable, autosaved), and, when asked, each
task's metaData on export (RedBrick's {string: string}, shown in its viewer)."""

from __future__ import annotations

import json

import pytest

from app.items import load_items, load_taxonomy
from app.progress import run
from app.session import (
    REVIEW_KEYS,
    Review,
    SignOff,
    load_session,
    open_folder,
    open_items,
    save_session,
    session_json,
    sign_off_of,
    with_sign_off,
)


@pytest.fixture
def session(demo_dataset):
    return run(open_folder(demo_dataset.root, load_taxonomy(demo_dataset.taxonomy_json)))


def test_now_names_the_user_and_the_utc_time(monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "dr.who")
    s = SignOff.now(Review.REVIEWED, "  fine  ")
    assert (s.by, s.comment) == ("dr.who", "fine")
    assert s.at.endswith("+00:00") and "T" in s.at


def test_no_user_name_is_no_name_not_a_crash(monkeypatch):
    def fail() -> str:
        raise OSError("no user")
    monkeypatch.setattr("getpass.getuser", fail)
    assert SignOff.now(Review.NEEDS_WORK).by == ""


def test_setting_a_sign_off_is_a_review_change_of_that_case_and_undoable(session):
    case = session.cases[0]
    before = session.snapshot([case.name])
    change = session.set_sign_off(case, SignOff(Review.NEEDS_WORK, "liver cut", "a", "t1"))
    assert change.reviews == {case.name} and not change.mapping and not change.nothing
    assert case.sign_off is not None and case.sign_off.review is Review.NEEDS_WORK
    session.restore(before)
    assert session.case(case.name).sign_off is None


def test_the_same_word_again_changes_nothing(session):
    case = session.cases[0]
    session.set_sign_off(case, SignOff(Review.REVIEWED, "ok", "a", "t1"))
    assert session.set_sign_off(case, SignOff(Review.REVIEWED, "ok", "b", "t2")).nothing
    assert case.sign_off is not None and case.sign_off.at == "t1"
    assert not session.set_sign_off(case, SignOff(Review.REVIEWED, "ok!", "b", "t2")).nothing
    assert not session.set_sign_off(case, None).nothing
    assert case.sign_off is None
    assert session.set_sign_off(case, None).nothing


def test_the_autosave_keeps_sign_offs(session, tmp_path):
    case = session.cases[1]
    word = SignOff(Review.REVIEWED, "checked all slices", "dr.who", "2026-12-02T02:40:00+00:00")
    session.set_sign_off(case, word)
    path = save_session(session, tmp_path / "autosave.json")
    back = load_session(path)
    assert back.case(case.name).sign_off == word
    assert [c.sign_off for c in back.cases if c.name != case.name] == [None] * 2


def test_an_autosave_from_before_sign_offs_still_loads(session, tmp_path):
    data = session_json(session)
    for c in data["cases"]:
        del c["sign_off"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    assert all(c.sign_off is None for c in load_session(path).cases)


def test_sign_offs_go_into_task_metadata_only_when_asked(session):
    case = session.cases[0]
    session.set_sign_off(case, SignOff(Review.NEEDS_WORK, "spleen missing", "dr.who",
                                       "2026-12-02T02:40:00+00:00"))
    plain = session.included_items()
    assert all("metaData" not in t.to_json() for t in plain.tasks)
    tasks = {t.name: t.to_json() for t in session.included_items(sign_offs_in_metadata=True).tasks}
    assert tasks[case.name]["metaData"] == {
        "segmapReview": "needs work", "segmapReviewComment": "spleen missing",
        "segmapReviewedBy": "dr.who", "segmapReviewedAt": "2026-12-02T02:40:00+00:00"}
    others = [t for name, t in tasks.items() if name != case.name]
    assert others and all("metaData" not in t for t in others)
    # the session's own task is untouched: the copy carries the sign-off
    assert "metaData" not in case.task.to_json()
    assert all(isinstance(v, str) for v in tasks[case.name]["metaData"].values())


def test_other_metadata_is_kept_and_an_old_review_is_dropped(session):
    case = session.cases[0]
    case.task.extra["metaData"] = {"site": "A", "segmapReview": "reviewed",
                                   "segmapReviewedBy": "someone"}
    out = with_sign_off(case.task, None).to_json()["metaData"]
    assert out == {"site": "A"}
    word = SignOff(Review.REVIEWED)
    assert with_sign_off(case.task, word).to_json()["metaData"] == {"site": "A",
                                                                   "segmapReview": "reviewed"}
    assert set(REVIEW_KEYS) >= {"segmapReview", "segmapReviewComment"}


def test_metadata_that_is_not_an_object_is_left_for_validation(session):
    case = session.cases[0]
    case.task.extra["metaData"] = "not an object"
    out = with_sign_off(case.task, SignOff(Review.REVIEWED)).to_json()
    assert out["metaData"] == "not an object"


def test_an_exported_list_carries_the_sign_off(session, tmp_path):
    case = session.cases[2]
    session.set_sign_off(case, SignOff(Review.REVIEWED, "", "dr.who", "t"))
    summary = session.export(tmp_path / "items.json", sign_offs_in_metadata=True)
    tasks = {t.name: t for t in load_items(summary.path).tasks}
    assert tasks[case.name].extra["metaData"] == {"segmapReview": "reviewed",
                                                  "segmapReviewedBy": "dr.who",
                                                  "segmapReviewedAt": "t"}


def test_a_frozen_copy_keeps_its_sign_offs_while_the_session_changes(session):
    case = session.cases[0]
    session.set_sign_off(case, SignOff(Review.REVIEWED, "ok", "a", "t"))
    copy = session.frozen()
    session.set_sign_off(case, None)
    session.set_included(session.cases[1], False)
    twin = copy.case(case.name)
    assert twin.sign_off is not None and twin.sign_off.comment == "ok"
    assert all(c.included for c in copy.cases)
    assert all(any(c.task is t for t in copy.items.tasks) for c in copy.cases)
    assert copy.cache is session.cache and copy.taxonomy is session.taxonomy


def test_a_list_exported_with_sign_offs_opens_with_them(session, tmp_path):
    word = SignOff(Review.NEEDS_WORK, "liver", "dr.who", "2026-12-02T02:40:00+00:00")
    session.set_sign_off(session.cases[0], word)
    summary = session.export(tmp_path / "items.json", sign_offs_in_metadata=True)
    again = run(open_items(summary.path))
    assert [c.sign_off for c in again.cases] == [word, None, None]


def test_sign_offs_already_in_a_list_follow_the_session_even_without_the_option(session,
                                                                                 tmp_path):
    session.set_sign_off(session.cases[0], SignOff(Review.REVIEWED, "", "a", "t"))
    summary = session.export(tmp_path / "items.json", sign_offs_in_metadata=True)
    again = run(open_items(summary.path))
    again.set_sign_off(again.cases[0], SignOff(Review.NEEDS_WORK, "no", "b", "t2"))
    meta = again.included_items().tasks[0].to_json()["metaData"]
    assert meta["segmapReview"] == "needs work" and meta["segmapReviewedBy"] == "b"
    again.set_sign_off(again.cases[0], None)
    assert again.included_items().tasks[0].to_json().get("metaData") == {}


def test_metadata_that_is_not_a_sign_off_gives_none(session):
    task = session.cases[0].task
    for meta in ({"segmapReview": "perhaps"}, {"segmapReview": 1}, {"site": "A"}, "x", None):
        task.extra["metaData"] = meta
        assert sign_off_of(task) is None
