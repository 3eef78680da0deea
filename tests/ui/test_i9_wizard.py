"""The wizard on a mixed folder (40, 20, 12 and 3 slices, named and unnamed label maps,
binary masks with empty ones): the Mapping and Preview pages as a user walks them."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.items import Taxonomy
from app.session import RowStatus
from tests.app.builders import taxonomy_v2
from tests.ui.mixed import mixed_folder
from ui import errors
from ui.mapping_model import COL_CATEGORY, COL_SOURCE
from ui.pages.mapping_page import MappingPage
from ui.pages.preview_page import PreviewPage
from ui.pages.source_page import SourcePage


@pytest.fixture
def opened(qtbot, window, tmp_path, monkeypatch):
    """The wizard with the mixed folder open; error dialogs recorded, never shown."""
    shown: list[object] = []
    monkeypatch.setattr(errors, "show", lambda exc, *a, **k: shown.append(exc))
    mixed = mixed_folder(tmp_path / "data")
    window.page(SourcePage).open_path(mixed.root)
    qtbot.waitUntil(lambda: not window.busy() and window.state.session is not None,
                    timeout=60_000)
    yield window, mixed
    assert shown == [], f"an error reached the user: {shown}"


def show(qtbot, window, page, name: str) -> None:
    """Select case ``name`` on ``page`` and wait until its preview is on screen."""
    page.case_combo.setCurrentIndex(page.case_combo.findData(name))
    qtbot.waitUntil(lambda: page.preview.case() == name and not window.busy(), timeout=30_000)


def case_values(window, name: str) -> list[int]:
    session = window.state.session
    return [e.value for e in session.legend(session.case(name))]


@pytest.mark.parametrize("page_cls", [MappingPage, PreviewPage])
def test_a_case_switch_from_a_high_slice_shows_the_new_case_whole(qtbot, opened, page_cls):
    window, mixed = opened
    page = window.page(page_cls)
    window.go_to(window.page_index(page))
    for first, second in ((mixed.big, mixed.small), (mixed.small, mixed.big),
                          (mixed.big, mixed.unnamed), (mixed.unnamed, mixed.small)):
        show(qtbot, window, page, first)
        page.preview.set_slice(10_000)  # the last slice of the bigger case
        page.preview.slice_view.pixelHovered.emit(5, 5)
        show(qtbot, window, page, second)
        vols = page.preview.volumes()
        assert page.preview.case() == second and page.preview.title() == second
        assert window.loader.current is not None and window.loader.current.case == second
        assert vols is window.loader.current.volumes
        assert 0 <= page.preview.slice_index() < vols.n_slices(page.preview.view())
        assert page.case_combo.currentData() == second
        # No position of the last case lingers in the readout.
        assert "voxel" not in page.preview.readout_text()
        if page_cls is PreviewPage:
            listed = [int(page.legend.item(n, 0).text()) for n in range(page.legend.rowCount())]
            assert listed == case_values(window, second)
            assert "Loading" not in page.status.text()
        else:
            assert "Loading" not in page.preview_note.text()


def test_mapping_always_shows_the_current_cases_rows(qtbot, opened):
    window, mixed = opened
    state, mapping = window.state, window.page(MappingPage)
    window.go_to(window.page_index(mapping))
    mapping.case_combo.setCurrentIndex(mapping.case_combo.findData(mixed.small))
    small = state.session.case(mixed.small)
    state.edit(lambda s: s.set_included(small, False), "leave out small", [small])
    # The selected case left: the page shows another included case, never an empty table.
    assert mapping.case() is not None and mapping.case().name != mixed.small
    assert mapping.model.rowCount() > 0 and mapping.case_combo.currentData() == mapping.case().name
    assert "Every label is mapped" not in mapping.banner.text()
    state.edit(lambda s: s.set_all_included(False), "leave out all")
    assert mapping.model.rowCount() == 0
    assert "No case to map" in mapping.banner.text()


def test_unmapped_label_values_show_in_the_preview_view_only(qtbot, opened):
    window, mixed = opened
    preview = window.page(PreviewPage)
    window.go_to(window.page_index(preview))
    show(qtbot, window, preview, mixed.unnamed)
    vols = preview.preview.volumes()
    assert vols.labels is not None and set(np.unique(vols.labels)) == {0, 1, 2, 3}
    names = [preview.legend.item(n, 1).text() for n in range(preview.legend.rowCount())]
    assert names == ["(not mapped: view-only)"] * 3
    assert "No value is mapped yet" in preview.status.text()
    assert preview.preview.jump_to(1)
    _, labels2d = vols.slice(preview.preview.view(), preview.preview.slice_index())
    alpha = preview.preview.slice_view.label_item.image[..., 3]
    inside = alpha[labels2d == 1]
    assert inside.max() > 2 * inside.min() > 0  # a crisp edge around a faint fill


def test_every_mapping_edit_can_be_undone_and_redone(qtbot, opened):
    window, mixed = opened
    state, mapping = window.state, window.page(MappingPage)
    window.go_to(window.page_index(mapping))
    mapping.case_combo.setCurrentIndex(mapping.case_combo.findData(mixed.unnamed))
    assert mapping.model.setData(mapping.model.index(0, COL_CATEGORY), "Liver")
    assert mapping.model.row_at(0).category == "Liver"
    assert state.undo_stack.undoText() == "map value 1 to Liver"
    state.undo_stack.undo()
    assert mapping.model.row_at(0).category is None
    assert mapping.model.row_at(0).status == RowStatus.UNMAPPED
    state.undo_stack.redo()
    assert mapping.model.row_at(0).category == "Liver"
    # Accepting suggestions, and a case left out, undo too.
    big = state.session.case(mixed.big)
    before = set(big.unreviewed)
    mapping.case_combo.setCurrentIndex(mapping.case_combo.findData(mixed.big))
    qtbot.mouseClick(mapping.accept_button, Qt.MouseButton.LeftButton)
    assert not state.session.case(mixed.big).unreviewed
    state.undo_stack.undo()
    assert state.session.case(mixed.big).unreviewed == before
    assert any(r.status == RowStatus.SUGGESTED for r in mapping.model.rows())


def test_the_category_is_readable_at_the_default_size(qtbot, opened):
    window, mixed = opened
    window.resize(1280, 820)
    mapping = window.page(MappingPage)
    window.go_to(window.page_index(mapping))
    show(qtbot, window, mapping, mixed.big)
    fm = mapping.table.fontMetrics()
    widest = max(fm.horizontalAdvance(mapping.model.index(n, COL_CATEGORY).data())
                 for n in range(mapping.model.rowCount()))
    assert mapping.table.columnWidth(COL_CATEGORY) >= widest
    header = mapping.table.horizontalHeader()
    right = header.sectionViewportPosition(COL_CATEGORY) + header.sectionSize(COL_CATEGORY)
    assert right <= mapping.table.viewport().width()  # visible without scrolling
    title = header.model().headerData(COL_CATEGORY, Qt.Orientation.Horizontal)
    assert fm.horizontalAdvance(title) < header.sectionSize(COL_CATEGORY)
    first = mapping.model.index(0, COL_CATEGORY)
    editor = mapping.delegate.createEditor(mapping.table, None, first)
    longest = max(fm.horizontalAdvance(editor.itemText(n)) for n in range(editor.count()))
    assert editor.completer().popup().minimumWidth() >= longest
    assert editor.view().minimumWidth() >= longest


def test_empty_masks_come_last_and_can_be_hidden(qtbot, opened):
    window, mixed = opened
    mapping = window.page(MappingPage)
    window.go_to(window.page_index(mapping))
    show(qtbot, window, mapping, mixed.binary)
    statuses = [r.status for r in mapping.model.rows()]
    assert statuses[-2:] == [RowStatus.EMPTY, RowStatus.EMPTY]
    assert RowStatus.EMPTY not in statuses[:-2]
    assert mapping.hide_empty.isVisible() and "2 empty" in mapping.hide_empty.text()
    mapping.hide_empty.setChecked(True)
    assert RowStatus.EMPTY not in {r.status for r in mapping.model.rows()}
    # A label named by a finding is found even when its row is hidden.
    assert mapping.select_label(None, "brain.nii.gz")
    assert mapping.model.row_at(mapping.table.currentIndex().row()).files[0].name == "brain.nii.gz"


def test_select_label_picks_the_value_in_the_named_file(qtbot, opened):
    window, mixed = opened
    mapping = window.page(MappingPage)
    window.go_to(window.page_index(mapping))
    show(qtbot, window, mapping, mixed.binary)
    assert mapping.select_label(None, "spleen.nii.gz")
    row = mapping.model.row_at(mapping.table.currentIndex().row())
    assert row.files[0].name == "spleen.nii.gz"
    show(qtbot, window, mapping, mixed.big)
    assert mapping.select_label(9)
    assert mapping.model.row_at(mapping.table.currentIndex().row()).value == 9
    assert not mapping.select_label(250)


def test_a_mapping_by_hand_says_you(qtbot, opened):
    window, mixed = opened
    mapping = window.page(MappingPage)
    window.go_to(window.page_index(mapping))
    show(qtbot, window, mapping, mixed.big)
    source = mapping.model.index(0, COL_SOURCE)
    assert source.data() != "you"
    assert mapping.model.setData(mapping.model.index(0, COL_CATEGORY), "Spleen")
    assert mapping.model.index(0, COL_SOURCE).data() == "you"


def test_apply_to_same_labels_says_why_nothing_changed(qtbot, opened, monkeypatch):
    window, mixed = opened
    said: list[str] = []
    monkeypatch.setattr(QMessageBox, "information", lambda _p, _t, text: said.append(text))
    mapping = window.page(MappingPage)
    window.go_to(window.page_index(mapping))
    show(qtbot, window, mapping, mixed.unnamed)
    qtbot.mouseClick(mapping.apply_button, Qt.MouseButton.LeftButton)
    assert said and "0 case(s)" in said[0]
    assert "other label values" in said[0] and "binary masks" in said[0]


def test_the_case_list_says_what_each_case_needs_and_ctrl_pgdown_steps(qtbot, opened):
    window, mixed = opened
    preview = window.page(PreviewPage)
    window.go_to(window.page_index(preview))
    texts = [preview.case_combo.itemText(n) for n in range(preview.case_combo.count())]
    assert any("3 to map" in t and t.startswith(mixed.unnamed) for t in texts)
    assert any("to review" in t and t.startswith(mixed.big) for t in texts)
    first = preview.case_combo.currentData()
    preview.preview.setFocus()
    qtbot.keyClick(preview, Qt.Key.Key_PageDown, Qt.KeyboardModifier.ControlModifier)
    assert preview.case_combo.currentData() != first
    qtbot.waitUntil(lambda: preview.preview.case() == preview.case_combo.currentData(),
                    timeout=30_000)


def test_hover_readout_follows_the_slice_and_planes_keep_the_point(qtbot, opened):
    window, mixed = opened
    preview = window.page(PreviewPage)
    window.go_to(window.page_index(preview))
    show(qtbot, window, preview, mixed.big)
    widget = preview.preview
    widget.slice_view.pixelHovered.emit(20, 20)
    before = widget.readout_text()
    assert "voxel" in before
    widget.step(1)
    after = widget.readout_text()
    assert "voxel" in after and after != before  # the same pixel, one slice further
    vols = widget.volumes()
    assert widget.jump_to(2)  # the spleen
    where = vols.largest_slices()[2]
    widget.set_view("coronal")
    assert widget.slice_index() == where["coronal"]
    widget.set_view("sagittal")
    assert widget.slice_index() == where["sagittal"]
    widget.set_view("axial")
    assert widget.slice_index() == where["axial"]


def test_a_category_keeps_its_colour_across_cases_and_colours_differ(qtbot, opened):
    window, mixed = opened
    session = window.state.session
    by_name = {}
    for name in (mixed.big, mixed.binary):
        for entry in session.legend(session.case(name)):
            if entry.name:
                assert by_name.setdefault(entry.name, entry.colour) == entry.colour
    big = [e.colour for e in session.legend(session.case(mixed.big)) if e.name]
    assert len(set(big)) == len(big)  # no two categories of a case share a colour


def test_an_image_opens_with_its_files_window(qtbot):
    from app.geometry import Grid
    from app.preview import FILE, DisplayVolumes
    from app.readers import ImageHints
    from bench import phantom
    from ui.preview import PreviewWidget

    torso = phantom.torso((32, 32, 8), spacing=(10.0, 10.0, 20.0))
    grid = Grid.of(torso.image.shape, torso.affine)
    vols = DisplayVolumes.build(torso.image, grid, torso.labels, grid, torso.segments)
    widget = PreviewWidget()
    qtbot.addWidget(widget)
    widget.show_case("ct", vols, {}, hints=ImageHints("CT", (-600.0, 1500.0), "LUNG"))
    assert widget.preset() == FILE and widget.window_level() == (-600.0, 1500.0)
    widget.show_case("mr", vols, {}, hints=ImageHints("MR"))
    assert widget.preset() == "auto"
    widget.show_case("ct2", vols, {}, hints=ImageHints("CT"))
    assert widget.preset() == "soft tissue" and widget.window_level() == (40.0, 400.0)


def test_a_move_and_a_case_left_out_are_undone_by_name(qtbot, window, demo_dataset):
    window.page(SourcePage).open_path(demo_dataset.root, go_on=False)
    qtbot.waitUntil(lambda: not window.busy() and window.state.session is not None,
                    timeout=60_000)
    state = window.state
    session = state.session
    three = next(c for c in session.cases if c.shape == "III")
    one = next(c for c in session.cases if c.shape == "I")
    spleen = next(m for m in three.masks if m.name == "spleen.nii.gz")
    state.edit(lambda s: s.move_mask(spleen, three, one), f"move spleen.nii.gz to {one.name}",
               [three, one])
    assert state.undo_stack.undoText() == f"move spleen.nii.gz to {one.name}"
    state.undo_stack.undo()
    now = {c.name: [m.name for m in c.masks] for c in state.session.cases}
    assert "spleen.nii.gz" in now[three.name] and "spleen.nii.gz" not in now[one.name]
    assert state.session.case(three.name).shape == "III"
    from PySide6.QtWidgets import QMenu

    edit_menu = next(m for m in window.menuBar().findChildren(QMenu) if "Edit" in m.title())
    texts = [a.text().replace("&", "") for a in edit_menu.actions()]
    assert f"Redo move spleen.nii.gz to {one.name}" in texts


def test_undo_and_redo_of_every_kind_of_edit_restore_the_exact_list(qtbot, window,
                                                                   demo_dataset, tmp_path):
    """Category set and cleared, suggestions accepted, a mapping applied to the same labels,
    a template applied, a mask moved, a case left out, a colour: after undoing them all the
    exported items list is byte for byte the one before; after redoing them, the one after."""
    import json

    window.page(SourcePage).open_path(demo_dataset.root, go_on=False)
    qtbot.waitUntil(lambda: not window.busy() and window.state.session is not None,
                    timeout=60_000)
    state = window.state
    session = state.session

    def exported(name: str) -> object:
        out = session.export(tmp_path / name / "items.json")
        return json.loads(out.path.read_text()), dict(session.chosen_colours)

    before = exported("before")
    three = next(c for c in session.cases if c.shape == "III")
    one = next(c for c in session.cases if c.shape == "I")
    row = next(r for r in session.rows(one) if r.category is not None)
    template = session.template(three)
    spleen = next(m for m in three.masks if m.name == "spleen.nii.gz")
    edits = [
        (lambda s: s.set_category(one, row, "Spleen"), [one]),
        (lambda s: s.set_category(one, next(r for r in s.rows(one) if r.value == 7), None),
         [one]),
        (lambda s: s.accept(three), [three]),
        (lambda s: s.apply_mapping(one), None),
        (lambda s: s.apply_template(template), None),
        (lambda s: s.move_mask(spleen, three, one), [three, one]),
        (lambda s: s.set_included(three, False), [three]),
        (lambda s: s.set_colour("Liver", (9, 9, 9)), []),
    ]
    for n, (do, cases) in enumerate(edits):
        state.edit(do, f"edit {n}", cases)
    after = exported("after")
    assert after != before
    while state.undo_stack.canUndo():
        state.undo_stack.undo()
    assert exported("undone") == before
    while state.undo_stack.canRedo():
        state.undo_stack.redo()
    assert exported("redone") == after


@pytest.mark.parametrize("page_cls", [MappingPage, PreviewPage])
def test_the_case_list_follows_an_edit_of_a_case_not_shown(qtbot, opened, page_cls):
    # an edit reaching other cases (Apply to same labels, a template, undo) changes what
    # they need: their entries say it, not what they needed when the list was filled
    window, mixed = opened
    page = window.page(page_cls)
    window.go_to(window.page_index(page))
    show(qtbot, window, page, mixed.small)

    def text_of(name: str) -> str:
        return page.case_combo.itemText(page.case_combo.findData(name))

    assert "to review" in text_of(mixed.big)
    big = window.state.session.case(mixed.big)
    window.state.edit(lambda s: s.accept(big), "accept", [big])
    assert "to review" not in text_of(mixed.big)
    window.state.undo_stack.undo()
    assert "to review" in text_of(mixed.big)


def test_the_preview_case_list_follows_cases_left_out_and_put_back(qtbot, opened):
    window, mixed = opened
    preview = window.page(PreviewPage)
    window.go_to(window.page_index(preview))
    show(qtbot, window, preview, mixed.small)
    big = window.state.session.case(mixed.big)
    window.state.edit(lambda s: s.set_included(big, False), "leave out big", [big])
    assert preview.case_combo.findData(mixed.big) < 0  # not exported: not listed
    window.state.undo_stack.undo()
    assert preview.case_combo.findData(mixed.big) >= 0
    assert preview.case_combo.currentData() == mixed.small == preview.preview.case()
    small = window.state.session.case(mixed.small)
    window.state.edit(lambda s: s.set_included(small, False), "leave out small", [small])
    shown = preview.case_combo.currentData()  # the case shown left: another one is shown
    assert shown not in (None, mixed.small)
    qtbot.waitUntil(lambda: preview.preview.case() == shown and not window.busy(),
                    timeout=30_000)


def test_the_case_list_follows_a_new_taxonomy(qtbot, opened):
    # a taxonomy without the categories a case maps to makes them problems of every case
    window, mixed = opened
    mapping = window.page(MappingPage)
    window.go_to(window.page_index(mapping))
    show(qtbot, window, mapping, mixed.small)
    big = window.state.session.case(mixed.big)
    window.state.edit(lambda s: s.accept(big), "accept", [big])
    text = mapping.case_combo.itemText(mapping.case_combo.findData(mixed.big))
    assert "problem" not in text
    window.state.set_taxonomy(Taxonomy.from_json(taxonomy_v2(["Unrelated"])), None)
    text = mapping.case_combo.itemText(mapping.case_combo.findData(mixed.big))
    assert "problem(s)" in text
