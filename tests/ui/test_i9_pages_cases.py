"""Issue 9 on the Cases page: what export does to a case's files is said, details never go stale.

NRRD masks are written as NIfTI on export and upload; DICOM files RedBrick would not take
by their names (TotalSegmentator's ``CT.1.3...``) are renamed: the page says both, per case
and per mask. The details are recomputed from the session after any change (a move).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import nibabel as nib
import nrrd as pynrrd
import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.demo import MASK_I, MASKS_II
from ui.cases_model import COL_EXPORT, COL_SERIES, CasesModel
from ui.pages import cases_page
from ui.pages.cases_page import CasesPage
from ui.pages.source_page import SourcePage

LPS = np.diag([-1.0, -1.0, 1.0])


def wait_idle(qtbot, window, timeout=60_000):
    qtbot.waitUntil(lambda: not window.busy(), timeout=timeout)


def open_in(qtbot, window, folder: Path) -> CasesPage:
    window.page(SourcePage).open_path(folder)
    wait_idle(qtbot, window)
    page = window.page(CasesPage)
    assert window.stack.currentWidget() is page
    return page


def select(page: CasesPage, name: str) -> None:
    page.table.selectRow(page.model.row_of(name))


def mask_texts(page: CasesPage) -> list[str]:
    return [page.masks.item(i).text() for i in range(page.masks.count())]


@pytest.fixture
def slicer_case(demo_dataset, tmp_path) -> Path:
    """The demo's DICOM CT under TotalSegmentator-style names (no .dcm) with its label map
    as NRRD in Slicer's LPS space, in a case folder of their own."""
    case = tmp_path / "src" / "case1"
    (case / "ct").mkdir(parents=True)
    for i, f in enumerate(sorted(demo_dataset.dicom_dir.iterdir())):
        (case / "ct" / f"CT.1.2.826.0.{i}").symlink_to(f)
    img = nib.load(str(demo_dataset.root / MASK_I))
    a = img.affine
    pynrrd.write(str(case / "labels.nrrd"), np.asarray(img.dataobj),
                 {"space": "left-posterior-superior", "space directions": (LPS @ a[:3, :3]).T,
                  "space origin": LPS @ a[:3, 3]})
    return case.parent


def test_nrrd_masks_and_dicom_without_dcm_are_noted(qtbot, window, slicer_case):
    page = open_in(qtbot, window, slicer_case)
    assert page.model.rowCount() == 1
    assert not page.table.isColumnHidden(COL_EXPORT)
    short = page.model.data(page.model.index(0, COL_EXPORT))
    assert short == "1 NRRD → NIfTI · 64 renamed .dcm"
    tip = page.model.data(page.model.index(0, COL_EXPORT), Qt.ItemDataRole.ToolTipRole)
    assert "NRRD masks (1 of 1): written as NIfTI on export" in tip
    assert "DICOM files without .dcm (64 of 64): renamed on upload/export" in tip
    details = page.details.toPlainText()
    assert "written as NIfTI on export" in details and "renamed on upload/export" in details
    assert mask_texts(page) == ["labels.nrrd    (NRRD: written as NIfTI on export)"]


def test_the_demo_needs_no_note(qtbot, window, demo_dataset):
    page = open_in(qtbot, window, demo_dataset.root)
    assert [page.model.data(page.model.index(r, COL_EXPORT))
            for r in range(page.model.rowCount())] == ["", "", ""]
    assert page.table.isColumnHidden(COL_EXPORT)  # no empty column
    assert "On export" not in page.details.toPlainText()
    assert all("NRRD" not in t for t in mask_texts(page))


def test_the_series_tooltip_is_the_full_description_not_the_pairing(qtbot, window,
                                                                    demo_dataset):
    page = open_in(qtbot, window, demo_dataset.root)
    case = page.model.case_at(0)
    tip = page.model.data(page.model.index(0, COL_SERIES), Qt.ItemDataRole.ToolTipRole)
    assert case.image.study in tip and case.image.description in tip
    assert case.evidence not in tip and "same grid" not in tip


def answer(monkeypatch, move: bool) -> list[str]:
    """Answer the question a move asks first with Move anyway (or Cancel); what it said."""
    asked: list[str] = []

    def confirm(box):
        asked.append(f"{box.text()}\n{box.informativeText()}")
        return next(b for b in box.buttons() if b.text() == "&Move anyway") if move else None

    monkeypatch.setattr(cases_page, "confirm", confirm)
    return asked


