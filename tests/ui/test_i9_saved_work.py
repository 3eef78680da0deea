"""Unexported work is offered back only when there is some, in words, and never at the
cost of the source the user asked for."""

from __future__ import annotations

import argparse

import pytest

from tests.ui.mixed import mixed_folder
from ui import saved_work
from ui.__main__ import start
from ui.pages.export_page import ExportPage
from ui.pages.source_page import SourcePage
from ui.pages.validate_page import ValidatePage
from ui.saved_work import Choice


@pytest.fixture
def asked(monkeypatch):
    """Every question the wizard asks, answered from ``asked.answers`` (default: cancel)."""
    class Asked(list):
        answers: list[Choice] = []

    questions = Asked()

    def ask(_parent, title, text, buttons):
        questions.append((title, text, [b[0] for b in buttons]))
        return questions.answers.pop(0) if questions.answers else Choice.CANCEL

    monkeypatch.setattr(saved_work, "ask", ask)
    return questions


def _open(qtbot, window, path):
    window.page(SourcePage).open_path(path, go_on=False)
    qtbot.waitUntil(lambda: not window.busy(), timeout=60_000)


def _map_something(window, name):
    state = window.state
    case = state.session.case(name)
    row = state.session.rows(case)[0]
    state.edit(lambda s: s.set_category(case, row, "Aorta"), "map", [case])
    state.save_now()


def _args(**kw):
    return argparse.Namespace(path=kw.get("path"), demo=False, taxonomy=None)


def test_nothing_is_offered_without_unexported_work(qtbot, window, tmp_path, asked):
    mixed = mixed_folder(tmp_path / "data")
    _open(qtbot, window, mixed.root)
    window.state.save_now()  # opened and looked at, nothing changed: nothing to keep
    assert window.state.saved_work_for() is None
    _map_something(window, mixed.unnamed)
    assert window.state.saved_work_for() is not None
    validate = window.page(ValidatePage)
    window.go_to(window.page_index(validate))
    qtbot.waitUntil(lambda: not window.busy(), timeout=60_000)
    validate.accept_warnings.setChecked(True)
    export = window.page(ExportPage)
    window.go_to(window.page_index(export))
    export.path_edit.setText(str(tmp_path / "out" / "items.json"))
    assert export.export() is not None
    window.state.save_now()  # a clean close right after the export
    assert window.state.saved_work_for() is None
    start(window, window.state, _args())
    assert asked == []


def test_the_offer_says_what_the_work_is(qtbot, window, tmp_path, asked):
    mixed = mixed_folder(tmp_path / "data")
    _open(qtbot, window, mixed.root)
    _map_something(window, mixed.unnamed)
    window.state.set_session(None)
    asked.answers = [Choice.CONTINUE]
    start(window, window.state, _args())
    title, text, buttons = asked[0]
    assert str(mixed.root) in text and "4 case(s)" in text and "saved 20" in text
    assert buttons == ["Continue", "Not now"]
    case = window.state.session.case(mixed.unnamed)
    assert window.state.session.rows(case)[0].category == "Aorta"


def test_a_path_asked_for_is_opened_and_other_work_kept(qtbot, window, tmp_path, asked):
    first = mixed_folder(tmp_path / "one")
    other = mixed_folder(tmp_path / "two")
    _open(qtbot, window, first.root)
    _map_something(window, first.unnamed)
    window.state.set_session(None)  # closed with work on `one`
    start(window, window.state, _args(path=str(other.root)))
    qtbot.waitUntil(lambda: not window.busy(), timeout=60_000)
    assert asked == []  # nothing saved for `two`: it simply opens
    assert window.state.session.source == other.root.resolve()
    # The work on `one` was kept aside and is offered when `one` is opened again.
    asked.answers = [Choice.CONTINUE]
    window.page(SourcePage).open_path(first.root, go_on=False)
    qtbot.waitUntil(lambda: not window.busy(), timeout=60_000)
    assert asked[-1][0] == "Continue your work?"
    session = window.state.session
    assert session.source == first.root.resolve()
    assert session.rows(session.case(first.unnamed))[0].category == "Aorta"


def test_reopening_the_open_folder_asks_before_replacing_the_work(qtbot, window, tmp_path,
                                                                 asked):
    mixed = mixed_folder(tmp_path / "data")
    _open(qtbot, window, mixed.root)
    _map_something(window, mixed.unnamed)
    before = window.state.session
    window.page(SourcePage).open_path(mixed.root)  # as from the recent folders
    assert asked[-1][2] == ["Keep my work", "Scan again, replacing my work"]
    assert window.state.session is before and not window.busy()
    asked.answers = [Choice.SCAN]
    _open(qtbot, window, mixed.root)
    assert window.state.session is not before


def test_a_new_taxonomy_does_not_rescan_over_mapping_work(qtbot, window, tmp_path, asked,
                                                          demo_dataset):
    mixed = mixed_folder(tmp_path / "data")
    _open(qtbot, window, mixed.root)
    _map_something(window, mixed.unnamed)
    before = window.state.session
    window.page(SourcePage).load_taxonomy(demo_dataset.taxonomy_json)
    assert window.state.session is before and not window.busy()
    assert before.taxonomy is not None


@pytest.mark.parametrize("text", ["[" * 950 + "]" * 950,
                                  '{"format": "segmap-session", "series": 1e999}'])
def test_unreadable_saved_work_is_said_kept_aside_and_the_wizard_starts(qtbot, window, tmp_path,
                                                                       asked, text):
    autosave = window.state.autosave_path
    autosave.write_text(text)
    start(window, window.state, _args())
    title, said, buttons = asked[0]
    assert "could not be read" in title and str(autosave) in said and buttons == ["OK"]
    (kept,) = [p for p in autosave.parent.iterdir() if ".unreadable-" in p.name]
    assert kept.read_text() == text and str(kept) in said and not autosave.exists()
    assert window.isVisible() and window.state.session is None
    mixed = mixed_folder(tmp_path / "data")  # the wizard works on
    _open(qtbot, window, mixed.root)
    _map_something(window, mixed.unnamed)
    assert autosave.is_file() and kept.read_text() == text  # a new autosave, the old kept
