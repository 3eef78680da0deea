"""The preview widget: what it paints, and how keys, wheel and mouse move through a volume."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QCheckBox, QComboBox, QSlider, QToolButton

from app.geometry import Grid
from app.preview import DisplayVolumes, label_lut
from bench import phantom
from tests.ui.previews import phantom_preview
from ui.preview import PreviewWidget


@pytest.fixture(scope="module")
def torso():
    return phantom.torso((96, 96, 60), spacing=(4.0, 4.0, 5.0))


@pytest.fixture
def vols(torso):
    grid = Grid.of(torso.image.shape, torso.affine)
    return DisplayVolumes.build(torso.image, grid, torso.labels, grid, torso.segments)


@pytest.fixture
def widget(qtbot, vols):
    return phantom_preview(qtbot, vols)


def shown_labels(w: PreviewWidget) -> np.ndarray:
    return w.slice_view.label_item.image  # the RGBA array the item paints


def test_opens_at_the_middle_axial_slice_with_a_ct_window(widget, vols):
    assert widget.view() == "axial" and widget.slice_index() == vols.n_slices("axial") // 2
    assert widget.preset() == "soft tissue" and widget.window_level() == (40.0, 400.0)
    rect = widget.slice_view.image_item.mapRectToParent(widget.slice_view.image_item.boundingRect())
    h, w = vols.pixel_size("axial")
    assert rect.width() == pytest.approx(96 * w) and rect.height() == pytest.approx(96 * h)


def test_painted_labels_use_the_lut_colours(widget, vols):
    _, labels2d = vols.slice("axial", widget.slice_index())
    lut = label_lut(vols.segments, phantom.COLOURS, widget.opacity(), size=256)
    assert np.array_equal(shown_labels(widget), lut[labels2d])
    liver = np.argwhere(labels2d == 1)[0]
    assert shown_labels(widget)[tuple(liver)].tolist() == [*phantom.COLOURS[1], 128]


def test_hide_solo_and_outline(widget, vols):
    widget.jump_to(10)  # the tumour, an overlap group with the liver
    _, labels2d = vols.slice("axial", widget.slice_index())
    group = next(g for g, m in vols.groups.items() if m == (1, 10))
    widget.set_label_visibility({2, 3, 4, 5, 6, 7, 8, 9, 10}, None)  # hide the liver
    rgba = shown_labels(widget)
    assert (rgba[labels2d == 1, 3] == 0).all()
    assert (rgba[labels2d == group, :3] == phantom.COLOURS[10]).all()  # overlap in tumour colour
    widget.set_label_visibility(None, 1)  # solo the liver
    rgba = shown_labels(widget)
    assert (rgba[labels2d == 2, 3] == 0).all() and (rgba[labels2d == group, 3] > 0).all()
    widget.set_label_visibility(None, None)
    widget.set_outline_mode(True)
    painted = shown_labels(widget)[..., 3] > 0
    assert 0 < painted.sum() < (labels2d > 0).sum() / 2
    assert (shown_labels(widget)[painted, 3] == 255).all()  # outlines opaque at half opacity


def test_keys_and_wheel_move_through_slices(qtbot, widget):
    start = widget.slice_index()
    with qtbot.waitSignal(widget.sliceChanged) as sig:
        qtbot.keyClick(widget, Qt.Key.Key_Up)
    assert sig.args == [start + 1]
    qtbot.keyClick(widget, Qt.Key.Key_PageDown)
    assert widget.slice_index() == start - 9
    qtbot.keyClick(widget, Qt.Key.Key_Down)
    assert widget.slice_index() == start - 10
    viewport = widget.slice_view.viewport()
    centre = QPointF(viewport.width() / 2, viewport.height() / 2)
    wheel = QWheelEvent(centre, viewport.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(viewport, wheel)
    assert widget.slice_index() == start - 8
    for _ in range(10):
        qtbot.keyClick(widget, Qt.Key.Key_PageUp)
    assert widget.slice_index() == widget._slider.maximum()  # noqa: SLF001 - clamped


def test_view_switch_changes_slices_letters_and_aspect(qtbot, widget, vols):
    with qtbot.waitSignal(widget.viewChanged):
        qtbot.keyClick(widget, Qt.Key.Key_C)
    assert widget.view() == "coronal"
    assert widget._slider.maximum() == vols.n_slices("coronal") - 1
    letters = {e: lab.text() for e, lab in widget.slice_view.letters.items()}
    assert letters == {"top": "S", "bottom": "I", "left": "R", "right": "L"}
    widget.set_view("sagittal")
    letters = {e: lab.text() for e, lab in widget.slice_view.letters.items()}
    assert letters == {"top": "S", "bottom": "I", "left": "A", "right": "P"}
    rect = widget.slice_view.image_item.mapRectToParent(widget.slice_view.image_item.boundingRect())
    assert rect.height() / rect.width() == pytest.approx(60 * 5.0 / (96 * 4.0))


def test_jump_to_goes_where_the_label_is_largest(widget, vols):
    assert widget.jump_to(2)
    assert widget.slice_index() == vols.largest_slices()[2]["axial"]
    assert not widget.jump_to(99)


def test_presets_and_window_drag(qtbot, widget):
    grey_before = widget.slice_view.image_item.image.copy()
    with qtbot.waitSignal(widget.presetChanged):
        widget.set_preset("lung")
    assert widget.window_level() == (-600.0, 1500.0)
    assert not np.array_equal(grey_before, widget.slice_view.image_item.image)
    qtbot.keyClick(widget, Qt.Key.Key_W)
    assert widget.preset() == "bone"
    c, w = widget.window_level()
    viewport = widget.slice_view.viewport()
    p = QPoint(viewport.width() // 2, viewport.height() // 2)
    QTest.mousePress(viewport, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, p)
    for i in range(1, 6):  # right-drag: across widens the window, down raises the level
        QTest.mouseMove(viewport, p + QPoint(20 * i, 6 * i))
    QTest.mouseRelease(viewport, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier,
                       p + QPoint(100, 30))
    c2, w2 = widget.window_level()
    assert w2 > w and c2 > c and widget.preset() == "custom"


def test_hover_reports_label_category_and_position(qtbot, widget, vols):
    widget.jump_to(1)
    _, labels2d = vols.slice("axial", widget.slice_index())
    row, col = np.argwhere(labels2d == 1)[len(np.argwhere(labels2d == 1)) // 2]
    h, w = vols.pixel_size("axial")
    scene = widget.slice_view.box.mapViewToScene(QPointF((col + 0.5) * w, (row + 0.5) * h))
    at = widget.slice_view.mapFromScene(scene)
    with qtbot.waitSignal(widget.hovered) as sig:
        QTest.mouseMove(widget.slice_view.viewport(), at)
    info = sig.args[0]
    assert info.value == 1 and info.instances == (1,)
    assert info == vols.describe(int(row), int(col), widget.slice_index(), "axial")
    assert "label 1 (liver)" in widget.readout_text() and " mm" in widget.readout_text()


def test_every_control_tells_its_shortcut(widget):
    controls = widget.findChildren(QToolButton) + widget.findChildren(QComboBox) + [
        widget.findChild(QCheckBox)] + widget.findChildren(QSlider)
    assert len(controls) == 8  # 3 planes, layout, window preset, outline, opacity, slice
    for c in controls:
        assert "(" in c.toolTip() and ")" in c.toolTip(), c.toolTip()
    tips = " ".join(c.toolTip() for c in controls)
    for key in ("(A)", "(C)", "(S)", "(O)", "L:", "W:", "PageUp", "[", "]"):
        assert key in tips


def test_empty_and_label_free_volumes(qtbot, torso):
    w = PreviewWidget()
    qtbot.addWidget(w)
    assert not w._slider.isEnabled() and not w.jump_to(1)
    grid = Grid.of(torso.image.shape, torso.affine)
    w.set_volumes(DisplayVolumes.build(torso.image, grid))
    assert w._slider.isEnabled() and not w._outline_box.isEnabled()
    assert w.slice_view.label_item.image is None
    w.grab()
    w.set_volumes(None)
    assert not w._slider.isEnabled()


def test_uint16_labels_beyond_the_segment_map_still_paint(qtbot, torso):
    from app.preview import default_colour

    labels = torso.labels.astype(np.uint16)
    labels[labels == 2] = 3000  # a value the segment map does not know
    grid = Grid.of(torso.image.shape, torso.affine)
    w = PreviewWidget()
    qtbot.addWidget(w)
    w.set_volumes(DisplayVolumes.build(torso.image, grid, labels, grid, torso.segments))
    assert w.jump_to(3000)
    _, labels2d = w.volumes().slice("axial", w.slice_index())
    rgba = w.slice_view.label_item.image
    assert (rgba[labels2d == 3000, :3] == default_colour(3000)).all()


def test_renders_offscreen(widget):
    pixmap = widget.grab()
    assert pixmap.width() == 700 and not pixmap.toImage().isNull()


def test_the_window_can_be_typed_inverted_and_is_shown_on_a_histogram(widget, vols):
    widget._width_box.setValue(1500)
    widget._level_box.setValue(300)
    assert widget.window_level() == (300.0, 1500.0) and widget.preset() == "custom"
    grey = widget.slice_view.image_item.image.copy()
    widget.set_invert(True)
    assert np.array_equal(widget.slice_view.image_item.image, 255 - grey)
    widget.set_invert(False)
    assert np.array_equal(widget.slice_view.image_item.image, grey)
    # the histogram counts the focused plane's slice, and follows the slice
    image2d, _ = vols.slice("axial", widget.slice_index())
    assert widget._histogram.counts().sum() == image2d.size
    widget.set_view("sagittal")
    image2d, _ = vols.slice("sagittal", widget.slice_index())
    assert widget._histogram.counts().sum() == image2d.size
    # a preset fills the boxes without applying them twice
    widget.set_preset("bone")
    assert (widget._level_box.value(), widget._width_box.value()) == widget.window_level()
