"""The preview: a series with its labels as coloured overlays, and the controls to move through it.

All the arithmetic (orientation, window/level, colours, outlines, where a label is
largest, what lies under the cursor) is ``app.preview``'s; ``ui.slice_view`` paints
the arrays; this widget holds the state (case, view, point, window, opacity, which
labels show) and turns keys, wheel and controls into it.

A case is shown in one step (``show_case``): its image, labels, colours, names,
title, slice and window are worked out first and then shown together, or, when
that fails, nothing is (``clear``): never one patient's image under another's name.

The three planes (axial, coronal, sagittal) show side by side (``LAYOUTS``: three equal,
one large and two small, or one), cut through one point in world space: a click in a
plane moves the point there and the other two planes to it, a crosshair in each shows
where the others cut it, and the point's position, value and labels are read out. The
focused plane (framed) is the one the slider, the keys and the plane buttons move.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.preview import (
    AUTO,
    EDGE_LETTERS,
    FILE,
    PRESET_NAMES,
    RGB,
    VIEWS,
    CasePreview,
    DisplayVolumes,
    View,
    default_preset,
    label_lut,
    outline,
    preset_window,
    slice_histogram,
    unmapped_style,
    window_to_uint8,
)
from app.readers import ImageHints
from app.session import LegendEntry
from ui.slice_view import SliceHistogram, SliceView

CUSTOM = "custom"  # the preset combo's entry after a right-drag or set_window
# What the pages say under a case whose label maps have no mapped value yet.
UNLISTED_NOTE = ("No value is mapped yet: every value shows unmapped (faint, outlined), as "
                 "RedBrick shows values without a category.")
_VIEW_KEYS: dict[View, str] = {"axial": "A", "coronal": "C", "sagittal": "S"}
_MOUSE_HINT = ("Wheel: slices  ·  Ctrl+wheel: zoom  ·  drag: pan  ·  right-drag: window/level  ·  "
               "Home: fit")
# How the planes are laid out: every plane the same size, the focused plane large with the
# two others small beside it, or the focused plane alone.
LAYOUTS: dict[str, str] = {"three": "3 planes", "one+two": "1 large + 2", "one": "1 plane"}


class PreviewWidget(QWidget):
    """A slice viewer for ``app.preview.DisplayVolumes`` with label overlays.

    The page gives it volumes (``set_volumes``), label colours (``set_colours``),
    a way to name labels (``set_category_lookup``) and which labels show
    (``set_label_visibility``); ``jump_to(value)`` goes to where a label is largest.
    """

    sliceChanged = Signal(int)
    viewChanged = Signal(str)
    hovered = Signal(object)  # app.preview.HoverInfo, or None off the image
    labelClicked = Signal(int)  # the label value of a clicked voxel (not background)
    pointChanged = Signal(object)  # app.preview.HoverInfo of the crosshair point, or None
    windowChanged = Signal(float, float)  # centre, width
    presetChanged = Signal(str)
    opacityChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None, layout: str = "three") -> None:
        super().__init__(parent)
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; one of {', '.join(LAYOUTS)}")
        self._layout_mode = layout
        self._case: str | None = None
        self._volumes: DisplayVolumes | None = None
        self._hints = ImageHints()
        self._view: View = "axial"
        self._index = 0
        self._point: dict[View, int] = dict.fromkeys(VIEWS, 0)  # the slice shown per plane
        self._hover: tuple[View, int, int] | None = None  # the plane and pixel under the cursor
        self._window = (40.0, 400.0)
        self._opacity = 0.5
        self._outline = False
        self._colours: dict[int, tuple[int, int, int]] = {}
        self._visible: set[int] | None = None
        self._solo: int | None = None
        self._category: Callable[[int], str | None] | None = None
        self._lut32 = np.zeros(1, np.uint32)
        self._edge32 = np.zeros(1, np.uint32)  # unmapped values' edges (0: none)
        self._unmapped: frozenset[int] = frozenset()
        self._cross_on = True  # the crosshair shows (X toggles it)
        self._invert = False  # the grey levels turned over (I toggles it)
        self._label_opacity: dict[int, float] = {}  # labels with an opacity of their own
        self._outlined: set[int] = set()  # labels drawn as outlines while the rest fill
        self._highlight: int | None = None  # a label shown strong, the others faint
        self._filling_window = False  # the window boxes are being filled, not typed in
        self._histogram_of: tuple[int, View, int] | None = None  # (volumes, plane, slice)
        self._build()
        self._show_enabled()

    # -- construction -------------------------------------------------------------------

    def _build(self) -> None:
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        bar = self._build_toolbar()
        # One picture per plane; ``slice_view`` is the focused one (screenshots, tests).
        self.planes: dict[View, SliceView] = {}
        for view in VIEWS:
            plane = SliceView()
            plane.wheelTurned.connect(partial(self._on_view_wheel_turned, view))
            plane.windowDragged.connect(self._on_view_window_dragged)
            plane.pixelHovered.connect(partial(self._on_view_pixel_hovered, view))
            plane.pixelClicked.connect(partial(self._on_view_pixel_clicked, view))
            plane.left.connect(self._on_view_left)
            plane.set_letters(*EDGE_LETTERS[view])
            plane.setToolTip(f"{view.capitalize()} plane: click to move the point here "
                             "(X: crosshair on or off)")
            self.planes[view] = plane
        self._grid = QGridLayout()
        self._grid.setSpacing(4)
        slices = self._build_slice_bar()
        self._title = QLabel()  # which case is on screen: never another's
        self._title.setTextFormat(Qt.TextFormat.PlainText)
        self._title.setStyleSheet("font-weight: 600;")
        self._title.setToolTip("The case shown")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(bar)
        layout.addWidget(self._title)
        layout.addLayout(self._grid, 1)
        layout.addLayout(slices)
        layout.addWidget(self._readout)
        layout.addWidget(self._point_text)
        self._build_keys()
        self._arrange()

    @property
    def slice_view(self) -> SliceView:
        """The focused plane's picture."""
        return self.planes[self._view]

    def _build_toolbar(self) -> QHBoxLayout:
        """Plane buttons, window preset, opacity and outline."""
        bar = QHBoxLayout()
        self._view_group = QButtonGroup(self)
        for view in VIEWS:
            b = QToolButton()
            b.setText(view.capitalize())
            b.setCheckable(True)
            b.setToolTip(f"Show {view} slices ({_VIEW_KEYS[view]})")
            b.setProperty("view", view)
            b.setChecked(view == self._view)
            self._view_group.addButton(b)
            bar.addWidget(b)
        self._view_group.buttonClicked.connect(self._on_view_button_clicked)
        self._layout_box = QComboBox()
        for name, text in LAYOUTS.items():
            self._layout_box.addItem(text, name)
        self._layout_box.setCurrentIndex(list(LAYOUTS).index(self._layout_mode))
        self._layout_box.setToolTip("How the planes are laid out (L: next layout)")
        self._layout_box.activated.connect(self._on_layout_activated)
        self._layout_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        bar.addWidget(self._layout_box)
        bar.addSpacing(8)
        self._preset = QComboBox()
        for name in PRESET_NAMES:
            self._preset.addItem("Auto (MR, other)" if name == AUTO else name.capitalize(), name)
        self._preset.setToolTip("Window/level preset (W: next preset). Right-drag on the image "
                                "adjusts it: across = width, up/down = level")
        self._preset.activated.connect(self._on_preset_activated)
        self._preset.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        bar.addWidget(self._preset)
        # The numbers sit under the image (beside the slice), keeping the toolbar narrow
        # enough for the Mapping page's side-by-side layout; they can be typed.
        self._width_box, self._level_box = QDoubleSpinBox(), QDoubleSpinBox()
        for box, what in ((self._width_box, "width"), (self._level_box, "level (centre)")):
            box.setRange(-1e6, 1e6)
            box.setDecimals(0)
            box.setKeyboardTracking(False)  # applied on Enter or when the box is left
            box.setToolTip(f"Window {what} in image units (Hounsfield units for CT): type a "
                           "value and press Enter")
            box.valueChanged.connect(self._on_window_typed)
        self._width_box.setRange(1, 1e6)
        self._window_label = QWidget()
        wl = QHBoxLayout(self._window_label)
        wl.setContentsMargins(0, 0, 0, 0)
        for text, box in (("W", self._width_box), ("L", self._level_box)):
            wl.addWidget(QLabel(text))
            wl.addWidget(box)
        self._invert_box = QCheckBox("Invert")
        self._invert_box.setToolTip("Show the image inverted, white for low values (I)")
        self._invert_box.toggled.connect(self._on_invert_toggled)
        self._histogram = SliceHistogram()
        bar.addSpacing(8)
        bar.addWidget(QLabel("Opacity"))
        self._opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self._opacity_slider.setRange(0, 100)
        self._opacity_slider.setValue(int(self._opacity * 100))
        self._opacity_slider.setPageStep(10)
        self._opacity_slider.setMaximumWidth(120)
        self._opacity_slider.setMinimumWidth(70)
        self._opacity_slider.setToolTip("Label opacity ([ lower, ] higher)")
        self._opacity_slider.valueChanged.connect(self._on_opacity_slider_changed)
        bar.addWidget(self._opacity_slider)
        self._outline_box = QCheckBox("Outline")
        self._outline_box.setToolTip("Draw label outlines instead of filled labels (O)")
        self._outline_box.toggled.connect(self._on_outline_toggled)
        bar.addWidget(self._outline_box)
        bar.addStretch(1)
        return bar

    def _build_slice_bar(self) -> QVBoxLayout:
        """The slice slider with the slice number; under it the window (histogram, numbers,
        invert); and the hover readout."""
        slices = QVBoxLayout()
        top, window = QHBoxLayout(), QHBoxLayout()
        self._slider = QSlider(Qt.Orientation.Horizontal)
        self._slider.setSingleStep(1)
        self._slider.setPageStep(10)
        self._slider.setToolTip("Slice (wheel or Up/Down: 1 slice; PageUp/PageDown: 10 slices)")
        self._slider.valueChanged.connect(self._on_slider_value_changed)
        self._slice_label = QLabel()
        self._slice_label.setMinimumWidth(200)
        top.addWidget(self._slider, 1)
        top.addWidget(self._slice_label)
        window.addWidget(self._histogram)
        window.addWidget(self._window_label)
        window.addWidget(self._invert_box)
        window.addStretch(1)
        slices.addLayout(top)
        slices.addLayout(window)
        self._readout = QLabel(_MOUSE_HINT)
        self._readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._readout.setToolTip("Under the cursor: label and category, position (RAS, mm), "
                                 "voxel index in the image file, image value")
        self._point_text = QLabel()
        self._point_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._point_text.setToolTip("The point the planes cut through (click a plane to move "
                                    "it): label, position (RAS, mm), voxel, image value")
        return slices

    def _build_keys(self) -> None:
        """Keyboard shortcuts, active while the focus is in the preview."""
        keys: list[tuple[str | Qt.Key, Callable[[], object]]] = [
            (Qt.Key.Key_Up, lambda: self.step(1)),
            (Qt.Key.Key_Down, lambda: self.step(-1)),
            (Qt.Key.Key_PageUp, lambda: self.step(10)),
            (Qt.Key.Key_PageDown, lambda: self.step(-10)),
            ("O", self._outline_box.toggle),
            ("W", self._next_preset),
            ("[", lambda: self.set_opacity(self._opacity - 0.1)),
            ("]", lambda: self.set_opacity(self._opacity + 0.1)),
            (Qt.Key.Key_Home, lambda: self.slice_view.fit()),
            ("L", self._next_layout),
            ("X", self._toggle_crosshair),
            ("I", self._invert_box.toggle),
        ]
        keys += [(key, partial(self.set_view, view)) for view, key in _VIEW_KEYS.items()]
        for key, slot in keys:
            shortcut = QShortcut(QKeySequence(key), self)
            # Only while the focus is in the preview: the wizard's other pages keep their keys.
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(slot)

    # -- what the page calls ------------------------------------------------------------

    def show_case(self, case: str, volumes: DisplayVolumes, colours: Mapping[int, RGB],
                  category: Callable[[int], str | None] | None = None,
                  hints: ImageHints | None = None, preset: str | None = None,
                  unmapped: Iterable[int] = ()) -> None:
        """Show a case whole: image, labels, colours, names, title, slice and window.

        ``unmapped`` values have no category (RedBrick shows them view-only): they are
        drawn faint with a crisp edge.

        A new case opens at its middle slices with its file's window (``hints``) or its
        modality's preset; the same case shown again (after a mapping edit) keeps its
        plane, slice and window. Everything is worked out before anything changes on
        screen; if showing fails, the preview is cleared and the error raised.
        """
        try:
            same = (case == self._case and self._volumes is not None
                    and volumes.image.shape == self._volumes.image.shape)
            hints = hints or ImageHints()
            if same:
                point, window, chosen = dict(self._point), self._window, self.preset()
            else:
                point = {v: volumes.n_slices(v) // 2 for v in VIEWS}
                chosen = preset or default_preset(volumes.image, hints)
                window = preset_window(chosen, volumes.image, hints)
            self._case, self._volumes, self._hints = case, volumes, hints
            self._histogram_of = None  # another volume: count its slice afresh
            self._colours, self._category = dict(colours), category
            self._unmapped = frozenset(int(v) for v in unmapped)
            self._point, self._window = point, window
            self._hover = None
            self._fill_presets()
            self._select_preset(chosen)
            self._show_window_numbers()
            self._update_lut()
            self._title.setText(case)
            self._show_enabled()
            self._show_view(self._view, point[self._view], refit=not same)
            self._show_readout()
        except Exception:
            self.clear(f"{case}: could not be shown")
            raise
        if not same:
            self.windowChanged.emit(*self._window)

    def show_preview(self, preview: CasePreview, legend: Sequence[LegendEntry]) -> None:
        """``show_case`` for a loaded case with the session's legend of it (colours, names,
        which values have no category), as both the Mapping and the Preview page show it."""
        self.show_case(preview.case, preview.volumes, {e.value: e.colour for e in legend},
                       {e.value: e.name for e in legend if e.name}.get, preview.hints,
                       unmapped={e.value for e in legend if e.name is None})

    def clear(self, message: str = "") -> None:
        """Show nothing (no image, no labels, no case); ``message`` takes the title's place."""
        self._case, self._volumes, self._hints, self._hover = None, None, ImageHints(), None
        self._show_enabled()
        for plane in self.planes.values():
            plane.show_image(None)
            plane.show_labels(None)
            plane.set_crosshair(None)
        self._slice_label.setText("")
        self._title.setText(message)
        self._readout.setText(_MOUSE_HINT)
        self._point_text.setText("")
        self._fill_presets()

    def set_volumes(self, volumes: DisplayVolumes | None, preset: str | None = None) -> None:
        """Show ``volumes`` (None clears) as a new, unnamed case."""
        if volumes is None:
            self.clear()
            return
        self._case = None
        self.show_case("", volumes, self._colours, self._category, None, preset)
        self._case = None  # unnamed: the next call is a new case too

    def case(self) -> str | None:
        """The name of the case on screen (None when nothing is shown)."""
        return self._case

    def title(self) -> str:
        return self._title.text()

    def volumes(self) -> DisplayVolumes | None:
        return self._volumes

    def set_colours(self, colours: Mapping[int, tuple[int, int, int]]) -> None:
        """Colours of the instances (the session's); others get ``default_colour``."""
        self._colours = dict(colours)
        self._refresh_labels()

    def set_category_lookup(self, category: Callable[[int], str | None] | None) -> None:
        """How the hover readout names an instance id (the page's mapping)."""
        self._category = category
        self._show_readout()

    def set_label_visibility(self, visible: set[int] | None, solo: int | None) -> None:
        """Which instances show: ``visible`` (None: all); ``solo`` shows only that one.

        Overlap group voxels show while any of their members shows
        (``app.preview.label_lut``).
        """
        self._visible = None if visible is None else set(visible)
        self._solo = solo
        self._refresh_labels()

    def set_label_style(self, opacity: Mapping[int, float], outlined: Iterable[int]) -> None:
        """Per label: an opacity of its own (0..1, instead of the slider's), and whether it
        is drawn as an outline while the others are filled."""
        self._label_opacity = {int(v): min(max(float(o), 0.0), 1.0) for v, o in opacity.items()}
        self._outlined = {int(v) for v in outlined}
        self._refresh_labels()

    def set_highlight(self, value: int | None) -> None:
        """Show label ``value`` opaque and every other faint (None: as set)."""
        if value != self._highlight:
            self._highlight = value
            self._refresh_labels()

    def jump_to(self, value: int) -> bool:
        """Go to the slice of the current view where ``value`` covers most pixels.

        Returns False, and stays, when the label has no voxels.
        """
        if self._volumes is None:
            return False
        vols = self._volumes
        where = vols.largest_slices().get(int(value))
        if where is None:
            return False
        self._point = {v: int(where[v]) for v in VIEWS}
        # The other planes through the label's centre in the focused plane's largest slice.
        _, labels2d = vols.slice(self._view, self._point[self._view])
        if labels2d is not None:
            members = [int(value), *(g for g, ids in vols.groups.items() if int(value) in ids)]
            rows, cols = np.nonzero(np.isin(labels2d, members))
            if len(rows):
                self._move_point(self._view, int(rows.mean()), int(cols.mean()))
        self._show_view(self._view, self._point[self._view], refit=False)
        return True

    def view(self) -> View:
        return self._view

    def set_view(self, view: View) -> None:
        """Show axial, coronal or sagittal slices through the point shown (the last label
        jumped to or pixel clicked; the middle of the volume at first)."""
        if view not in VIEWS:
            raise ValueError(f"unknown view {view!r}; one of {', '.join(VIEWS)}")
        if view != self._view:
            self._hover = None
            self._show_view(view, self._point[view], refit=False)

    def slice_index(self) -> int:
        return self._index

    def set_slice(self, index: int) -> None:
        """Show slice ``index`` of the current view (clamped to the volume)."""
        if self._volumes is None:
            return
        self._slider.setValue(int(min(max(index, 0), self._volumes.n_slices(self._view) - 1)))

    def step(self, delta: int) -> None:
        """Move ``delta`` slices (positive: toward superior, anterior or the patient's right)."""
        self.set_slice(self._index + delta)

    def window_level(self) -> tuple[float, float]:
        """The window's (centre, width) in image units. (Not ``window()``: that is Qt's.)"""
        return self._window

    def set_window(self, center: float, width: float) -> None:
        """Set window/level directly; the preset combo then shows "Custom"."""
        self._set_window(center, width)
        self._select_preset(CUSTOM)

    def preset(self) -> str:
        return str(self._preset.currentData())

    def set_preset(self, name: str) -> None:
        """Apply a named window preset (``app.preview.PRESET_NAMES``)."""
        self._apply_preset(name, emit=True)

    def opacity(self) -> float:
        return self._opacity

    def set_opacity(self, opacity: float) -> None:
        self._opacity_slider.setValue(int(round(min(max(opacity, 0.0), 1.0) * 100)))

    def outline_mode(self) -> bool:
        return self._outline

    def set_outline_mode(self, on: bool) -> None:
        self._outline_box.setChecked(on)

    def readout_text(self) -> str:
        return self._readout.text()

    def point_text(self) -> str:
        """The crosshair point's readout (empty when nothing is shown)."""
        return self._point_text.text()

    def point(self) -> dict[View, int]:
        """The slice each plane shows: together, the point they cut through."""
        return dict(self._point)

    def set_point(self, point: Mapping[View, int]) -> None:
        """Cut the planes through ``point`` (each plane's slice; another preview's, to link
        two), clamped to this volume; the focused plane stays."""
        vols = self._volumes
        if vols is None or dict(point) == self._point:
            return
        self._point = {v: int(min(max(point.get(v, self._point[v]), 0), vols.n_slices(v) - 1))
                       for v in VIEWS}
        self._show_view(self._view, self._point[self._view], refit=False)

    def layout_mode(self) -> str:
        return self._layout_mode

    def set_layout_mode(self, mode: str) -> None:
        """Lay the planes out as ``mode`` (one of ``LAYOUTS``)."""
        if mode not in LAYOUTS:
            raise ValueError(f"unknown layout {mode!r}; one of {', '.join(LAYOUTS)}")
        self._layout_mode = mode
        self._layout_box.setCurrentIndex(list(LAYOUTS).index(mode))
        self._arrange()
        self._render()

    def visible_planes(self) -> list[View]:
        """The planes on screen, in layout order."""
        return [self._view] if self._layout_mode == "one" else list(VIEWS)

    # -- handlers -----------------------------------------------------------------------

    def _on_view_button_clicked(self, button: QToolButton) -> None:
        self.set_view(button.property("view"))

    def _on_preset_activated(self, row: int) -> None:
        name = self._preset.itemData(row)
        if name != CUSTOM:
            self._apply_preset(name, emit=True)

    def _on_opacity_slider_changed(self, value: int) -> None:
        self._opacity = value / 100
        self._refresh_labels()
        self.opacityChanged.emit(self._opacity)

    def _on_outline_toggled(self, on: bool) -> None:
        self._outline = on
        self._refresh_labels()

    def _on_window_typed(self, _value: float) -> None:
        if self._filling_window or self._volumes is None:
            return
        self.set_window(self._level_box.value(), self._width_box.value())

    def _on_invert_toggled(self, on: bool) -> None:
        self._invert = on
        self._render_image()

    def _show_window_numbers(self) -> None:
        """The window in the boxes (without applying it again) and on the histogram."""
        self._filling_window = True
        try:
            self._width_box.setValue(self._window[1])
            self._level_box.setValue(self._window[0])
        finally:
            self._filling_window = False
        self._histogram.set_window(self._window)

    def _show_histogram(self) -> None:
        """The focused slice's histogram: counted again only when that slice changed."""
        if self._volumes is None:
            self._histogram_of = None
            self._histogram.clear()
            return
        shown = (id(self._volumes), self._view, self._point[self._view])
        if shown != self._histogram_of:
            image2d, _ = self._volumes.slice(self._view, self._point[self._view])
            self._histogram.show_counts(*slice_histogram(image2d), self._window)
            self._histogram_of = shown
        else:
            self._histogram.set_window(self._window)

    def invert(self) -> bool:
        return self._invert

    def set_invert(self, on: bool) -> None:
        self._invert_box.setChecked(on)

    def _on_layout_activated(self, row: int) -> None:
        self.set_layout_mode(str(self._layout_box.itemData(row)))

    def _on_view_wheel_turned(self, view: View, steps: int) -> None:
        if view != self._view:  # the plane under the cursor
            self.set_view(view)
        self.step(steps)

    def _on_view_window_dragged(self, dx: float, dy: float) -> None:
        c, w = self._window
        # Relative to the width, so a drag feels the same in a brain and a bone window.
        self.set_window(c + dy * w / 300, max(1.0, w * float(np.exp(dx / 200))))

    def _on_slider_value_changed(self, index: int) -> None:
        self._index = index
        self._point[self._view] = index
        self._render_plane(self._view)
        self._show_crosshairs()
        self._show_slice_label()
        self._show_readout()
        self.sliceChanged.emit(index)

    def _on_view_pixel_hovered(self, view: View, row: int, col: int) -> None:
        self._hover = (view, row, col)
        self.hovered.emit(self._show_readout())

    def _on_view_left(self) -> None:
        self._hover = None
        self.hovered.emit(self._show_readout())

    def _on_view_pixel_clicked(self, view: View, row: int, col: int) -> None:
        """A click moves the point there: the other planes go through it, the clicked plane
        takes the focus, and a labelled voxel says its label (``labelClicked``)."""
        vols = self._volumes
        info = vols.describe(row, col, self._point[view], view) if vols is not None else None
        if info is None:
            return
        before = dict(self._point)
        self._move_point(view, row, col)
        moved = [v for v in VIEWS if self._point[v] != before[v]]  # the clicked plane stays
        self._show_view(view, self._point[view], refit=False, only=moved)
        if info.value:
            self.labelClicked.emit(info.value)

    def _move_point(self, view: View, row: int, col: int) -> None:
        """The other planes through pixel (row, col) of ``view``'s current slice."""
        vols = self._volumes
        assert vols is not None
        d = vols.to_display(view, row, col, self._point[view])
        for axis, other in enumerate(VIEWS):  # display axes I, P, L: axial, coronal, sagittal
            if other != view:
                self._point[other] = vols.n_slices(other) - 1 - d[axis]

    # -- internals ----------------------------------------------------------------------

    def _show_readout(self) -> object:
        """What lies under the cursor now (after a slice, plane or case change too)."""
        vols, hover = self._volumes, self._hover
        info = vols.describe(hover[1], hover[2], self._point[hover[0]], hover[0]) \
            if vols is not None and hover is not None else None
        self._readout.setText(info.text(self._category) if info is not None else _MOUSE_HINT)
        return info

    def _display_point(self) -> tuple[int, int, int] | None:
        """The point as a display-array index (axes I, P, L), None with nothing shown."""
        vols = self._volumes
        if vols is None:
            return None
        return tuple(vols.n_slices(v) - 1 - self._point[v] for v in VIEWS)  # type: ignore[return-value]

    def _show_crosshairs(self) -> None:
        """Each plane's crosshair where the other two cut it, and the point's readout."""
        d = self._display_point()
        for view, plane in self.planes.items():
            at = None if d is None or not self._cross_on else {
                "axial": (d[1], d[2]), "coronal": (d[0], d[2]), "sagittal": (d[0], d[1])}[view]
            plane.set_crosshair(at)
        info = None
        if d is not None and self._volumes is not None:
            row, col = {"axial": (d[1], d[2]), "coronal": (d[0], d[2]),
                        "sagittal": (d[0], d[1])}[self._view]
            info = self._volumes.describe(row, col, self._point[self._view], self._view)
        self._point_text.setText(f"Point: {info.text(self._category)}" if info is not None
                                 else "")
        self.pointChanged.emit(info)

    def _toggle_crosshair(self) -> None:
        self._cross_on = not self._cross_on
        self._show_crosshairs()

    def _next_layout(self) -> None:
        names = list(LAYOUTS)
        self.set_layout_mode(names[(names.index(self._layout_mode) + 1) % len(names)])

    def _arrange(self) -> None:
        """Place the planes as the layout says: the focused one first (and large)."""
        while self._grid.count():
            self._grid.takeAt(0)
        for r in range(3):
            self._grid.setRowStretch(r, 0)
            self._grid.setColumnStretch(r, 0)
        others = [v for v in VIEWS if v != self._view]
        if self._layout_mode == "three":
            for i, view in enumerate(VIEWS):
                self._grid.addWidget(self.planes[view], 0, i)
                self._grid.setColumnStretch(i, 1)
            self._grid.setRowStretch(0, 1)
        elif self._layout_mode == "one+two":
            self._grid.addWidget(self.planes[self._view], 0, 0, 2, 1)
            for i, view in enumerate(others):
                self._grid.addWidget(self.planes[view], i, 1)
                self._grid.setRowStretch(i, 1)
            self._grid.setColumnStretch(0, 2)
            self._grid.setColumnStretch(1, 1)
        else:
            self._grid.addWidget(self.planes[self._view], 0, 0)
            self._grid.setRowStretch(0, 1)
            self._grid.setColumnStretch(0, 1)
        shown = self.visible_planes()
        for view, plane in self.planes.items():
            plane.setVisible(view in shown)
            plane.set_focused(view == self._view and len(shown) > 1)

    def _fill_presets(self) -> None:
        """The preset list: the file's own window first when the image carries one."""
        has_file = self._hints.window is not None
        row = self._preset.findData(FILE)
        if has_file and row < 0:
            self._preset.insertItem(0, "", FILE)
            row = 0
        elif not has_file and row >= 0:
            self._preset.removeItem(row)
        if has_file and self._hints.window is not None:
            c, w = self._hints.window
            name = f" ({self._hints.window_name})" if self._hints.window_name else ""
            self._preset.setItemText(row, "From the file")
            self._preset.setItemData(row, f"The window the image's file carries{name}: "
                                          f"W {w:.0f} L {c:.0f}", Qt.ItemDataRole.ToolTipRole)

    def _show_enabled(self) -> None:
        on = self._volumes is not None
        has_labels = on and self._volumes is not None and self._volumes.labels is not None
        for w in (self._slider, self._preset, self._width_box, self._level_box,
                  self._invert_box, self._layout_box, *self._view_group.buttons()):
            w.setEnabled(on)
        for w in (self._opacity_slider, self._outline_box):
            w.setEnabled(has_labels)

    def _show_view(self, view: View, index: int, refit: bool = True,
                   only: list[View] | None = None) -> None:
        """Focus ``view`` at slice ``index`` and show every plane through the point
        (``refit``: a new case, each plane placed and fitted anew; ``only``: just these
        planes changed slice, the others are painted already)."""
        changed = view != self._view
        self._view = view
        for b in self._view_group.buttons():
            b.setChecked(b.property("view") == view)
        if changed:
            self._arrange()
        vols = self._volumes
        if vols is None:
            return
        index = int(min(max(index, 0), vols.n_slices(view) - 1))
        self._slider.blockSignals(True)  # one render below, not one per range change
        self._slider.setRange(0, vols.n_slices(view) - 1)
        self._slider.setValue(index)
        self._slider.blockSignals(False)
        self._index = index
        self._point[view] = index
        if only is None or changed:
            self._render()
        else:
            for v in only:
                if v in self.visible_planes():
                    self._render_plane(v)
        if refit:
            for v, plane in self.planes.items():
                rows, cols = vols.slice(v, 0)[0].shape
                plane.set_geometry(rows, cols, vols.pixel_size(v))
        elif changed and self._layout_mode != "three":
            self.slice_view.fit()  # its size changed with the layout
        self._show_crosshairs()
        self._show_slice_label()
        self.viewChanged.emit(view)
        self.sliceChanged.emit(index)

    def _show_slice_label(self) -> None:
        if self._volumes is not None:
            n = self._volumes.n_slices(self._view)
            where = self._volumes.slice_position(self._view, self._index)
            self._slice_label.setText(f"Slice {self._index + 1} of {n}  ({where})")

    def _set_window(self, center: float, width: float) -> None:
        self._window = (float(center), float(width))
        self._show_window_numbers()
        self._render_image()
        self.windowChanged.emit(*self._window)

    def _apply_preset(self, name: str, emit: bool) -> None:
        if self._volumes is not None:
            self._set_window(*preset_window(name, self._volumes.image, self._hints))
        self._select_preset(name)
        if emit:
            self.presetChanged.emit(name)

    def _select_preset(self, name: str) -> None:
        row = self._preset.findData(name)
        if row < 0 and name == CUSTOM:
            self._preset.addItem("Custom", CUSTOM)
            row = self._preset.count() - 1
        if row >= 0:
            self._preset.setCurrentIndex(row)

    def _next_preset(self) -> None:
        names = ([FILE] if self._hints.window is not None else []) + list(PRESET_NAMES)
        current = self.preset()
        self.set_preset(names[(names.index(current) + 1) % len(names)] if current in names
                        else names[0])

    def _refresh_labels(self) -> None:
        self._update_lut()
        self._render_labels()

    def _update_lut(self) -> None:
        vols = self._volumes
        if vols is None or vols.labels is None:
            return
        # One entry per possible voxel value (256 or 65536), so a value outside the
        # segment map still paints, in its default colour, instead of failing.
        size = 1 << (8 * vols.labels.dtype.itemsize)
        # A one-voxel outline at half opacity vanishes on bright tissue: outlines get
        # twice the fill opacity (opaque at the default), and the slider still fades them.
        opacity = min(1.0, 2 * self._opacity) if self._outline else self._opacity
        lut = label_lut(vols.segments, self._colours, opacity, self._visible, self._solo, size)
        for value, own in self._label_opacity.items():  # shown labels with their own opacity
            if value < len(lut) and lut[value, 3]:
                lut[value, 3] = round(255 * (min(1.0, 2 * own) if self._outline else own))
        if self._highlight is not None and self._highlight < len(lut):  # pointed at: strong
            strong = lut[self._highlight, 3] > 0
            lut[:, 3] = (lut[:, 3] * 0.3).astype(np.uint8)
            if strong:
                lut[self._highlight, 3] = 255
        if not self._outline and self._unmapped:  # unmapped: a faint fill, a crisp edge
            lut, edge = unmapped_style(lut, self._unmapped)
            self._edge32 = np.ascontiguousarray(edge).view(np.uint32).ravel()
        else:
            self._edge32 = np.zeros(1, np.uint32)
        self._lut32 = np.ascontiguousarray(lut).view(np.uint32).ravel()

    def _render(self) -> None:
        for view in self.visible_planes():
            self._render_plane(view)

    def _render_plane(self, view: View) -> None:
        self._render_image(view)
        self._render_labels(view)

    def _render_image(self, view: View | None = None) -> None:
        """The grey slice of ``view`` (None: of every plane on screen)."""
        if self._volumes is None:
            return
        for v in [view] if view is not None else self.visible_planes():
            image2d, _ = self._volumes.slice(v, self._point[v])
            grey = window_to_uint8(image2d, *self._window)
            self.planes[v].show_image(np.subtract(255, grey, out=grey) if self._invert else grey)
        if view is None or view == self._view:
            self._show_histogram()

    def _render_labels(self, view: View | None = None) -> None:
        """The coloured labels of ``view`` (None: of every plane on screen)."""
        for v in [view] if view is not None else self.visible_planes():
            self._render_labels_of(v)

    def _render_labels_of(self, view: View) -> None:
        vols, plane = self._volumes, self.planes[view]
        if vols is None or vols.labels is None:
            plane.show_labels(None)
            return
        _, labels2d = vols.slice(view, self._point[view])
        assert labels2d is not None  # the volumes have labels
        if self._outline:
            labels2d = outline(np.ascontiguousarray(labels2d))
        # Colour on the CPU with a 32-bit lookup: one take() per slice (bench_preview).
        rgba32 = self._lut32.take(labels2d)
        if self._outlined and not self._outline:  # these labels' insides stay clear
            inside = np.isin(labels2d, list(self._outlined)) & \
                (outline(np.ascontiguousarray(labels2d)) == 0)
            rgba32 = np.where(inside, 0, rgba32).astype(np.uint32)
        if len(self._edge32) > 1 and self._edge32.take(labels2d).any():
            edges = self._edge32.take(outline(np.ascontiguousarray(labels2d)))
            rgba32 = np.where(edges != 0, edges, rgba32)
        rgba = rgba32.view(np.uint8).reshape(*labels2d.shape, 4)
        plane.show_labels(rgba)
