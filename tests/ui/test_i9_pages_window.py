"""Issue 9 on the window: the sidebar's check mark means done; a menu bar, Ctrl+Q, About.

A step is done by what the session says (Source: a session is open; Cases: a case is
included; Mapping: nothing left to map or review; Preview: seen for this session;
Validate: validated as the list is now, no error; Export: written since the last change),
not by coming before the current page. The menus press the pages' own buttons.
"""

from __future__ import annotations

from importlib import metadata

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QApplication, QFileDialog

from app.about import bundled_libraries
from app.items import load_items
from app.session import RowStatus
from ui.about import about_html, shortcuts_html
from ui.pages.cases_page import CasesPage
from ui.pages.export_page import ExportPage
from ui.pages.source_page import SourcePage
from ui.pages.validate_page import ValidatePage


def wait_idle(qtbot, window, timeout=60_000):
    qtbot.waitUntil(lambda: not window.busy(), timeout=timeout)


def marks(window) -> list[bool]:
    return [window.steps.item(n).text().startswith("✓") for n in range(window.steps.count())]


def open_demo(qtbot, window, demo_dataset, taxonomy=True) -> None:
    source = window.page(SourcePage)
    if taxonomy:
        source.load_taxonomy(demo_dataset.taxonomy_json)
    source.open_path(demo_dataset.root)
    wait_idle(qtbot, window)
    assert window.stack.currentIndex() == 1


def map_everything(window) -> None:
    state = window.state
    for case in state.session.cases:
        for row in state.session.rows(case):
            if row.status == RowStatus.UNMAPPED:
                state.edit(lambda s, c=case, r=row: s.set_category(c, r, "Spleen"))
        state.edit(lambda s, c=case: s.accept(c))


def test_a_check_mark_means_the_step_is_done(qtbot, window, demo_dataset, tmp_path):
    assert marks(window) == [False] * 6  # nothing open: nothing done
    open_demo(qtbot, window, demo_dataset)
    # On Cases: Source and Cases are done; Mapping has suggestions to review.
    assert marks(window) == [True, True, False, False, False, False]
    window.state.edit(lambda s: s.set_all_included(False))
    assert marks(window)[:2] == [True, False]
    window.state.edit(lambda s: s.set_all_included(True))
    window.go_to(3)  # the Preview, seen: done; the Mapping before it is still not
    assert marks(window) == [True, True, False, True, False, False]
    window.go_to(1)
    assert marks(window)[3]  # seen stays seen
    map_everything(window)
    assert marks(window)[2]
    window.go_to(4)
    wait_idle(qtbot, window)
    assert marks(window) == [True] * 5 + [False]  # validated: warnings, no error
    validate = window.page(ValidatePage)
    validate.accept_warnings.setChecked(True)
    window.go_to(5)
    export = window.page(ExportPage)
    export.path_edit.setText(str(tmp_path / "out" / "items.json"))
    qtbot.mouseClick(export.export_button, Qt.MouseButton.LeftButton)
    assert marks(window) == [True] * 6
    # A change undoes what depends on it: validated and exported no more.
    one = next(c for c in window.state.session.cases if c.shape == "I")
    window.state.edit(lambda s: s.set_category(one, s.rows(one)[0], "Aorta"))
    assert marks(window) == [True] * 4 + [False, False]
    # A new session has not been previewed.
    window.state.set_session(None)
    assert marks(window) == [False] * 6


def test_the_menus_and_their_shortcuts(window):
    bar = window.menuBar()
    assert [a.menu().title().replace("&", "") for a in bar.actions()] == [
        "File", "Edit", "Go", "Help"]
    file, edit, go, help_menu = (a.menu() for a in bar.actions())
    assert [a.text() for a in file.actions() if a.text()] == [
        "Open &folder…", "Open &items list…", "Open the &demo", "&Export…", "&Quit"]
    assert window.quit_action.shortcut() == QKeySequence("Ctrl+Q")
    assert [a.shortcut().toString() for a in window.step_actions] == [
        f"Ctrl+{i}" for i in range(1, 7)]
    assert [a.text() for a in window.step_actions] == [
        "&1  Source", "&2  Cases", "&3  Mapping", "&4  Preview", "&5  Validate", "&6  Export"]
    assert [a.text() for a in help_menu.actions()] == ["&Keyboard shortcuts", "&About Segmap"]
    assert [a.text() for a in go.actions()][:2] == ["&Back", "&Next"]
    assert edit.actions() == [window.undo_action, window.redo_action]
    assert window.undo_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Undo)


