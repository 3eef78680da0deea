"""A large folder's cases show on the Cases page while its census still runs: the rows
fill in, can be looked through, and the scan's real cases replace them when it ends."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from app.discover import _scan as scan_module
from tests.app import synth_layouts as synth
from ui import main_window
from ui.pages.cases_page import CasesPage
from ui.pages.source_page import SourcePage


@pytest.fixture
def slow_census(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every mask takes 60 ms to count (in this process: a small folder has no pool), and
    the cases show at once: the census of 12 cases runs long enough to look at."""
    real = scan_module.census

    def census(path: Path, info: Any = None, **kw: Any) -> Any:
        time.sleep(0.06)
        return real(path, info, **kw)

    monkeypatch.setattr(scan_module, "census", census)
    monkeypatch.setattr(main_window, "SHOW_SCAN_AFTER_S", 0.0)


def _folder(tmp_path: Path) -> Path:
    return synth.nnunet(tmp_path / "Dataset001_X", cases=12, channels=1, test_cases=0)


def test_rows_fill_in_during_the_census_and_the_chosen_case_stays_chosen(
        window: Any, qtbot: Any, tmp_path: Path, slow_census: None) -> None:
    cases = window.page(CasesPage)
    window.page(SourcePage).open_path(_folder(tmp_path))
    qtbot.waitUntil(cases.scanning, timeout=20_000)
    assert window.stack.currentWidget() is cases  # shown while the work runs
    view = cases.scan_view
    assert view.model.rowCount() == 12  # every case, from the pairing on
    assert view.model.ready() < 12
    assert "case(s) counted" in view.headline.text()
    view.filter.setText("case_007")  # the user looks one case up meanwhile
    assert view.proxy.rowCount() == 1
    view.table.selectRow(0)
    assert "case_007" in view.details.toPlainText()
    qtbot.waitUntil(lambda: view.model.ready() > 0 or not window.busy(), timeout=20_000)
    qtbot.waitUntil(lambda: not window.busy(), timeout=60_000)
    assert not cases.scanning()
    assert window.stack.currentWidget() is cases  # went on to the Cases page itself
    assert window.state.session is not None and len(window.state.session.cases) == 12
    assert window.state.current_case().name == "case_007"  # where the user was
    assert cases.model.case_at(cases.table.currentIndex().row()).name == "case_007"


def test_cancel_during_the_census_goes_back_with_nothing_half_open(
        window: Any, qtbot: Any, tmp_path: Path, slow_census: None) -> None:
    source, cases = window.page(SourcePage), window.page(CasesPage)
    source.open_path(_folder(tmp_path))
    qtbot.waitUntil(cases.scanning, timeout=20_000)
    window.cancel_button.click()
    qtbot.waitUntil(lambda: not window.busy(), timeout=20_000)
    assert not cases.scanning() and cases.scan_view.model.rowCount() == 0
    assert window.stack.currentWidget() is source
    assert window.state.session is None
    assert window.next_button.isEnabled() is False  # nothing was opened


