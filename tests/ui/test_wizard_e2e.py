"""End to end: the wizard on the demo, from folder to items.json, as a user drives it."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from app.items import load_items
from app.session import RowStatus
from ui.mapping_model import COL_CATEGORY
from ui.pages.source_page import SourcePage


def wait_idle(qtbot, window, timeout=60_000):
    qtbot.waitUntil(lambda: not window.busy(), timeout=timeout)


def test_demo_from_folder_to_items_json(qtbot, window, demo_dataset, tmp_path):
    source = window.page(SourcePage)
    source.load_taxonomy(demo_dataset.taxonomy_json)
    source.open_path(demo_dataset.root)
    wait_idle(qtbot, window)
    state = window.state
    assert state.session is not None and window.stack.currentIndex() == 1  # went on to Cases
    assert sorted(c.shape for c in state.session.cases) == ["I", "II", "III"]

    # Mapping: the shape-I case has value 7 unmapped; map it, accept the suggestions.
    one = next(c for c in state.session.cases if c.shape == "I")
    state.set_current_case(one.name)
    qtbot.mouseClick(window.next_button, Qt.MouseButton.LeftButton)
    mapping = window.pages[2]
    assert window.stack.currentIndex() == 2
    assert "7 are not mapped" in mapping.banner.text()
    qtbot.waitUntil(lambda: window.loader.current is not None
                    and window.loader.current.case == one.name, timeout=30_000)
    last = mapping.model.rowCount() - 1
    mapping.table.setCurrentIndex(mapping.model.index(last, COL_CATEGORY))
    assert mapping.model.setData(mapping.model.index(last, COL_CATEGORY), "Spleen")
    qtbot.mouseClick(mapping.accept_button, Qt.MouseButton.LeftButton)
    assert {r.status for r in mapping.model.rows()} == {RowStatus.OK}
    assert "Every label is mapped" in mapping.banner.text()

    # Preview: the overlap group of shape III is listed.
    three = next(c for c in state.session.cases if c.shape == "III")
    window.go_to(3)
    preview = window.pages[3]
    preview.case_combo.setCurrentIndex(preview.case_combo.findData(three.name))
    qtbot.waitUntil(lambda: window.loader.current is not None
                    and window.loader.current.case == three.name, timeout=30_000)
    assert "Liver + Liver Tumor" in preview.groups.text()
    assert preview.preview.volumes() is not None

    # Validate: the two other cases still have unreviewed suggestions -> warnings.
    window.go_to(4)
    wait_idle(qtbot, window)
    validate = window.pages[4]
    codes = {f.code for f in validate.findings}
    assert "suggestion-unreviewed" in codes and "overlap" in codes
    assert not any(f.severity == "error" for f in validate.findings)
    assert not window.next_button.isEnabled()  # warnings not accepted yet
    validate.accept_warnings.setChecked(True)
    assert window.next_button.isEnabled()

    # The work so far is autosaved (it is not exported yet) and holds no secret.
    state.save_now()
    saved = json.loads(state.autosave_path.read_text())
    assert saved["format"] == "segmap-session"

    # Export.
    qtbot.mouseClick(window.next_button, Qt.MouseButton.LeftButton)
    export = window.pages[5]
    out = tmp_path / "out" / "items.json"
    export.path_edit.setText(str(out))
    summary = export.export()
    assert summary is not None and out.is_file()
    written = load_items(out)
    task = next(t for t in written.tasks if t.name == one.name)
    assert task.series[0].segment_map.segments[7].category == "Spleen"
    for _, _, _, s in written.iter_series():
        assert all(written.resolve(p).is_file() for p in s.segmentation_paths)
        assert all(written.resolve(p).is_file() for p in s.item_paths)
    # Exported: there is no unexported work left to offer back.
    state.save_now()
    assert not state.autosave_path.exists() and state.saved_work_for() is None


def test_the_window_keeps_responding_while_a_source_opens(qtbot, window, demo_dataset,
                                                          monkeypatch):
    import time

    from PySide6.QtCore import QTimer

    from app.discover import _scan

    real = _scan.census
    # each mask takes 30 ms to count, so the open lasts long enough to count the turns of
    # the event loop on any machine (the demo's alone can be over in 15 ms)
    monkeypatch.setattr(_scan, "census",
                        lambda *a, **kw: time.sleep(0.03) or real(*a, **kw))
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(5)
    window.page(SourcePage).open_path(demo_dataset.root, go_on=False)
    assert window.busy()
    wait_idle(qtbot, window)
    timer.stop()
    assert len(ticks) >= 3  # the event loop turned while the scan ran on the worker


def test_cancel_stops_opening_and_keeps_the_window_usable(qtbot, window, demo_dataset):
    window.page(SourcePage).open_path(demo_dataset.root, go_on=False)
    window.cancel_button.click()
    wait_idle(qtbot, window)
    assert window.state.session is None  # nothing half-opened
    assert not window.cancel_button.isVisible() and window.stack.currentIndex() == 0
    window.page(SourcePage).open_path(demo_dataset.root, go_on=False)  # and it still works
    wait_idle(qtbot, window)
    assert window.state.session is not None


def test_autosaved_work_is_restored(qtbot, window, demo_dataset, tmp_path):
    from ui.__main__ import restore

    source = window.page(SourcePage)
    source.load_taxonomy(demo_dataset.taxonomy_json)
    source.open_path(demo_dataset.root, go_on=False)
    wait_idle(qtbot, window)
    session = window.state.session
    one = next(c for c in session.cases if c.shape == "I")
    session.set_category(one, session.rows(one)[-1], "Aorta")
    window.state.mappingChanged.emit(one.name)
    qtbot.waitUntil(lambda: window.state.autosave_path.is_file(), timeout=5000)
    window.state.set_session(None)
    restore(window, window.state)
    again = window.state.session
    assert again is not None
    case = next(c for c in again.cases if c.shape == "I")
    assert case.series.segment_map.segments[7].category == "Aorta"
    assert window.stack.currentIndex() == 2


@pytest.mark.shared_data
def test_totalsegmentator_binary_masks_land_in_the_wizard(qtbot, window, shared_data, tmp_path):
    ref = shared_data / "totalsegmentator" / "tests" / "reference_files"
    # A folder holding the small CT and its 117 binary masks (links, nothing copied).
    case = tmp_path / "s0001"
    (case / "segmentations").mkdir(parents=True)
    (case / "ct.nii.gz").symlink_to(ref / "example_ct_sm.nii.gz")
    for m in (ref / "example_seg_fast").glob("*.nii.gz"):
        (case / "segmentations" / m.name).symlink_to(m)
    window.page(SourcePage).open_path(tmp_path)
    wait_idle(qtbot, window, timeout=120_000)
    session = window.state.session
    assert session is not None
    binary = [c for c in session.cases if c.shape == "III"]
    assert len(binary) == 1 and len(binary[0].masks) >= 100
    window.state.set_current_case(binary[0].name)
    window.go_to(2)
    qtbot.waitUntil(lambda: window.loader.current is not None, timeout=60_000)
    mapping = window.pages[2]
    names = {r.files[0].name: r for r in mapping.model.rows() if r.files}
    assert names["liver.nii.gz"].category is not None  # named after its file
    assert mapping.preview.volumes() is not None