def titles(window) -> list[str]:
    return [a.menu().title() for a in window.menuBar().actions()]


def test_a_menus_alt_letter_yields_to_a_button_of_the_page(qtbot, window, demo_dataset):
    """Alt+F on the Source page presses Choose &folder (a File menu with Alt+F too would
    make both ambiguous); elsewhere Alt+F opens the File menu."""
    assert titles(window) == ["File", "&Edit", "&Go", "&Help"]
    open_demo(qtbot, window, demo_dataset)
    assert titles(window) == ["&File", "&Edit", "&Go", "&Help"]
    window.go_to(window.page_index(window.page(ValidatePage)))
    wait_idle(qtbot, window)
    window.page(ValidatePage).accept_warnings.setChecked(True)
    window.go_to(5)
    assert window.stack.currentIndex() == 5
    assert titles(window) == ["File", "Edit", "&Go", "&Help"]  # Open &folder, &Export


def test_undo_and_redo_in_the_edit_menu(qtbot, window, demo_dataset):
    open_demo(qtbot, window, demo_dataset)
    case = window.state.session.cases[0]
    window.state.edit(lambda s: s.set_included(case, False))
    assert window.undo_action.isEnabled() and window.undo_action.text().startswith("&Undo")
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.state.session.cases[0].included
    assert window.redo_action.isEnabled()
    window.redo_action.trigger()
    assert not window.state.session.cases[0].included


def test_no_shortcut_of_the_window_is_ambiguous(window):
    """Two enabled shortcuts with one key fire neither: a menu action takes a key only
    where no page defines it."""
    page_keys = [sc.key().toString() for sc in window.findChildren(QShortcut)]
    action_keys = [a.shortcut().toString() for a in window.findChildren(type(window.quit_action))
                   if not a.shortcut().isEmpty()]
    assert len(set(action_keys)) == len(action_keys)
    assert not set(action_keys) & set(page_keys)


def test_keys_go_to_the_steps_and_quit(qtbot, window, demo_dataset):
    open_demo(qtbot, window, demo_dataset)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.stack.currentIndex() == 2 and window.step_actions[2].isChecked()
    qtbot.keyClick(window, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert window.stack.currentIndex() == 1
    qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert not window.isVisible()


def test_open_folder_in_the_menu_presses_the_source_button(qtbot, window, demo_dataset,
                                                           monkeypatch):
    asked = []

    def choose(*args, **kw):
        asked.append(args)
        return str(demo_dataset.root)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", choose)
    open_demo(qtbot, window, demo_dataset)
    window.go_to(2)  # from another step, opening lands on Cases as from the Source page
    window.open_folder_action.trigger()
    wait_idle(qtbot, window)
    assert len(asked) == 1 and window.stack.currentIndex() == 1
    assert window.state.session.source == demo_dataset.root


def test_open_items_list_in_the_menu(qtbot, window, demo_dataset, monkeypatch):
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda *a, **k: (str(demo_dataset.items_json), ""))
    window.open_items_action.trigger()
    wait_idle(qtbot, window)
    assert window.state.session.source == demo_dataset.items_json
    assert window.stack.currentIndex() == 1


def test_the_menu_waits_while_work_runs(qtbot, window, demo_dataset):
    window.page(SourcePage).open_path(demo_dataset.root, go_on=False)
    assert window.busy()
    assert not window.open_folder_action.isEnabled() and not window.export_action.isEnabled()
    assert not any(a.isEnabled() for a in window.step_actions)
    assert window.quit_action.isEnabled()
    wait_idle(qtbot, window)
    assert window.open_folder_action.isEnabled() and window.step_actions[1].isEnabled()


