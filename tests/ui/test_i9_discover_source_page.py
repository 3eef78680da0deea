"""The Source page shows the scan's notes itself: with no case, Next is disabled and the
Cases page (which lists them too) cannot be reached (issue 9, item 4)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.app import synth_layouts as synth
from ui.pages.source_page import SourcePage


def wait_idle(qtbot, window, timeout=60_000):
    qtbot.waitUntil(lambda: not window.busy(), timeout=timeout)


def open_folder(qtbot, window, folder) -> SourcePage:
    source = window.page(SourcePage)
    source.open_path(folder)
    wait_idle(qtbot, window)
    return source


def test_no_case_keeps_the_source_page_and_shows_why(qtbot, window, tmp_path):
    synth.image(tmp_path / "p1" / "ct.nii.gz")
    synth.labelmap(tmp_path / "p2" / "masks" / "p2_seg.nii.gz", aff=synth.affine(spacing=0.5))
    source = open_folder(qtbot, window, tmp_path)
    assert window.stack.currentWidget() is source
    # Next leads to the Files table, where the user can say which file is the image
    # (issue 10); the step is not done.
    assert source.can_next() == (True, "")
    assert not source.done()  # no check mark in the sidebar for a source with no case
    assert source.notes.isVisible() and source.notes_title.isVisible()
    assert "No case was found" in source.notes_title.text()
    text = source.notes.toPlainText()
    assert "not paired: p2/masks/p2_seg.nii.gz" in text
    assert "not paired: p1/ct.nii.gz: no mask found for it" in text
    # Readable and selectable (to copy into a message), not editable.
    assert source.notes.isReadOnly()
    assert source.notes.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
    source.notes.selectAll()
    assert "p2_seg.nii.gz" in source.notes.textCursor().selectedText()


def test_an_empty_folder_says_nothing_was_found(qtbot, window, tmp_path):
    source = open_folder(qtbot, window, tmp_path)
    assert source.notes.isVisible()
    assert "Nothing Segmap reads was found" in source.notes.toPlainText()


def test_notes_stay_on_the_source_page_when_cases_were_found(qtbot, window, tmp_path):
    synth.image(tmp_path / "p1" / "p1_ct.nii.gz")
    synth.labelmap(tmp_path / "p1" / "p1_seg.nii.gz")
    synth.image(tmp_path / "p3" / "p3_ct.nii.gz")  # no mask: a note
    source = open_folder(qtbot, window, tmp_path)
    assert window.stack.currentWidget() is not source  # Next was taken
    assert source.done()
    window.go_back()
    assert source.notes.isVisible()
    assert "Notes from the scan</b> (1)" in source.notes_title.text()
    assert source.notes.toPlainText() == "not paired: p3/p3_ct.nii.gz: no mask found for it"
    assert "1 note(s) below" in source.opened_label.text()


def test_the_notes_go_when_a_clean_folder_is_opened(qtbot, window, tmp_path):
    (tmp_path / "empty").mkdir()
    assert open_folder(qtbot, window, tmp_path / "empty").notes.isVisible()
    synth.image(tmp_path / "ok" / "p1" / "p1_ct.nii.gz")
    synth.labelmap(tmp_path / "ok" / "p1" / "p1_seg.nii.gz")
    source = window.page(SourcePage)
    source.open_path(tmp_path / "ok", go_on=False)
    wait_idle(qtbot, window)
    assert not source.notes.isVisible() and source.notes.toPlainText() == ""


def test_real_dicom_seg_folder_pairs_what_it_can_and_explains_the_rest(qtbot, window,
                                                                       shared_data):
    """highdicom's test files: the single-frame SEG of ct_image.dcm makes a case; the SEGs
    made from a CT series that is not in the folder say so, by its UID."""
    source = open_folder(qtbot, window, shared_data / "highdicom")
    session = window.state.session
    assert session is not None and len(session.cases) == 1
    # RedBrick's SDK takes that SEG as it is: it is the case's mask (a label map)
    assert [m.name for m in session.cases[0].masks] == ["seg_image_ct_binary_single_frame.dcm"]
    text = source.notes.toPlainText()
    assert ("seg_image_ct_binary.dcm: a DICOM SEG of series "
            "1.3.6.1.4.1.5962.1.1.0.0.0.1196530851.28319.0.2, which is not in the scanned "
            "folder") in text