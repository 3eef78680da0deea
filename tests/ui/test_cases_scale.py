"""The wizard's tables at dataset size: an edit of every case ("apply to all", a template, a
code) announces each case it changed, and each announcement costs that case, not the whole
list again, and what looks at the whole list (the window's steps, the validation) looks once
per edit (it was quadratic: "apply to all" over 1,000 cases froze the window for 201 s)."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np

import ui.cases_model
from app.session import RowStatus
from ui.cases_model import mapping_summary
from ui.pages.source_page import SourcePage

N = 30


def nnunet_folder(root: Path) -> Path:
    """N cases of a tiny image and a label map of values 1-3 (the same label set)."""
    for k in range(N):
        labels = np.zeros((8, 8, 4), np.uint8)
        labels[1:3, 1:3, 1], labels[4:6, 4:6, 2], labels[6, 6, 3] = 1, 2, 3
        for folder, name, data in (("imagesTr", f"case_{k:03d}_0000", labels.astype(np.int16)),
                                   ("labelsTr", f"case_{k:03d}", labels)):
            (root / folder).mkdir(parents=True, exist_ok=True)
            nib.save(nib.Nifti1Image(data, np.eye(4)), root / folder / f"{name}.nii.gz")
    return root


def test_apply_to_all_sums_up_each_changed_case_once(qtbot, window, tmp_path, monkeypatch):
    window.page(SourcePage).open_path(nnunet_folder(tmp_path / "Dataset_030"), go_on=False)
    qtbot.waitUntil(lambda: not window.busy() and window.state.session is not None,
                    timeout=60_000)
    state, model = window.state, window.pages[1].model
    session = state.session
    first = session.cases[0]
    row = session.rows(first)[0]
    state.edit(lambda s: s.set_category(first, row, "Liver"), "map by hand", [first])
    calls: list[str] = []

    def counted(s, case):
        calls.append(case.name)
        return mapping_summary(s, case)

    monkeypatch.setattr(ui.cases_model, "mapping_summary", counted)
    asked: list[bool] = []  # the window's buttons and steps ask whether every case is mapped
    all_mapped = type(model).all_mapped
    monkeypatch.setattr(type(model), "all_mapped",
                        lambda self: asked.append(all_mapped(self)) or asked[-1])
    change = state.edit(lambda s: s.apply_mapping(first), "apply to all")
    assert len(change.mapping) == N - 1
    assert len(calls) <= 2 * N  # each changed case once (and, at most, one whole refresh)
    assert 0 < len(asked) < N  # once per edit (each step's check), not once per case
    for i, case in enumerate(session.cases):  # and every row says its case's mapping
        assert model._summary[i] == mapping_summary(session, case), case.name
    assert state.current_case() is first


def test_opening_a_folder_sums_up_each_case_once_and_leaves_the_export_page_alone(
        qtbot, window, tmp_path, monkeypatch):
    """Opening 10,000 cases froze the window 4 s once the scan was done: the Cases page
    summed every case up twice (set and entered in one go), in the window's thread, and
    the Export page copied every task to count the DICOM names it would rename, though it
    was not shown."""
    import threading

    import ui.pages.export_page
    from ui.pages.export_page import ExportPage

    calls: list[str] = []
    threads: set[str] = set()

    def counted(s, case):
        calls.append(case.name)
        threads.add(threading.current_thread().name)
        return mapping_summary(s, case)

    monkeypatch.setattr(ui.cases_model, "mapping_summary", counted)
    renames: list[int] = []
    real_rename = ui.pages.export_page.dicom_to_rename
    monkeypatch.setattr(ui.pages.export_page, "dicom_to_rename",
                        lambda items: renames.append(len(items.tasks)) or real_rename(items))
    window.page(SourcePage).open_path(nnunet_folder(tmp_path / "Dataset_030"))
    qtbot.waitUntil(lambda: not window.busy() and window.state.session is not None,
                    timeout=60_000)
    assert window.stack.currentWidget() is window.pages[1]  # on to the Cases page
    assert sorted(calls) == sorted(c.name for c in window.state.session.cases)  # once each
    assert threading.main_thread().name not in threads  # with the scan, off the window's
    assert renames == []  # nothing counted for a page not shown
    export = window.page(ExportPage)  # shown (its step needs every case mapped first)
    window.stack.setCurrentWidget(export)
    export.enter()
    assert renames == [N]  # counted when shown
    first = window.state.session.cases[0]
    window.state.edit(lambda s: s.set_included(first, False), "leave out", [first])
    assert renames == [N, N - 1]  # and again at each change while shown


def test_a_case_switch_on_the_mapping_page_reads_that_case_not_every_case(
        qtbot, window, tmp_path, monkeypatch):
    """With no taxonomy the category editor offers every category some case maps to: that
    was gathered at each case shown, a pass over every case (0.5 s of each switch at 10,000
    cases); now when the editor opens."""
    from app.session import Session
    from ui.category_delegate import CategoryCombo
    from ui.pages.mapping_page import MappingPage

    window.page(SourcePage).open_path(nnunet_folder(tmp_path / "Dataset_030"), go_on=False)
    qtbot.waitUntil(lambda: not window.busy() and window.state.session is not None,
                    timeout=60_000)
    session = window.state.session
    assert session.taxonomy is None
    first = session.cases[0]
    row = session.rows(first)[0]
    window.state.edit(lambda s: s.set_category(first, row, "Liver"), "map by hand", [first])
    page = window.page(MappingPage)
    window.go_to(window.page_index(page))
    assert window.stack.currentWidget() is page
    read: list[str] = []
    rows = Session.rows
    monkeypatch.setattr(Session, "rows", lambda s, case: read.append(case.name) or rows(s, case))
    page.case_combo.setCurrentIndex(page.case_combo.findData("case_017"))
    assert window.state.current_case().name == "case_017"
    assert set(read) == {"case_017"}  # that case alone
    editor = page.delegate.createEditor(page.table, None, page.model.index(0, 0))
    assert isinstance(editor, CategoryCombo)
    assert "Liver" in [editor.itemText(i) for i in range(editor.count())]  # offered still


def test_entering_the_mapping_page_reads_the_cases_it_shows_not_every_case(
        qtbot, window, tmp_path, monkeypatch):
    """The case selector's text says what each case's mapping needs, read from its rows:
    made for every case at each entering of the Mapping page, it took 1 s at 10,000 cases;
    now for the cases the list shows (a list this long is not sized to its texts)."""
    import ui.case_combo
    from app.session import Session
    from ui.pages.mapping_page import MappingPage

    monkeypatch.setattr(ui.case_combo, "SIZED_TO_TEXT", 10, raising=False)  # N is many
    window.page(SourcePage).open_path(nnunet_folder(tmp_path / "Dataset_030"), go_on=False)
    qtbot.waitUntil(lambda: not window.busy() and window.state.session is not None,
                    timeout=60_000)
    page = window.page(MappingPage)
    read: list[str] = []
    rows = Session.rows
    monkeypatch.setattr(Session, "rows", lambda s, case: read.append(case.name) or rows(s, case))
    window.go_to(window.page_index(page))
    assert window.stack.currentWidget() is page and page.case_combo.count() == N
    assert len(set(read)) <= 3, sorted(set(read))  # the case shown, not all N
    assert page.case_combo.currentText().startswith("case_000  [I]  ·  ")
    assert page.case_combo.itemText(17).startswith("case_017  [I]  ·  ")  # made when asked


def test_back_to_the_cases_page_sums_up_only_the_cases_changed_on_disk(qtbot, window,
                                                                       tmp_path, monkeypatch):
    # every edit is announced as it happens: only the disk changes behind the table, and
    # summing every case up again took 0.5 s at 10,000 cases at each Back
    from ui.pages.cases_page import CasesPage
    from ui.pages.mapping_page import MappingPage

    window.page(SourcePage).open_path(nnunet_folder(tmp_path / "Dataset_030"))
    qtbot.waitUntil(lambda: not window.busy() and window.state.session is not None,
                    timeout=60_000)
    session, cases = window.state.session, window.page(CasesPage)
    calls: list[str] = []

    def counted(s, case):
        calls.append(case.name)
        return mapping_summary(s, case)

    monkeypatch.setattr(ui.cases_model, "mapping_summary", counted)

    def there_and_back() -> None:
        window.go_to(window.page_index(window.page(MappingPage)))
        window.go_to(window.page_index(cases))
        qtbot.wait(10)

    qtbot.wait(10)  # the summaries of the opening are a turn of the event loop old
    there_and_back()
    assert calls == []  # nothing changed
    gone, redrawn = session.cases[3], session.cases[7]
    gone.masks[0].unlink()  # removed, and rewritten with other values
    labels = np.zeros((8, 8, 4), np.uint8)
    labels[0, 0, 0] = 9
    nib.save(nib.Nifti1Image(labels, np.eye(4)), redrawn.masks[0])
    there_and_back()
    assert sorted(calls) == sorted([gone.name, redrawn.name])
    for i, case in enumerate(session.cases):  # and every row says what its files hold now
        assert cases.model._summary[i] == mapping_summary(session, case), case.name
    assert cases.model._summary[3] == ("1 mask(s) unreadable", RowStatus.ABSENT)  # why,
    # not "3 in no file"