def test_export_in_the_menu_writes_as_the_button_does(qtbot, window, demo_dataset, tmp_path):
    open_demo(qtbot, window, demo_dataset)
    out = tmp_path / "out" / "items.json"
    window.page(ExportPage).path_edit.setText(str(out))
    window.export_action.trigger()  # not validated yet: the way stops at Validate
    wait_idle(qtbot, window)
    assert window.stack.currentWidget() is window.page(ValidatePage) and not out.exists()
    window.page(ValidatePage).accept_warnings.setChecked(True)
    window.export_action.trigger()
    assert window.stack.currentWidget() is window.page(ExportPage)
    assert out.is_file() and load_items(out).tasks
    assert window.step_done(5)


def test_about_names_the_version_and_every_bundled_licence(qtbot, window):
    window.about_action.trigger()
    dialog = window.dialog
    assert dialog is not None and dialog.isVisible()
    text = about_html()
    assert f"Segmap {metadata.version('segmap')}" in text
    assert "Python 3." in text and "Qt 6." in text
    libs = {lib.name.lower().replace("_", "-"): lib for lib in bundled_libraries()}
    expect = {"pyside6-essentials": "LGPL", "pyqtgraph": "MIT", "nibabel": "MIT",
              "numpy": "BSD", "pydicom": "MIT", "pylibjpeg": "MIT",
              "pylibjpeg-openjpeg": "MIT", "pylibjpeg-rle": "MIT", "pynrrd": "MIT",
              "isal": "PSF", "pillow": "MIT"}
    for name, licence in expect.items():
        assert licence in libs[name].licence, (name, libs[name])
        assert libs[name].direct and libs[name].version in text
    try:
        gdcm = metadata.version("python-gdcm")
    except metadata.PackageNotFoundError:
        assert "python-gdcm" not in libs
    else:
        assert libs["python-gdcm"].version == gdcm and "Apache" in libs["python-gdcm"].licence
    assert not libs["shiboken6"].direct  # needed by PySide6, listed after what Segmap names
    assert "pytest" not in libs and "redbrick-sdk" not in libs  # test extras are not bundled


@pytest.mark.parametrize("key", ["Ctrl+Q", "Ctrl+1", "Alt+Left", "F1", "Esc", "F5", "Ctrl+O",
                                 "Ctrl+S", "Space"])
def test_the_shortcuts_dialog_lists_every_shortcut(window, key):
    assert f"<b>{key}</b>" in shortcuts_html(window, window.pages)


def test_the_shortcuts_dialog_opens(window):
    window.shortcuts_action.trigger()
    assert window.dialog is not None and window.dialog.isVisible()
    assert window.dialog.windowTitle() == "Keyboard shortcuts"
    window.about_action.trigger()  # one Help dialog at a time
    assert window.dialog.windowTitle() == "About Segmap"
    assert len([d for d in window.findChildren(type(window.dialog)) if d.isVisible()]) == 1


def test_cases_done_follows_the_included_cases(qtbot, window, demo_dataset):
    open_demo(qtbot, window, demo_dataset)
    page = window.page(CasesPage)
    assert page.done()
    window.state.edit(lambda s: s.set_all_included(False))
    assert not page.done() and not window.step_done(2)  # nothing to map is not mapped


def test_export_asks_before_replacing_a_list_segmap_did_not_write(qtbot, window, demo_dataset,
                                                                  tmp_path, monkeypatch):
    from ui import saved_work
    from ui.saved_work import Choice

    answers: list[Choice] = [Choice.CANCEL, Choice.REPLACE]
    asked: list[str] = []

    def ask(_parent, title, text, buttons):
        asked.append(title)
        return answers.pop(0)

    monkeypatch.setattr(saved_work, "ask", ask)
    open_demo(qtbot, window, demo_dataset)
    out = tmp_path / "curated" / "items.json"
    out.parent.mkdir()
    out.write_text('[{"name": "curated by hand", "items": "x.nii.gz"}]')
    page = window.page(ExportPage)
    page.path_edit.setText(str(out))
    window.export_action.trigger()  # validates first
    wait_idle(qtbot, window)
    window.page(ValidatePage).accept_warnings.setChecked(True)
    window.export_action.trigger()
    assert asked == ["Replace items.json?"]
    assert "curated by hand" in out.read_text() and "kept" in page.result.text()
    window.export_action.trigger()
    assert asked == ["Replace items.json?"] * 2
    assert load_items(out).tasks and "curated by hand" not in out.read_text()
    window.export_action.trigger()  # now Segmap's own list: replaced without a question
    assert len(asked) == 2
