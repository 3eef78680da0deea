"""The Cases page while a folder is still being scanned: its cases as rows that fill in.

A large folder's census (every mask read once) takes a while; its cases are known as
soon as the masks are paired. ``ScanView`` shows them from then on, one row per image,
each filled in as its masks are counted (``app.discover.ScanProgress``), so a user can
look through a 1,000-case folder, sort it, filter it and read a case's masks before
the scan ends. Nothing here can be edited: the scan's real cases replace these rows
when it ends, with the row the user was on still chosen.
"""

from __future__ import annotations

from html import escape
from operator import is_not
from typing import Any

import numpy as np
from PySide6.QtCore import QSortFilterProxyModel, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSplitter,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.discover import CaseSketch, ScanProgress
from ui.cases_model import SHAPE_TEXT

COLUMNS = ("Case", "Image", "Slices", "Masks", "Shape", "Census")
_COL_SHAPE, _COL_CENSUS = 4, 5  # what a census changes
_COUNTING = QColor(120, 120, 120)  # a row still being counted: grey, as not final
_REPAINT_MS = 250  # the rows are repainted at most four times a second
_MASKS_SHOWN = 60  # masks listed in the details (a TotalSegmentator case has 117)


def shape_text(sketch: CaseSketch) -> str:
    if not sketch.ready:
        return "…"
    return " + ".join(SHAPE_TEXT[s] for s in sketch.shapes) or "none readable"


class SketchModel(QStandardItemModel):
    """The sketches of the running scan, one row each (read only).

    The cells are Qt's own items, so painting, sorting and filtering the rows never call
    into Python: after its census the scan's thread goes on in Python (the cases, their
    mappings) for seconds at 10,000 cases, and each call a repaint makes into a Python
    model waits for that thread to let go of the interpreter (the window stopped answering
    for 1.1-1.4 s at the census's last repaint, 2,270 such calls)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(list(COLUMNS))
        self._rows: tuple[CaseSketch, ...] = ()
        self._grey = QBrush(_COUNTING)  # a row still being counted

    def set_sketches(self, rows: tuple[CaseSketch, ...]) -> None:
        """Show ``rows``: the rows that changed are repainted; a new set of cases resets."""
        old = self._rows
        if len(old) != len(rows):  # a scan's rows are all there from its first step
            self.beginResetModel()
            self.blockSignals(True)  # one reset, not a signal per cell
            try:
                self.setRowCount(0)
                self._rows = rows
                for sketch in rows:
                    self.appendRow(self._new_row(sketch))
            finally:
                self.blockSignals(False)
                self.endResetModel()
            return
        self._rows = rows
        # a changed row is a new object: found at C speed (10,000 rows in ~0.3 ms)
        changed = np.flatnonzero(np.fromiter(map(is_not, old, rows), bool, len(rows)))
        if not changed.size:
            return
        self.blockSignals(True)  # one dataChanged for the rows, not one per cell
        try:
            for r in changed.tolist():
                self._update_row(r, old[r], rows[r])
        finally:
            self.blockSignals(False)
        self.dataChanged.emit(self.index(int(changed[0]), 0),
                              self.index(int(changed[-1]), len(COLUMNS) - 1))

    @staticmethod
    def _cells(s: CaseSketch) -> tuple[tuple[str, ...], tuple[Any, ...]]:
        """What a sketch's cells show, and what they sort by: Qt compares the keys itself
        (numbers as numbers; the census by whether it is done, then labels, then masks
        counted)."""
        shape = shape_text(s)
        shown = (s.name, s.image, str(s.slices) if s.slices else "", str(len(s.masks)), shape,
                 s.status())
        keys = (s.name, s.image, s.slices or 0, len(s.masks), shape,
                float(s.ready) * 1e12 + s.labels * 1e6 + s.counted)  # a double: Qt's own
        return shown, keys

    def _new_row(self, s: CaseSketch) -> list[QStandardItem]:
        # Items made here, not clones of a prototype: a clone is made in C++, and when the
        # model deletes it (a new scan's rows) its Python side is not told, and is left
        # pointing at freed memory (the wizard crashed in 1 of 25 Next/Back walks)
        row = []
        for text, key in zip(*self._cells(s), strict=True):
            item = QStandardItem(text)
            item.setData(key, Qt.ItemDataRole.UserRole)
            if not s.ready:
                item.setForeground(self._grey)
            row.append(item)
        row[0].setToolTip(f"{s.name}: {s.status()}")
        return row

    def _update_row(self, r: int, before: CaseSketch, s: CaseSketch) -> None:
        """A row's census cells again (a case's name, image and masks do not change while
        it is scanned), the row's colour once it is counted."""
        shown, keys = self._cells(s)
        for col in (_COL_SHAPE, _COL_CENSUS):
            item = self.item(r, col)
            item.setText(shown[col])
            item.setData(keys[col], Qt.ItemDataRole.UserRole)
        self.item(r, 0).setToolTip(f"{s.name}: {s.status()}")
        if s.ready != before.ready:  # grey while counting, the palette's colour after
            brush = None if s.ready else self._grey
            for col in range(len(COLUMNS)):
                self.item(r, col).setData(brush, Qt.ItemDataRole.ForegroundRole)

    def sketch_at(self, row: int) -> CaseSketch:
        return self._rows[row]

    def row_of(self, name: str) -> int:
        return next((i for i, s in enumerate(self._rows) if s.name == name), -1)

    def ready(self) -> int:
        return sum(s.ready for s in self._rows)


