"""An RT Structure Set in the wizard: its ROIs are the Mapping table's rows, the preview
shows each on the image, the export is keyed by ROI name. Set SEGMAP_GRAB=DIR to keep the
pages as PNG."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.app.rt_synth import write_rt_folder
from ui.mapping_model import COL_CATEGORY
from ui.pages.source_page import SourcePage


def wait_idle(qtbot, window, timeout=60_000):
    qtbot.waitUntil(lambda: not window.busy(), timeout=timeout)


def grab(widget, name: str) -> None:
    folder = os.environ.get("SEGMAP_GRAB")
    if folder:
        widget.grab().save(str(Path(folder) / name))


@pytest.fixture
def rt_folder(tmp_path: Path) -> Path:
    return write_rt_folder(tmp_path / "patient")


def test_rois_map_preview_and_export_by_name(qtbot, window, rt_folder, tmp_path):
    source = window.page(SourcePage)
    source.open_path(rt_folder)
    wait_idle(qtbot, window)
    state = window.state
    (case,) = state.session.cases
    grab(window, "rt-cases.png")
    window.go_to(2)
    mapping = window.pages[2]
    qtbot.waitUntil(lambda: window.loader.current is not None
                    and window.loader.current.case == case.name, timeout=30_000)
    rows = mapping.model.rows()
    assert [r.value for r in rows] == [1, 2, 3]
    from ui.mapping_model import COL_FILE
    # the ROI each value is, beside its category (the name the list is keyed by)
    assert {mapping.model.data(mapping.model.index(i, COL_FILE)) for i in range(3)} == {
        "rs.dcm: ROI 'Liver'", "rs.dcm: ROI 'Cord'", "rs.dcm: ROI 'Couch'"}
    couch = next(i for i, r in enumerate(rows) if r.category == "Couch")
    assert mapping.model.setData(mapping.model.index(couch, COL_CATEGORY), "")  # not imported
    assert [r.category for r in mapping.model.rows()][couch] is None
    grab(window, "rt-mapping.png")
    window.go_to(3)
    preview = window.pages[3]
    qtbot.waitUntil(lambda: preview.preview.volumes() is not None, timeout=30_000)
    vols = preview.preview.volumes()
    assert vols.labels is not None and {1, 2, 3} <= set(int(v) for v in set(vols.labels.ravel()))
    names = [preview.legend.item(i, 1).text() for i in range(preview.legend.rowCount())]
    assert "(ROI 'Couch' not mapped: not imported)" in names
    grab(window, "rt-preview.png")
    out = tmp_path / "out" / "items.json"
    summary = state.session.export(out)
    assert summary.upload_command == "redbrick upload --rt-struct items.json"
    assert json.loads(out.read_text())[0]["series"][0]["segmentMap"] == {
        "Liver": "Liver", "Cord": "Cord"}
