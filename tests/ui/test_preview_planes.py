"""Three linked planes: a click moves the point, the other planes follow it in world space,
each crosshair shows where the others cut, and the point's readout names what is there.
Checked on LPS- and RAS-stored data and on a mask stored in another orientation than its
image (the planes must agree on the same world point whatever the storage)."""

from __future__ import annotations

import numpy as np
import pytest

from app.geometry import Grid
from app.preview import VIEWS, DisplayVolumes
from bench import phantom
from tests.ui.previews import phantom_preview
from ui.preview import PreviewWidget


@pytest.fixture(scope="module")
def torso():
    return phantom.torso((64, 56, 40), spacing=(4.0, 4.5, 5.0))


def _volumes(image, affine, labels, label_affine, segments) -> DisplayVolumes:
    return DisplayVolumes.build(image, Grid.of(image.shape, affine), labels,
                                Grid.of(labels.shape, label_affine), segments)


def ras_copy(array: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same voxels stored with the first two axes flipped (LPS -> RAS storage)."""
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    flip[:2, 3] = [array.shape[0] - 1, array.shape[1] - 1]
    return np.ascontiguousarray(array[::-1, ::-1]), affine @ flip


def widget_for(qtbot, vols: DisplayVolumes) -> PreviewWidget:
    return phantom_preview(qtbot, vols, (900, 520))


def at_crosshair(w: PreviewWidget, view: str):
    """What the crosshair of ``view`` points at (its readout)."""
    vols = w.volumes()
    at = w.planes[view].crosshair()
    assert vols is not None and at is not None
    return vols.describe(at[0], at[1], w.point()[view], view)


def liver_pixel(vols: DisplayVolumes, view: str, index: int) -> tuple[int, int]:
    _, labels = vols.slice(view, index)
    assert labels is not None
    rows, cols = np.nonzero(labels == 1)
    k = len(rows) // 3
    return int(rows[k]), int(cols[k])


@pytest.mark.parametrize("storage", ["lps", "ras", "mask-turned"])
def test_a_click_moves_every_plane_to_that_world_point(qtbot, torso, storage):
    image, labels, affine = torso.image, torso.labels, torso.affine
    label_affine = affine
    if storage == "ras":
        image, affine = ras_copy(torso.image, torso.affine)
        labels, label_affine = ras_copy(torso.labels, torso.affine)
    elif storage == "mask-turned":  # the image LPS, its mask stored RAS
        labels, label_affine = ras_copy(torso.labels, torso.affine)
    w = widget_for(qtbot, _volumes(image, affine, labels, label_affine, torso.segments))
    vols = w.volumes()
    assert vols is not None and w.visible_planes() == list(VIEWS)
    row, col = liver_pixel(vols, "axial", w.point()["axial"])
    clicked = vols.describe(row, col, w.point()["axial"], "axial")
    with qtbot.waitSignal(w.labelClicked) as sig:
        w.planes["axial"].pixelClicked.emit(row, col)
    assert sig.args == [1] and clicked.value == 1
    for view in VIEWS:  # every plane cuts through the clicked point, and says it is there
        there = at_crosshair(w, view)
        assert there is not None and there.value == 1
        assert np.allclose(there.world_mm, clicked.world_mm)
        assert there.voxel == clicked.voxel
    assert "label 1 (liver)" in w.point_text() and " mm" in w.point_text()
    # The planes shown are the slices through that point: each paints its own slice.
    for view in ("coronal", "sagittal"):
        want = vols.slice(view, w.point()[view])[0]
        assert w.planes[view].image_item.image.shape == want.shape


def test_the_same_world_point_reads_the_same_whatever_the_storage(qtbot, torso):
    lps = widget_for(qtbot, _volumes(torso.image, torso.affine, torso.labels, torso.affine,
                                     torso.segments))
    image, affine = ras_copy(torso.image, torso.affine)
    labels, _ = ras_copy(torso.labels, torso.affine)
    ras = widget_for(qtbot, _volumes(image, affine, labels, affine, torso.segments))
    for w in (lps, ras):
        w.planes["coronal"].pixelClicked.emit(20, 25)
    a, b = at_crosshair(lps, "sagittal"), at_crosshair(ras, "sagittal")
    assert np.allclose(a.world_mm, b.world_mm) and a.value == b.value
    assert a.intensity == b.intensity


def test_the_clicked_plane_takes_the_focus_and_the_wheel_moves_the_plane_under_it(qtbot,
                                                                                torso):
    w = widget_for(qtbot, _volumes(torso.image, torso.affine, torso.labels, torso.affine,
                                   torso.segments))
    w.planes["sagittal"].pixelClicked.emit(10, 10)
    assert w.view() == "sagittal" and w.slice_view is w.planes["sagittal"]
    before = w.point()
    w.planes["coronal"].wheelTurned.emit(2)
    after = w.point()
    assert w.view() == "coronal" and after["coronal"] == before["coronal"] + 2
    assert after["axial"] == before["axial"] and after["sagittal"] == before["sagittal"]
    # every crosshair moved with the coronal slice: they all point at one world point again
    points = [at_crosshair(w, view).world_mm for view in VIEWS]
    assert all(np.allclose(p, points[0]) for p in points)


def test_layouts_show_three_planes_one_large_or_one(qtbot, torso):
    w = widget_for(qtbot, _volumes(torso.image, torso.affine, torso.labels, torso.affine,
                                   torso.segments))
    w.set_layout_mode("one+two")
    assert all(p.isVisible() for p in w.planes.values())
    big, small = w.planes["axial"], w.planes["coronal"]
    qtbot.waitUntil(lambda: big.width() > small.width() and big.height() > small.height())
    w.set_layout_mode("one")
    assert [v for v, p in w.planes.items() if p.isVisible()] == ["axial"]
    w.set_view("sagittal")
    assert [v for v, p in w.planes.items() if p.isVisible()] == ["sagittal"]
    w.set_layout_mode("three")
    assert all(p.isVisible() for p in w.planes.values())
    with pytest.raises(ValueError):
        w.set_layout_mode("four")


def test_jumping_to_a_label_puts_the_crosshair_on_it(qtbot, torso):
    w = widget_for(qtbot, _volumes(torso.image, torso.affine, torso.labels, torso.affine,
                                   torso.segments))
    assert w.jump_to(2)
    for view in VIEWS:
        assert at_crosshair(w, view).value in (2, *(g for g, m in w.volumes().groups.items()
                                                    if 2 in m))


def test_a_click_on_a_label_selects_its_row_and_the_planes_stay(qtbot, window, demo_dataset):
    from ui.pages.mapping_page import MappingPage
    from ui.pages.preview_page import PreviewPage
    from ui.pages.source_page import SourcePage

    window.page(SourcePage).open_path(demo_dataset.root)
    qtbot.waitUntil(lambda: not window.busy(), timeout=60_000)
    case = next(c for c in window.state.session.cases if c.shape == "III")
    window.state.set_current_case(case.name)
    for page_cls in (MappingPage, PreviewPage):
        page = window.page(page_cls)
        window.go_to(window.page_index(page))
        qtbot.waitUntil(lambda p=page: p.preview.volumes() is not None
                        and window.loader.current is not None
                        and window.loader.current.case == case.name, timeout=30_000)
        vols = page.preview.volumes()
        if page_cls is MappingPage:
            now = page.model.row_at(page.table.currentIndex().row()).label_value
        else:
            item = page.legend.item(page.legend.currentRow(), 0)
            now = int(item.data(0x0100)) if item is not None else None
        # a voxel of another label than the selected one, in whichever plane shows one
        for view in VIEWS:
            index = page.preview.point()[view]
            _, labels = vols.slice(view, index)
            counts = np.bincount(labels[labels > 0].ravel(), minlength=2)
            counts[now or 0] = 0
            if counts.any():
                break
        value = int(counts.argmax())
        rows, cols = np.nonzero(labels == value)
        row, col = int(rows[len(rows) // 2]), int(cols[len(rows) // 2])
        d = vols.to_display(view, row, col, index)
        clicked = {v: vols.n_slices(v) - 1 - d[axis] for axis, v in enumerate(VIEWS)}
        page.preview.planes[view].pixelClicked.emit(row, col)
        if page_cls is MappingPage:
            selected = page.model.row_at(page.table.currentIndex().row())
            assert selected.label_value == value
        else:
            item = page.legend.item(page.legend.currentRow(), 0)
            assert int(item.data(0x0100)) == value  # Qt.ItemDataRole.UserRole
        assert page.preview.point() == clicked  # the click's point, not the label's largest


def test_a_labels_colour_opacity_outline_and_highlight(qtbot, window, demo_dataset, tmp_path):
    from PySide6.QtGui import QColor

    from app.session import export_standard_labels
    from ui.pages.preview_page import PreviewPage
    from ui.pages.source_page import SourcePage

    window.page(SourcePage).open_path(demo_dataset.root)
    qtbot.waitUntil(lambda: not window.busy(), timeout=60_000)
    case = next(c for c in window.state.session.cases if c.shape == "III")
    window.state.set_current_case(case.name)
    page = window.page(PreviewPage)
    window.go_to(window.page_index(page))
    qtbot.waitUntil(lambda: page.preview.volumes() is not None
                    and page.preview.case() == case.name, timeout=30_000)
    session = window.state.session
    row = 0
    entry = page._entry(row)
    assert entry is not None and entry.name is not None
    # the colour chosen is the category's everywhere: preview, legend, exported label table
    assert page.choose_colour(row, QColor(10, 200, 30))
    assert session.colours(case)[entry.value] == (10, 200, 30)
    assert page.preview._colours[entry.value] == (10, 200, 30)
    other = next(c for c in session.cases if c is not case and any(
        e.name == entry.name for e in session.legend(c)))
    assert (10, 200, 30) in session.colours(other).values()
    from app.progress import run

    written = run(export_standard_labels(session, tmp_path / "std", dicom_seg=False,
                                         names=[case.name]))
    table = next(p for p in written.tables if p.suffix in (".csv", ".ctbl"))
    assert f"1,{entry.name},10,200,30,255," in table.read_text()  # the Slicer colour table
    # undo puts the colour back
    window.undo_action.trigger()
    assert session.colours(case)[entry.value] != (10, 200, 30)
    # its own opacity and an outline, this look only
    page.set_label_style(entry.value, 0.25, outlined=True)
    lut = page.preview._lut32.view(np.uint8).reshape(-1, 4)
    assert lut[entry.value, 3] == round(255 * 0.25)
    vols = page.preview.volumes()
    view = page.preview.view()
    _, labels = vols.slice(view, page.preview.point()[view])
    if (labels == entry.value).any():
        from app.preview import outline

        inside = (labels == entry.value) & (outline(np.ascontiguousarray(labels)) == 0)
        shown = page.preview.planes[view].label_item.image
        assert not shown[inside][:, 3].any()  # its inside is clear: only the edge is drawn
    # pointing at a row: that label strong, the others faint
    page.preview.set_highlight(entry.value)
    lut = page.preview._lut32.view(np.uint8).reshape(-1, 4)
    others = [e.value for e in session.legend(case) if e.value != entry.value]
    assert lut[entry.value, 3] == 255 and all(lut[v, 3] < 128 for v in others)
    page.preview.set_highlight(None)


def test_two_segmentations_of_one_image_side_by_side_and_keep_one(qtbot, window, tmp_path):
    """Two label maps of one image (as TotalSegmentator's full and fast runs are) are two
    cases; the Preview page shows them side by side, the planes linked, and keeps one."""
    import nibabel as nib

    from ui.pages.preview_page import PreviewPage
    from ui.pages.source_page import SourcePage

    t = phantom.torso((40, 36, 20), spacing=(8.0, 8.0, 10.0))
    folder = tmp_path / "p1"
    folder.mkdir()
    nib.save(nib.Nifti1Image(t.image, t.affine), folder / "ct.nii.gz")
    nib.save(nib.Nifti1Image(t.labels, t.affine), folder / "ct_seg.nii.gz")
    fast = np.where(np.roll(t.labels, 1, axis=0) == 1, 1, t.labels).astype(t.labels.dtype)
    nib.save(nib.Nifti1Image(fast, t.affine), folder / "ct_seg_fast.nii.gz")
    window.page(SourcePage).open_path(tmp_path)
    qtbot.waitUntil(lambda: not window.busy(), timeout=60_000)
    session = window.state.session
    names = sorted(c.name for c in session.cases)
    assert len(names) == 2  # alternatives: each its own case
    a, b = (session.case(n) for n in names)
    assert session.alternatives(a) == [b]
    window.state.set_current_case(a.name)
    page = window.page(PreviewPage)
    window.go_to(window.page_index(page))
    qtbot.waitUntil(lambda: page.preview.case() == a.name, timeout=30_000)
    assert page.compare_combo.isVisibleTo(page) and page.compare_combo.findData(b.name) > 0
    page.compare_with(b.name)
    qtbot.waitUntil(lambda: page.compare.case() == b.name, timeout=30_000)
    # linked: a click in this case's planes moves the other's to the same point
    page.preview.planes["axial"].pixelClicked.emit(12, 14)
    assert page.compare.point() == page.preview.point()
    page.preview.set_view("coronal")
    assert page.compare.view() == "coronal"
    # keep the one shown beside: this case is left out, undoably
    page.keep_other.click()
    assert not session.case(a.name).included and session.case(b.name).included
    qtbot.waitUntil(lambda: page.preview.case() == b.name and not window.busy(),
                    timeout=30_000)  # the one kept is shown, the other no longer listed
    assert page.case_combo.currentData() == b.name and page.case_combo.findData(a.name) < 0
    window.undo_action.trigger()
    assert session.case(a.name).included
    assert page.case_combo.findData(a.name) >= 0  # listed again