class ScanView(QWidget):
    """The running scan's cases: a line on how far it is, a filter, the rows, one case's
    details."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = SketchModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.headline = QLabel()
        self.headline.setWordWrap(True)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter cases (name, image, shape)")
        self.filter.setClearButtonEnabled(True)
        self.filter.setMinimumWidth(280)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        # the scan's order until a header is clicked
        self.table.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.table.setSortingEnabled(True)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        # Widths set once (ResizeToContents would measure every row at every update)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for col, width in ((0, 200), (2, 60), (3, 60), (4, 180), (5, 260)):
            header.resizeSection(col, width)
        self._pending: tuple[ScanProgress, str] | None = None
        self._details_of: CaseSketch | None = None  # the sketch the details show
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(_REPAINT_MS)
        self._timer.timeout.connect(self._apply)
        self.table.selectionModel().currentRowChanged.connect(lambda *_: self._show_current())
        self.details = QTextBrowser()
        self.details.setOpenLinks(False)
        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.headline, 1)
        row.addWidget(self.filter)
        tl.addLayout(row)
        tl.addWidget(self.table, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.details)
        split.setSizes([520, 240])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

    def show_step(self, step: ScanProgress, doing: str) -> None:
        """Show the scan's cases as ``step`` has them (``doing``: "Opening Dataset_001"):
        the first at once, later ones at most every ``_REPAINT_MS`` (the newest wins), so
        the window's thread leaves the scan its time."""
        first = self._pending is None and not self.model.rowCount()
        self._pending = (step, doing)
        if first:
            self._apply()
        elif not self._timer.isActive():
            self._timer.start()

    def _apply(self) -> None:
        if self._pending is None:
            return
        (step, doing), self._pending = self._pending, None
        self.model.set_sketches(step.cases)
        n, ready = len(step.cases), self.model.ready()
        self.headline.setText(
            f"<b>{escape(doing)}</b>: {ready:,} of {n:,} case(s) counted. Look "
            "through them while the census runs; mapping and the other steps open when the "
            "scan ends (Cancel below stops it).")
        if not self.table.currentIndex().isValid() and self.proxy.rowCount():
            self.table.selectRow(0)
        self._show_current()

    def current_name(self) -> str | None:
        """The case the user is on (to stay on it when the real cases replace these)."""
        index = self.table.currentIndex()
        if not index.isValid():
            return None
        return self.model.sketch_at(self.proxy.mapToSource(index).row()).name

    def clear(self) -> None:
        self._timer.stop()
        self._pending = None
        self.model.set_sketches(())
        self.filter.clear()
        self.details.clear()
        self._details_of = None

    def _show_current(self) -> None:
        index = self.table.currentIndex()
        if not index.isValid():
            self._details_of = None
            self.details.clear()
            return
        s = self.model.sketch_at(self.proxy.mapToSource(index).row())
        if s is self._details_of:  # unchanged: keep the reader's scroll position
            return
        self._details_of = s
        lines = [f"<b>{escape(s.name)}</b> — {escape(shape_text(s))}",
                 f"Image: {escape(s.image)}" + (f" ({s.slices} slices)" if s.slices else ""),
                 f"Masks: {len(s.masks)} file(s); census: {escape(s.status())}"]
        lines += [f"&nbsp;&nbsp;{escape(m)}" for m in s.masks[:_MASKS_SHOWN]]
        if len(s.masks) > _MASKS_SHOWN:
            lines.append(f"&nbsp;&nbsp;… and {len(s.masks) - _MASKS_SHOWN} more")
        if len(s.shapes) > 1:
            lines.append("Its masks are of more than one import shape: it becomes one case "
                         "per shape when the scan ends.")
        self.details.setHtml("<br>".join(lines))
