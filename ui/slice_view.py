"""The picture part of the preview: a grey slice, coloured labels over it, edge letters.

Two pyqtgraph ``ImageItem``s in a ``ViewBox`` with the aspect locked and y pointing
down, placed in millimetres so non-square pixels keep their true shape. The wheel
and a right-drag are turned into signals (slices, window/level); the slice viewer
decides what they mean. No OpenGL, so it renders offscreen.

``pg.setConfigOptions(imageAxisOrder="row-major")`` is set here, on import: this
module is where pyqtgraph is used, and numpy slices are row-major.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QResizeEvent
from PySide6.QtWidgets import QLabel, QWidget

pg.setConfigOptions(imageAxisOrder="row-major")

EDGES = ("top", "bottom", "left", "right")


class _SliceViewBox(pg.ViewBox):
    """A ViewBox where the wheel pages slices and a right-drag sets window/level."""

    wheelTurned = Signal(int)  # slices to move: +1 per notch away from the user
    windowDragged = Signal(float, float)  # screen pixels moved right and down

    def __init__(self) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self._wheel_rest = 0

    def wheelEvent(self, ev: Any, axis: int | None = None) -> None:  # noqa: N802 - pyqtgraph
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(ev, axis)  # Ctrl+wheel zooms, as in most viewers
            return
        ev.accept()
        # Touchpads send small deltas: add them up to whole notches of 120.
        self._wheel_rest += ev.delta()
        steps = int(self._wheel_rest / 120)
        self._wheel_rest -= steps * 120
        if steps:
            self.wheelTurned.emit(steps)

    def mouseDragEvent(self, ev: Any, axis: int | None = None) -> None:  # noqa: N802 - pyqtgraph
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            d = ev.screenPos() - ev.lastScreenPos()
            self.windowDragged.emit(float(d.x()), float(d.y()))
            return
        super().mouseDragEvent(ev, axis)


class SliceView(pg.GraphicsView):
    """Shows one slice: ``show_slice(grey, rgba)``, placed by ``set_geometry``."""

    wheelTurned = Signal(int)
    windowDragged = Signal(float, float)
    pixelHovered = Signal(int, int)  # row, column under the cursor (may lie off the image)
    pixelClicked = Signal(int, int)  # row, column of a left click (may lie off the image)
    left = Signal()  # the cursor left the view

    def __init__(self, parent: QWidget | None = None) -> None:
        # Dark grey, not black: air is black, and the image's edge should stay visible.
        super().__init__(parent, background=(38, 38, 44))
        self.box = _SliceViewBox()
        self.setCentralItem(self.box)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.label_item = pg.ImageItem(axisOrder="row-major")
        self.box.addItem(self.image_item)
        self.box.addItem(self.label_item)
        self.box.wheelTurned.connect(self.wheelTurned)
        self.box.windowDragged.connect(self.windowDragged)
        self.scene().sigMouseMoved.connect(self._on_scene_mouse_moved)
        self.scene().sigMouseClicked.connect(self._on_scene_mouse_clicked)
        self._pixel = (1.0, 1.0)
        # The crosshair: where the other planes cut this one (a vertical and a horizontal line).
        pen = pg.mkPen((255, 213, 74, 170), width=1)
        self.cross = (pg.InfiniteLine(angle=90, movable=False, pen=pen),
                      pg.InfiniteLine(angle=0, movable=False, pen=pen))
        for line in self.cross:
            line.setZValue(10)
            line.hide()
            self.box.addItem(line, ignoreBounds=True)
        self.letters = {edge: self._letter(edge) for edge in EDGES}
        self.set_focused(False)

    def _letter(self, edge: str) -> QLabel:
        label = QLabel(self)
        # Yellow on a dark plate: legible on bone, on air and on a yellow label alike.
        label.setStyleSheet("color: #ffd54a; font-weight: bold; font-size: 14px; "
                            "background: rgba(0, 0, 0, 150); border-radius: 3px; "
                            "padding: 0px 3px;")
        label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        label.setToolTip(f"Patient direction at the {edge} edge")
        return label

    def set_letters(self, top: str, bottom: str, left: str, right: str) -> None:
        """The patient directions at the four edges (R/L, A/P, S/I)."""
        for edge, text in zip(EDGES, (top, bottom, left, right), strict=True):
            self.letters[edge].setText(text)
        self._place_letters()

    def set_geometry(self, rows: int, cols: int, pixel_mm: tuple[float, float]) -> None:
        """Place a ``rows`` x ``cols`` slice of (height, width) mm pixels and fit it in."""
        self._pixel = pixel_mm
        rect = QRectF(0, 0, cols * pixel_mm[1], rows * pixel_mm[0])
        self.image_item.setRect(rect)
        self.label_item.setRect(rect)
        self.fit()

    def set_crosshair(self, at: tuple[int, int] | None) -> None:
        """Draw the crosshair through the centre of pixel (row, column); None hides it."""
        for line in self.cross:
            line.setVisible(at is not None)
        if at is not None:
            row, col = at
            self.cross[0].setValue((col + 0.5) * self._pixel[1])
            self.cross[1].setValue((row + 0.5) * self._pixel[0])

    def crosshair(self) -> tuple[int, int] | None:
        """The pixel (row, column) the crosshair goes through, None when hidden."""
        if not self.cross[0].isVisible():
            return None
        return (int(np.floor(self.cross[1].value() / self._pixel[0])),
                int(np.floor(self.cross[0].value() / self._pixel[1])))

    def set_focused(self, on: bool) -> None:
        """Frame the plane the keys and the slider move (the focused plane)."""
        # A type selector: the edge letters (QLabel children) keep their own look.
        colour = "#3a8ee6" if on else "#26262c"
        self.setStyleSheet(f"QGraphicsView {{ border: 2px solid {colour}; }}")

    def fit(self) -> None:
        """Show the whole slice."""
        self.box.autoRange(padding=0.02)

    def show_image(self, grey: np.ndarray | None) -> None:
        """Paint a (rows, cols) uint8 grey slice; None clears it."""
        _show(self.image_item, grey)

    def show_labels(self, rgba: np.ndarray | None) -> None:
        """Paint a (rows, cols, 4) uint8 RGBA label slice over the image; None clears it."""
        _show(self.label_item, rgba)

    def pixel_at(self, scene_pos: QPointF) -> tuple[int, int]:
        """(row, column) of the slice pixel at a scene position."""
        p = self.box.mapSceneToView(scene_pos)
        return int(np.floor(p.y() / self._pixel[0])), int(np.floor(p.x() / self._pixel[1]))

    def _on_scene_mouse_moved(self, pos: QPointF) -> None:
        self.pixelHovered.emit(*self.pixel_at(pos))

    def _on_scene_mouse_clicked(self, event: Any) -> None:
        if event.button() == Qt.MouseButton.LeftButton and not event.double():
            self.pixelClicked.emit(*self.pixel_at(event.scenePos()))

    def leaveEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        super().leaveEvent(event)
        self.left.emit()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._place_letters()

    def _place_letters(self) -> None:
        w, h, m = self.width(), self.height(), 6
        # GraphicsView resizes itself inside its __init__, before the letters exist.
        for edge, label in getattr(self, "letters", {}).items():
            label.adjustSize()
            lw, lh = label.width(), label.height()
            x = {"left": m, "right": w - lw - m}.get(edge, (w - lw) // 2)
            y = {"top": m, "bottom": h - lh - m}.get(edge, (h - lh) // 2)
            label.move(x, y)


class SliceHistogram(QWidget):
    """A small histogram of the shown slice's values, the window's range shaded over it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedSize(96, 26)
        self.setToolTip("The values of the focused plane's slice; shaded: the window")
        self._counts = np.zeros(0, np.int64)
        self._range = (0.0, 1.0)
        self._window = (0.0, 1.0)

    def show_counts(self, counts: np.ndarray, lo: float, hi: float,
                    window: tuple[float, float]) -> None:
        """Draw ``counts`` of equal bins from ``lo`` to ``hi``; ``window`` (centre, width)."""
        self._counts, self._range, self._window = np.asarray(counts), (lo, hi), window
        self.update()

    def set_window(self, window: tuple[float, float]) -> None:
        """Shade another window (centre, width) over the same counts."""
        self._window = window
        self.update()

    def clear(self) -> None:
        self._counts = np.zeros(0, np.int64)
        self.update()

    def counts(self) -> np.ndarray:
        return self._counts

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        p = QPainter(self)
        w, h = self.width(), self.height()
        p.fillRect(0, 0, w, h, QColor(38, 38, 44))
        if self._counts.size and self._counts.max() > 0:
            lo, hi = self._range
            c, ww = self._window
            x0 = int((c - ww / 2 - lo) / (hi - lo) * w)
            x1 = int((c + ww / 2 - lo) / (hi - lo) * w)
            p.fillRect(max(0, x0), 0, max(1, min(w, x1) - max(0, x0)), h, QColor(70, 90, 120))
            # log heights: the background peak would flatten everything else
            heights = np.log1p(self._counts) / np.log1p(self._counts.max()) * (h - 2)
            bar = w / len(self._counts)
            for i, v in enumerate(heights):
                p.fillRect(int(i * bar), int(h - v), max(1, int(bar)), int(v),
                           QColor(200, 200, 200))
        p.end()


def _show(item: pg.ImageItem, array: np.ndarray | None) -> None:
    if array is None:
        item.clear()
    else:
        # Levels None: the arrays are display-ready, so pyqtgraph wraps them in a QImage as is.
        item.setImage(array, autoLevels=False, levels=None)
