"""Issue 10 item 1 on the Cases page: every scanned volume is listed with its role and why;
choosing another role scans the folder again with it and the pairing changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QComboBox

from tests.app.discover.test_roles_evidence import grey_u8, labels_u8
from tests.ui.test_i9_pages_cases import open_in, wait_idle
from ui.cases_model import COL_FILE, COL_ROLE, COL_WHY
from ui.pages.cases_page import CasesPage, RoleDelegate
from ui.pages.source_page import SourcePage


@pytest.fixture
def two_masks(tmp_path: Path) -> Path:
    """a/: two uint8 volumes with few values, both taken as masks (no case); b/: an 8-bit
    template and its seg (one case, so the Cases page is open)."""
    labels_u8(tmp_path / "src" / "a" / "one.nii.gz", 3)
    labels_u8(tmp_path / "src" / "a" / "two.nii.gz", 3)
    far = np.diag([2.0, 2.0, 2.0, 1.0])  # another grid: a/'s masks cannot lie on b's image
    grey_u8(tmp_path / "src" / "b" / "sub01.nii.gz", affine=far)
    labels_u8(tmp_path / "src" / "b" / "sub01_seg.nii.gz", 2, affine=far)
    return tmp_path / "src"


BASE = {"b/sub01.nii.gz": "image", "b/sub01_seg.nii.gz": "mask"}


def roles(page: CasesPage) -> dict[str, str]:
    m = page.files_model
    return {m.index(r, COL_FILE).data(): m.index(r, COL_ROLE).data() for r in range(m.rowCount())}


def test_flipping_a_role_re_pairs_the_folder(qtbot, window, two_masks: Path) -> None:
    page = open_in(qtbot, window, two_masks)
    before = page.model.rowCount()
    assert "a/one.nii.gz" not in [c.image.label for c in page.state.session.cases]
    assert roles(page) == {"a/one.nii.gz": "mask", "a/two.nii.gz": "mask", **BASE}
    row = page.files_model.row_of("a/one.nii.gz")
    assert "few values" in page.files_model.index(row, COL_WHY).data()
    assert page.files_model.setData(page.files_model.index(row, COL_ROLE), "image")
    wait_idle(qtbot, window)
    assert roles(page) == {"a/one.nii.gz": "image", "a/two.nii.gz": "mask", **BASE}
    assert page.model.rowCount() == before + 1
    row = page.model.row_of("one")
    assert page.model.case_at(row).image.label == "a/one.nii.gz"
    assert "set by you" in page.files_model.index(
        page.files_model.row_of("a/one.nii.gz"), COL_WHY).data()
    page.table.selectRow(row)
    html = page.details.toPlainText()
    assert "a/one.nii.gz: image, because set by you" in html
    assert "a/two.nii.gz: mask, because uint8" in html


def test_the_role_editor_is_a_choice_and_a_later_word_replaces_an_earlier(
        qtbot, window, two_masks: Path) -> None:
    page = open_in(qtbot, window, two_masks)
    before = [c.image.label for c in page.state.session.cases]
    index = page.files_model.index(page.files_model.row_of("a/two.nii.gz"), COL_ROLE)
    delegate = page.files.itemDelegateForColumn(COL_ROLE)
    assert isinstance(delegate, RoleDelegate)
    editor = delegate.createEditor(page.files, None, index)  # type: ignore[arg-type]
    assert isinstance(editor, QComboBox)
    assert [editor.itemText(i) for i in range(editor.count())] == ["image", "mask"]
    editor.setCurrentText("image")
    delegate.setModelData(editor, page.files_model, index)
    wait_idle(qtbot, window)
    assert roles(page)["a/two.nii.gz"] == "image"
    assert "a/two.nii.gz" in [c.image.label for c in page.state.session.cases]
    index = page.files_model.index(page.files_model.row_of("a/two.nii.gz"), COL_ROLE)
    page.files_model.setData(index, "mask")  # back: the override on two is replaced
    wait_idle(qtbot, window)
    assert roles(page) == {"a/one.nii.gz": "mask", "a/two.nii.gz": "mask", **BASE}
    assert [c.image.label for c in page.state.session.cases] == before


def test_an_8bit_template_is_paired_on_the_cases_page(qtbot, window, tmp_path: Path) -> None:
    grey_u8(tmp_path / "src" / "sub01.nii.gz")
    labels_u8(tmp_path / "src" / "sub01_seg.nii.gz", 3)
    page = open_in(qtbot, window, tmp_path / "src")
    assert page.model.rowCount() == 1
    assert roles(page) == {"sub01.nii.gz": "image", "sub01_seg.nii.gz": "mask"}


def test_a_real_label_map_flipped_to_image_loses_its_case(qtbot, window, shared_data: Path,
                                                         tmp_path: Path) -> None:
    ref = shared_data / "totalsegmentator" / "tests" / "reference_files"
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(ref / "example_mr_sm.nii.gz", src / "case.nii.gz")
    shutil.copy(ref / "example_seg_mr.nii.gz", src / "case_seg.nii.gz")
    page = open_in(qtbot, window, src)
    assert page.model.rowCount() == 1
    page.files_model.setData(page.files_model.index(page.files_model.row_of("case_seg.nii.gz"),
                                                    COL_ROLE), "image")
    wait_idle(qtbot, window)
    assert roles(page)["case_seg.nii.gz"] == "image" and page.model.rowCount() == 0


def test_a_folder_with_no_case_says_why_on_the_source_page(qtbot, window, tmp_path: Path) -> None:
    labels_u8(tmp_path / "src" / "one.nii.gz", 3)
    labels_u8(tmp_path / "src" / "two.nii.gz", 3)
    source = window.page(SourcePage)
    source.open_path(tmp_path / "src")
    wait_idle(qtbot, window)
    notes = source.notes.toPlainText()
    assert "0 cases: 2 volume(s), both taken as mask(s) (uint8, few values)" in notes
    assert "--image 'one.nii.gz'" in notes


def test_a_folder_with_no_case_opens_the_files_to_say_which_is_the_image(
        qtbot, window, two_masks: Path) -> None:
    shutil.rmtree(two_masks / "b")
    source = window.page(SourcePage)
    source.open_path(two_masks)
    wait_idle(qtbot, window)
    assert window.stack.currentWidget() is source and not window.state.session.cases
    assert source.can_next() == (True, "")
    assert "say which is the image" in source.notes_title.text()
    window.next_button.click()
    page = window.page(CasesPage)
    assert window.stack.currentWidget() is page
    assert page.can_next()[0] is False and "Role" in page.can_next()[1]
    assert roles(page) == {"a/one.nii.gz": "mask", "a/two.nii.gz": "mask"}
    page.files_model.setData(page.files_model.index(page.files_model.row_of("a/one.nii.gz"),
                                                    COL_ROLE), "image")
    wait_idle(qtbot, window)
    assert [c.image.label for c in window.state.session.cases] == ["a/one.nii.gz"]
    assert page.can_next() == (True, "")


def test_a_role_change_asks_before_replacing_unexported_work(qtbot, window, two_masks: Path,
                                                             monkeypatch) -> None:
    from ui import saved_work
    from ui.saved_work import Choice

    asked: list[str] = []
    answers = [Choice.CANCEL, Choice.SCAN]

    def ask(_parent, title, text, buttons):
        asked.append(text)
        return answers.pop(0)

    monkeypatch.setattr(saved_work, "ask", ask)
    page = open_in(qtbot, window, two_masks)
    session = window.state.session
    window.state.dirty = True  # as after a mapping edit
    index = page.files_model.index(page.files_model.row_of("a/one.nii.gz"), COL_ROLE)
    page.files_model.setData(index, "image")
    wait_idle(qtbot, window)
    assert len(asked) == 1 and "not exported" in asked[0]
    assert window.state.session is session and roles(page)["a/one.nii.gz"] == "mask"
    page.files_model.setData(index, "image")
    wait_idle(qtbot, window)
    assert len(asked) == 2 and window.state.session is not session
    assert roles(page)["a/one.nii.gz"] == "image"
