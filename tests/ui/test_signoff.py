"""The Preview page's sign-off: the reviewer's word on the case shown, an undoable edit of the
session that marks the work unsaved, kept in the autosave and shown again on each case."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.session import Review, load_session
from ui.pages.preview_page import PreviewPage
from ui.pages.source_page import SourcePage


def preview_of_demo(qtbot, window, demo_dataset) -> PreviewPage:
    source = window.page(SourcePage)
    source.load_taxonomy(demo_dataset.taxonomy_json)
    source.open_path(demo_dataset.root)
    qtbot.waitUntil(lambda: not window.busy(), timeout=60_000)
    page = window.page(PreviewPage)
    window.go_to(window.page_index(page))
    return page


def test_reviewed_with_a_comment_is_an_undoable_edit_of_the_case(qtbot, window, demo_dataset,
                                                                  monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "dr.who")
    page = preview_of_demo(qtbot, window, demo_dataset)
    state, panel = window.state, page.sign_off
    case = state.current_case()
    assert case is not None and case.sign_off is None and panel.not_reviewed.isChecked()
    assert not panel.comment.isEnabled()
    qtbot.mouseClick(panel.needs_work, Qt.MouseButton.LeftButton)
    assert state.current_case().sign_off.review is Review.NEEDS_WORK
    assert state.dirty
    panel.comment.setText("spleen cut at the top")
    panel.comment.editingFinished.emit()
    word = state.current_case().sign_off
    assert (word.review, word.comment, word.by) == (Review.NEEDS_WORK, "spleen cut at the top",
                                                   "dr.who")
    assert word.at.endswith("+00:00")
    assert "dr.who" in panel.who.text()
    state.undo_stack.undo()  # the comment goes, the review stays
    assert state.current_case().sign_off.comment == ""
    assert panel.comment.text() == "" and panel.needs_work.isChecked()
    state.undo_stack.undo()
    assert state.current_case().sign_off is None and panel.not_reviewed.isChecked()
    state.undo_stack.redo()
    assert panel.needs_work.isChecked()


def test_each_case_shows_its_own_sign_off_and_the_autosave_keeps_them(qtbot, window,
                                                                      demo_dataset):
    page = preview_of_demo(qtbot, window, demo_dataset)
    state, panel = window.state, page.sign_off
    first = state.current_case().name
    qtbot.mouseClick(panel.reviewed, Qt.MouseButton.LeftButton)
    panel.comment.setText("all slices checked")  # typed, not yet confirmed with Enter
    page.case_combo.step(1)  # the comment stays with the case it was typed for
    second = state.current_case().name
    assert second != first
    assert panel.not_reviewed.isChecked() and panel.comment.text() == ""
    assert state.session.case(first).sign_off.comment == "all slices checked"
    page.case_combo.step(-1)
    assert panel.reviewed.isChecked() and panel.comment.text() == "all slices checked"
    state.save_now()
    back = load_session(state.autosave_path)
    assert back.case(first).sign_off.review is Review.REVIEWED
    assert back.case(second).sign_off is None


def test_not_reviewed_again_drops_the_sign_off(qtbot, window, demo_dataset):
    page = preview_of_demo(qtbot, window, demo_dataset)
    panel = page.sign_off
    qtbot.mouseClick(panel.reviewed, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(panel.not_reviewed, Qt.MouseButton.LeftButton)
    assert window.state.current_case().sign_off is None
    assert not panel.comment.isEnabled()
    assert window.state.undo_stack.count() >= 2


def test_a_case_chosen_on_another_page_gets_no_sign_off_of_the_last(qtbot, window,
                                                                   demo_dataset):
    page = preview_of_demo(qtbot, window, demo_dataset)
    state, panel = window.state, page.sign_off
    first = state.current_case().name
    qtbot.mouseClick(panel.reviewed, Qt.MouseButton.LeftButton)
    window.go_to(0)
    other = next(c.name for c in state.session.cases if c.name != first)
    state.set_current_case(other)  # as the Mapping or Validate page does
    window.go_to(window.page_index(page))
    assert state.current_case().name == other
    assert state.session.case(other).sign_off is None and panel.not_reviewed.isChecked()
    assert state.session.case(first).sign_off is not None


def test_a_sign_off_keeps_the_validation_it_was_given_after(qtbot, window, demo_dataset):
    from ui.pages.validate_page import ValidatePage

    page = preview_of_demo(qtbot, window, demo_dataset)
    validate = window.page(ValidatePage)
    window.go_to(window.page_index(validate))
    qtbot.waitUntil(lambda: not window.busy(), timeout=60_000)
    assert not validate._stale
    window.go_to(window.page_index(page))
    qtbot.mouseClick(page.sign_off.reviewed, Qt.MouseButton.LeftButton)
    assert window.state.current_case().sign_off.review is Review.REVIEWED
    assert window.state.dirty  # work to keep (the autosave has it)
    assert not validate._stale  # but nothing validation reads changed


def test_export_writes_sign_offs_into_metadata_when_asked(qtbot, window, demo_dataset, tmp_path):
    import json

    from ui.pages.export_page import ExportPage
    from ui.pages.validate_page import ValidatePage

    page = preview_of_demo(qtbot, window, demo_dataset)
    qtbot.mouseClick(page.sign_off.reviewed, Qt.MouseButton.LeftButton)
    name = window.state.current_case().name
    validate = window.page(ValidatePage)
    window.go_to(window.page_index(validate))
    qtbot.waitUntil(lambda: not window.busy(), timeout=60_000)
    validate.accept_warnings.setChecked(True)
    export = window.page(ExportPage)
    window.go_to(window.page_index(export))
    out = tmp_path / "out" / "items.json"
    export.path_edit.setText(str(out))
    assert not export.sign_offs.isChecked()
    export.export()
    meta = {t["name"]: t.get("metaData", {}) for t in json.loads(out.read_text())}
    assert "segmapReview" not in meta[name]
    export.sign_offs.setChecked(True)
    export.export()
    meta = {t["name"]: t.get("metaData", {}) for t in json.loads(out.read_text())}
    assert meta[name]["segmapReview"] == "reviewed"
    assert all("segmapReview" not in m for n, m in meta.items() if n != name)