def test_the_details_follow_a_move_made_anywhere(qtbot, window, demo_dataset, monkeypatch):
    asked = answer(monkeypatch, move=True)
    page = open_in(qtbot, window, demo_dataset.root)
    session = window.state.session
    two = next(c for c in session.cases if c.shape == "II")
    one = next(c for c in session.cases if c.shape == "I")
    select(page, two.name)
    assert len(mask_texts(page)) == 2 and "Masks: 2 file(s)" in page.details.toPlainText()
    # A move announced by the state (not made by this page's button) shows at once.
    vessels = next(m for m in two.masks if m.name == Path(MASKS_II[1]).name)
    window.state.edit(lambda s: s.move_mask(vessels, two, one))
    assert mask_texts(page) == [Path(MASKS_II[0]).name]
    text = page.details.toPlainText()
    assert "Masks: 1 file(s)" in text and "import shape I (one label map)" in text
    assert page.move_target.findData(two.name) == -1  # the shown case is no target of its own
    # The button says what it moved; the target's details list the mask.
    page.masks.setCurrentRow(0)
    page.move_target.setCurrentIndex(page.move_target.findData(one.name))
    qtbot.mouseClick(page.move_button, Qt.MouseButton.LeftButton)
    assert len(asked) == 1 and "leaves" in asked[0]  # what the move changes, asked first
    assert "moved from" in page.details.toPlainText() and mask_texts(page) == []
    select(page, one.name)
    assert len(mask_texts(page)) == 3 and "Masks: 3 file(s)" in page.details.toPlainText()
    assert "moved from" not in page.details.toPlainText()  # the note was about the other case


def test_a_move_that_changes_what_redbrick_stores_can_be_cancelled(qtbot, window, demo_dataset,
                                                                    monkeypatch):
    asked = answer(monkeypatch, move=False)
    page = open_in(qtbot, window, demo_dataset.root)
    session = window.state.session
    two = next(c for c in session.cases if c.shape == "II")
    one = next(c for c in session.cases if c.shape == "I")
    select(page, two.name)
    page.masks.setCurrentRow(0)
    page.move_target.setCurrentIndex(page.move_target.findData(one.name))
    qtbot.mouseClick(page.move_button, Qt.MouseButton.LeftButton)
    assert f"Moving {Path(MASKS_II[0]).name} to {one.name}" in asked[0]
    assert "Value 1 (Liver) leaves" in asked[0]
    assert len(two.masks) == 2 and len(one.masks) == 1 and len(mask_texts(page)) == 2


def test_each_mask_says_why_it_is_paired(qtbot, window, demo_dataset):
    page = open_in(qtbot, window, demo_dataset.root)
    assert all("Paired because: " in page.masks.item(i).toolTip()
               for i in range(page.masks.count()))
    assert "Paired because: " in page.details.toPlainText()


def test_an_undone_move_leaves_no_note_behind(qtbot, window, demo_dataset, monkeypatch):
    answer(monkeypatch, move=True)
    page = open_in(qtbot, window, demo_dataset.root)
    session = window.state.session
    two = next(c for c in session.cases if c.shape == "II")
    one = next(c for c in session.cases if c.shape == "I")
    select(page, two.name)
    page.masks.setCurrentRow(1)
    page.move_target.setCurrentIndex(page.move_target.findData(one.name))
    qtbot.mouseClick(page.move_button, Qt.MouseButton.LeftButton)
    assert "moved from" in page.details.toPlainText() and len(mask_texts(page)) == 1
    window.state.undo_stack.undo()
    assert "moved from" not in page.details.toPlainText()
    assert len(mask_texts(page)) == 2 and "Masks: 2 file(s)" in page.details.toPlainText()


def test_a_new_session_clears_the_details_of_the_old_one(qtbot, window, demo_dataset):
    page = open_in(qtbot, window, demo_dataset.root)
    assert page.details.toPlainText()
    window.state.set_session(None)
    assert page.details.toPlainText() == "" and page.masks.count() == 0
    assert not page.move_button.isEnabled()


