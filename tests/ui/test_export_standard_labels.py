"""Export page: DICOM SEG and label tables beside the items list, written as long work
after the export, and what was left out said on the page."""

from __future__ import annotations

import pytest

from app.export import read_slicer_colour_table
from app.readers.dicom._seg import seg_header
from app.session import SEG_FOLDER, TABLE_FOLDER
from ui import errors
from ui.pages.export_page import ExportPage
from ui.pages.source_page import SourcePage
from ui.pages.validate_page import ValidatePage


@pytest.fixture
def shown(monkeypatch):
    seen = []
    monkeypatch.setattr(errors, "show", lambda exc, details=None, parent=None: seen.append(exc))
    return seen


@pytest.fixture
def page(qtbot, window, demo_dataset, tmp_path, monkeypatch) -> ExportPage:
    """The Export page of the demo, validation passed, writing into tmp_path/out."""
    window.page(SourcePage).open_path(demo_dataset.root, go_on=False)
    qtbot.waitUntil(lambda: not window.busy() and window.state.session is not None,
                    timeout=60_000)
    monkeypatch.setattr(window.page(ValidatePage), "can_next", lambda: (True, ""))
    export = window.page(ExportPage)
    export.path_edit.setText(str(tmp_path / "out" / "items.json"))
    return export


def test_ticked_boxes_write_a_seg_and_tables_of_every_case(qtbot, window, page, tmp_path,
                                                           shown):
    page.dicom_seg.setChecked(True)
    page.label_tables.setChecked(True)
    summary = page.export()
    assert summary is not None and shown == []
    qtbot.waitUntil(lambda: not window.busy(), timeout=120_000)
    cases = window.state.session.cases
    segs = sorted((tmp_path / "out" / SEG_FOLDER).glob("*.dcm"))
    assert len(segs) == len(cases)
    for seg in segs:
        assert seg_header(seg).segments  # a readable SEG with its segments described
    tables = sorted((tmp_path / "out" / TABLE_FOLDER).glob("*.csv"))
    assert len(tables) == len(cases) and all(read_slicer_colour_table(t) for t in tables)
    assert f"{len(cases)} DICOM SEG(s)" in page.result.text()
    assert f"{2 * len(cases)} label table(s)" in page.result.text()


def test_unticked_boxes_write_only_the_items_list(window, page, tmp_path, shown):
    assert page.export() is not None
    assert not window.busy()
    assert (tmp_path / "out" / "items.json").is_file()
    assert not (tmp_path / "out" / SEG_FOLDER).exists()
    assert not (tmp_path / "out" / TABLE_FOLDER).exists()