def test_a_session_open_before_is_kept_when_the_next_scan_is_cancelled(
        window: Any, qtbot: Any, tmp_path: Path, slow_census: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    first = synth.nnunet(tmp_path / "first", cases=2, channels=1, test_cases=0)
    source, cases = window.page(SourcePage), window.page(CasesPage)
    source.open_path(first)
    qtbot.waitUntil(lambda: not window.busy() and window.state.session is not None,
                    timeout=20_000)
    window.go_to(0)
    source.open_path(_folder(tmp_path))
    qtbot.waitUntil(cases.scanning, timeout=20_000)
    window.cancel_button.click()
    qtbot.waitUntil(lambda: not window.busy(), timeout=20_000)
    assert window.state.session is not None and window.state.session.source == first.resolve()
    assert cases.model.rowCount() == 2  # the first folder's cases, as they were
    window.go_to(1)
    assert window.stack.currentWidget() is cases and not cases.scanning()


def test_a_small_folder_never_shows_the_scan_view(window: Any, qtbot: Any,
                                                  tmp_path: Path) -> None:
    cases = window.page(CasesPage)
    shown: list[bool] = []
    cases.scan_view.model.modelReset.connect(lambda: shown.append(cases.scanning()))
    window.page(SourcePage).open_path(synth.nnunet(tmp_path / "small", cases=2))
    qtbot.waitUntil(lambda: not window.busy(), timeout=20_000)
    assert not any(shown)  # done within SHOW_SCAN_AFTER_S: straight to the real cases
    assert window.stack.currentWidget() is cases and cases.model.rowCount() == 2


def test_the_details_keep_their_scroll_while_other_rows_fill_in(qtbot: Any) -> None:
    from dataclasses import replace

    from app.discover import CaseSketch, ScanProgress
    from ui.scan_view import ScanView

    view = ScanView()
    qtbot.addWidget(view)
    view.resize(900, 500)
    view.show()
    rows = tuple(CaseSketch(f"s{i:04d}", f"s{i:04d}/ct.nii.gz", False, 64,
                            tuple(f"s{i:04d}/segmentations/m{k:03d}.nii.gz"
                                  for k in range(117))) for i in range(3))
    view.show_step(ScanProgress(0, 3, "census", rows), "Opening x")
    bar = view.details.verticalScrollBar()
    assert bar.maximum() > 0  # 60 of 117 masks listed: the details scroll
    bar.setValue(bar.maximum())
    counted = (rows[0], replace(rows[1], counted=50), rows[2])  # the chosen row 0 unchanged
    view.show_step(ScanProgress(1, 3, "census", counted), "Opening x")
    view._apply()  # the repaint the timer would do
    assert bar.value() == bar.maximum() > 0
    assert view.model.sketch_at(1).counted == 50


def _calls_from_qt(action: Any) -> int:
    """Calls of the scan view's Python code (its model's methods) while ``action`` runs."""
    import sys

    import ui.scan_view

    seen: list[str] = []

    def profile(frame: Any, event: str, _arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename == ui.scan_view.__file__:
            seen.append(frame.f_code.co_name)

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return len(seen)


def test_painting_and_sorting_the_rows_call_no_python(qtbot: Any) -> None:
    # each call a repaint makes into a Python model waits for the scan's thread to let go
    # of the interpreter: at the census's end (10,000 cases) the window stopped answering
    # for 1.1-1.4 s over 2,270 of them
    from dataclasses import replace

    from PySide6.QtCore import Qt

    from app.discover import CaseSketch, ScanProgress
    from ui.scan_view import COLUMNS, ScanView

    view = ScanView()
    qtbot.addWidget(view)
    view.resize(900, 500)
    view.show()
    rows = tuple(CaseSketch(f"s{i:04d}", f"s{i:04d}/ct.nii.gz", False, 10 + i % 7,
                            (f"s{i:04d}/a.nii.gz", f"s{i:04d}/b.nii.gz")) for i in range(300))
    view.show_step(ScanProgress(0, 300, "census", rows), "Opening x")
    counted = tuple(replace(s, counted=2, labels=i % 5) if i % 3 else s
                    for i, s in enumerate(rows))
    view.show_step(ScanProgress(200, 300, "census", counted), "Opening x")
    view._apply()
    assert _calls_from_qt(lambda: view.table.viewport().repaint()) == 0
    census = COLUMNS.index("Census")
    assert _calls_from_qt(lambda: view.table.sortByColumn(
        census, Qt.SortOrder.DescendingOrder)) == 0
    top = [view.model.sketch_at(view.proxy.mapToSource(view.proxy.index(r, 0)).row())
           for r in range(view.proxy.rowCount())]
    assert [s.labels for s in top[:3]] == [4, 4, 4] and top[-1].counted == 0  # by the census
    slices = COLUMNS.index("Slices")
    view.table.sortByColumn(slices, Qt.SortOrder.AscendingOrder)  # numbers as numbers
    assert view.proxy.index(0, slices).data() == "10"
    assert view.proxy.index(view.proxy.rowCount() - 1, slices).data() == "16"
    view.table.sortByColumn(census, Qt.SortOrder.AscendingOrder)
    first = view.proxy.index(0, 0)
    assert first.data(Qt.ItemDataRole.ForegroundRole) is not None  # still counting: grey
    assert view.proxy.index(view.proxy.rowCount() - 1, 0).data(
        Qt.ItemDataRole.ForegroundRole) is None  # counted: the palette's colour


def test_a_new_scans_rows_leave_no_python_side_of_the_old_ones(qtbot: Any) -> None:
    # an item Qt deletes must be one Python is told about: a prototype's clone is made in
    # C++ and its Python side was left pointing at freed memory (a crash, 1 walk in 25)
    import shiboken6

    from app.discover import CaseSketch
    from ui.scan_view import COLUMNS, SketchModel

    model = SketchModel()
    first = tuple(CaseSketch(f"a{i}", f"a{i}.nii.gz", False, 5, ("m.nii.gz",)) for i in range(4))
    model.set_sketches(first)
    old = [model.item(r, c) for r in range(4) for c in range(len(COLUMNS))]
    assert all(shiboken6.isValid(item) for item in old)
    model.set_sketches(first[:2])  # another scan: its rows replace these
    assert not any(shiboken6.isValid(item) for item in old)
    assert model.rowCount() == 2 and model.index(1, 0).data() == "a1"