def test_the_pairing_evidence_counts_the_masks_left_after_a_move(qtbot, window, demo_dataset):
    page = open_in(qtbot, window, demo_dataset.root)
    session = window.state.session
    two = next(c for c in session.cases if c.shape == "II")
    one = next(c for c in session.cases if c.shape == "I")
    select(page, two.name)
    window.state.edit(lambda s: s.move_mask(two.masks[1], two, one))
    assert "(2 masks)" not in page.details.toPlainText()


def test_the_export_notes_pass_the_model_tester(qtmodeltester, qtbot, window, slicer_case):
    page = open_in(qtbot, window, slicer_case)
    model = CasesModel()
    model.set_session(window.state.session)
    qtmodeltester.check(model, force_py=True)
    # The page's table is the same, with the RedBrick task column last (issue 13).
    assert page.model.columnCount() == model.columnCount() + 1


@pytest.mark.shared_data
def test_real_data_totalsegmentator_dicom_and_dcmqi_nrrd(qtbot, window, shared_data, tmp_path):
    ref = shared_data / "totalsegmentator" / "tests" / "reference_files"
    case = tmp_path / "dicomcase"
    (case / "ct").mkdir(parents=True)
    for f in (ref / "example_ct_dicom").iterdir():
        (case / "ct" / f.name).symlink_to(f)
    (case / "seg.nii.gz").symlink_to(ref / "example_seg_dicom.nii.gz")
    seg = shared_data / "dcmqi" / "data" / "segmentations"
    (tmp_path / "ct3" / "image").mkdir(parents=True)
    for f in (seg / "ct-3slice").iterdir():
        (tmp_path / "ct3" / "image" / f.name).symlink_to(f)
    for m in ("liver_seg.nrrd", "spine_seg.nrrd", "heart_seg.nrrd"):
        (tmp_path / "ct3" / m).symlink_to(seg / m)
    page = open_in(qtbot, window, tmp_path)
    notes = {page.model.case_at(r).image.files[0].parent.parent.name:
             page.model.data(page.model.index(r, COL_EXPORT))
             for r in range(page.model.rowCount())}
    assert notes == {"dicomcase": "20 renamed .dcm", "ct3": "3 NRRD → NIfTI"}
    select(page, next(c.name for c in window.state.session.cases
                      if c.image.files[0].parent.parent.name == "ct3"))
    assert len(mask_texts(page)) == 3
    assert all(t.endswith("(NRRD: written as NIfTI on export)") for t in mask_texts(page))


def test_the_move_targets_are_every_other_case_as_rows_change(qtbot, window, demo_dataset,
                                                               monkeypatch):
    # the list is made once per set of cases: a row's selection swaps one case out and the
    # one shown before back in (refilled at each row, 10,000 cases cost 27 ms a row)
    page = open_in(qtbot, window, demo_dataset.root)
    names = [c.name for c in window.state.session.cases]
    assert len(names) >= 3
    added = []
    real = page.move_target.addItem
    monkeypatch.setattr(page.move_target, "addItem", lambda *a: added.append(a) or real(*a))
    for name in [names[2], names[0], names[1], names[0], names[-1]]:
        select(page, name)
        shown = [page.move_target.itemData(i) for i in range(page.move_target.count())]
        assert shown == [n for n in names if n != name]
        assert page.move_target.itemText(0).startswith(shown[0] + " (")
    assert added == []  # never filled again for the same cases
    chosen = [n for n in names if n != names[-1]][1]
    page.move_target.setCurrentIndex(page.move_target.findData(chosen))
    select(page, names[0])  # the chosen target stays chosen
    assert page.move_target.currentData() == chosen
    select(page, chosen)  # now the case shown: the first target instead
    assert page.move_target.currentIndex() == 0 and page.move_target.currentData() == names[0]


def test_the_move_targets_show_a_case_image_changed_under_the_same_name(qtbot, window,
                                                                        demo_dataset):
    # the list is kept while the cases are the same: a case whose image is another one
    # under the same name (a scan again) is not the same, and shows its new image
    page = open_in(qtbot, window, demo_dataset.root)
    cases = window.state.session.cases
    select(page, cases[0].name)
    cases[1].image = dataclasses.replace(cases[1].image, label="series 7 (re-exported)")
    select(page, cases[2].name)
    at = page.move_target.findData(cases[1].name)
    assert page.move_target.itemText(at) == f"{cases[1].name} (series 7 (re-exported))"
