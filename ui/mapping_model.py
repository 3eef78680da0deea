"""The mapping table: a QAbstractTableModel over the session's rows of one case.

One row per label value (shapes I, II) or per binary mask file (shape III), empty
masks last (or hidden: ``set_hide_empty``). Only the Category column is editable;
editing it calls ``Session.set_category`` through the wizard's state, whose
announcement refreshes every view of the case (this model included) and makes it
undoable. What a status means is spelled out in the tooltip and in the Status column.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPixmap

from app.errors import InputError
from app.items import Category, category_label
from app.mapping import code_label, parse_code_text
from app.session import CaseState, Change, CodeChoice, Row, RowStatus, Session
from ui import errors
from ui.state import WizardState

COLUMNS = ("", "Value", "File", "Voxels", "mL", "Mean", "Category", "Code", "Suggested by",
           "Status")
COL_SWATCH, COL_VALUE, COL_FILE, COL_VOXELS, COL_ML, COL_MEAN, COL_CATEGORY, COL_CODE, \
    COL_SOURCE, COL_STATUS = range(len(COLUMNS))

STATUS_TEXT = {
    RowStatus.OK: "mapped",
    RowStatus.SUGGESTED: "suggested: review",
    RowStatus.UNMAPPED: "not mapped",
    RowStatus.ABSENT: "in no file",
    RowStatus.NOT_IN_TAXONOMY: "not in taxonomy",
    RowStatus.EMPTY: "empty mask",
}
# Pale backgrounds that keep black text readable; errors red, warnings amber, review blue.
STATUS_COLOUR = {
    RowStatus.ABSENT: QColor(250, 215, 212),
    RowStatus.NOT_IN_TAXONOMY: QColor(250, 215, 212),
    RowStatus.UNMAPPED: QColor(253, 236, 200),
    RowStatus.SUGGESTED: QColor(222, 235, 250),
}
IndexLike = QModelIndex | QPersistentModelIndex


def swatch(rgb: tuple[int, int, int] | None, size: int = 14) -> QIcon:
    """A small square of colour (grey outline when there is no colour)."""
    pix = QPixmap(size, size)
    pix.fill(QColor(*rgb) if rgb else QColor(0, 0, 0, 0))
    if rgb is None:
        from PySide6.QtGui import QPainter

        p = QPainter(pix)
        p.setPen(QColor(150, 150, 150))
        p.drawRect(0, 0, size - 1, size - 1)
        p.end()
    return QIcon(pix)


class MappingTableModel(QAbstractTableModel):
    """Rows of one case of a session; the Category column edits the items list."""

    mappingChanged = Signal()  # a category was set by the user

    def __init__(self, state: WizardState | None = None, parent: Any = None) -> None:
        super().__init__(parent)
        self._state = state
        self._session: Session | None = None
        self._case: CaseState | None = None
        self._rows: list[Row] = []
        self._hide_empty = False
        self._means: dict[int, float] = {}
        self._icons: dict[tuple[int, int, int] | None, QIcon] = {}
        if state is not None:
            state.mappingChanged.connect(self._on_state_mapping_changed)
            state.taxonomyChanged.connect(self.refresh)

    def _on_state_mapping_changed(self, name: str) -> None:
        if self._case is not None and self._case.name == name:
            self.refresh()

    # ------------------------------------------------------------ population
    def set_case(self, session: Session | None, case: CaseState | None) -> None:
        self.beginResetModel()
        self._session, self._case = session, case
        self._means = {}
        self._rows = self._ordered()
        self.endResetModel()

    def set_hide_empty(self, hide: bool) -> None:
        """Leave empty masks out of the table (they are never imported)."""
        if hide != self._hide_empty:
            self._hide_empty = hide
            self.beginResetModel()
            self._rows = self._ordered()
            self.endResetModel()

    def empty_count(self) -> int:
        """How many of the case's rows are empty masks (shown or not)."""
        if self._session is None or self._case is None:
            return 0
        return sum(1 for r in self._session.rows(self._case) if r.status == RowStatus.EMPTY)

    def _ordered(self) -> list[Row]:
        """The session's rows, empty masks last (or left out)."""
        if self._session is None or self._case is None:
            return []
        rows = self._session.rows(self._case)
        empty = [] if self._hide_empty else [r for r in rows if r.status == RowStatus.EMPTY]
        return [r for r in rows if r.status != RowStatus.EMPTY] + empty

    def refresh(self) -> None:
        """Recompute the rows after the session changed (keeps the row count when it can)."""
        if self._session is None or self._case is None:
            return
        rows = self._ordered()
        if len(rows) != len(self._rows):
            self.beginResetModel()
            self._rows = rows
            self.endResetModel()
            return
        self._rows = rows
        if rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(rows) - 1, len(COLUMNS) - 1))

    def set_means(self, means: dict[int, float]) -> None:
        """Mean image intensity per label value (computed off the GUI thread)."""
        self._means = dict(means)
        if self._rows:
            last = len(self._rows) - 1
            self.dataChanged.emit(self.index(0, COL_MEAN), self.index(last, COL_MEAN))

    def rows(self) -> list[Row]:
        return list(self._rows)

    def row_at(self, index: int) -> Row:
        return self._rows[index]

    def case(self) -> CaseState | None:
        return self._case

    def colour_of(self, row: Row) -> tuple[int, int, int] | None:
        """The colour the row is drawn in (no swatch for a row without voxels)."""
        if self._session is None or row.label_value is None:
            return None
        return self._session.colour(row)

    def _icon(self, rgb: tuple[int, int, int] | None) -> QIcon:
        if rgb not in self._icons:
            self._icons[rgb] = swatch(rgb)
        return self._icons[rgb]

    # --------------------------------------------------------------- Qt model
    def rowCount(self, parent: IndexLike = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: IndexLike = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return {
                COL_VALUE: "The value in the label map, or the instance id a binary mask gets",
                COL_ML: "Volume in millilitres, from the voxel size",
                COL_MEAN: "Mean image intensity inside the label (HU for CT)",
                COL_CATEGORY: "Taxonomy category (double-click or F2 to edit; type to search)",
                COL_CODE: "What the category is in DICOM's words (SNOMED CT), for DICOM SEG and "
                          "Slicer colour tables: suggested from its name (in grey) until you "
                          "confirm or change it (F2; e.g. SCT:10200004, empty for none)",
                COL_SOURCE: "Where the category came from: a suggestion's source, or you",
            }.get(section)
        return None

    def flags(self, index: IndexLike) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        row = self._rows[index.row()]
        if index.column() == COL_CATEGORY and row.files:
            return base | Qt.ItemFlag.ItemIsEditable
        if index.column() == COL_CODE and row.category is not None:
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    def data(self, index: IndexLike, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row, col = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, col)
        if role == Qt.ItemDataRole.EditRole and col == COL_CATEGORY:
            return row.category
        if role == Qt.ItemDataRole.EditRole and col == COL_CODE:
            return self.code_of(row).text
        if col == COL_CODE and role == Qt.ItemDataRole.ToolTipRole and row.category is not None:
            choice = self.code_of(row)
            if choice.code is None:
                return "No code: DICOM SEG and colour tables get Segmap's local code " \
                       "(F2 to give one)" if not choice.confirmed else "No code, as you chose"
            how = "you confirmed it" if choice.origin == "you" else \
                f"from {choice.origin}: F2 to change" if choice.confirmed else \
                "suggested from the name: F2 to confirm or change"
            return f"{choice.text}: {code_label(choice.code)} ({how})"
        if col == COL_CODE and role == Qt.ItemDataRole.ForegroundRole and \
                row.category is not None and not self.code_of(row).confirmed:
            return QBrush(QColor(110, 110, 110))
        if role == Qt.ItemDataRole.DecorationRole and col == COL_SWATCH:
            return self._icon(self.colour_of(row))
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_FILE:
                return "\n".join(str(f) for f in row.files) or None
            return row.message or STATUS_TEXT.get(row.status)
        if role == Qt.ItemDataRole.BackgroundRole and row.status in STATUS_COLOUR:
            return QBrush(STATUS_COLOUR[row.status])
        if role == Qt.ItemDataRole.ForegroundRole and row.status in STATUS_COLOUR:
            return QBrush(QColor(20, 20, 20))
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_VALUE, COL_VOXELS, COL_ML,
                                                                 COL_MEAN):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _display(self, row: Row, col: int) -> str | None:
        if col == COL_VALUE:
            return "" if row.label_value is None else str(row.label_value)
        if col == COL_FILE:
            names = [f.name for f in row.files]
            rois = self._session.rois(self._case) if self._session and self._case else None
            if rois is not None and row.value is not None and 1 <= row.value <= len(rois):
                return f"{names[0]}: ROI {rois[row.value - 1]!r}"  # the name RedBrick keys
            return ", ".join(names) if len(names) <= 2 else f"{names[0]} + {len(names) - 1} more"
        if col == COL_VOXELS:
            return f"{row.voxels:,}"
        if col == COL_ML:
            return f"{row.volume_ml:,.1f}"
        if col == COL_MEAN:
            mean = self._means.get(row.label_value) if row.label_value is not None else None
            return "" if mean is None else f"{mean:,.0f}"
        if col == COL_CATEGORY:
            return "" if row.category is None else category_label(row.category)
        if col == COL_CODE:
            choice = self.code_of(row)
            return "" if choice.code is None else f"{code_label(choice.code)} ({choice.text})"
        if col == COL_SOURCE:
            s = row.suggestion
            if self._case is not None and row.label_value in self._case.by_hand \
                    and row.category is not None:
                return "you"
            if s is None:
                return ""
            label = category_label(s.category) if s.category is not None else "(none)"
            return s.source if label == category_label(row.category) else f"{s.source}: {label}"
        if col == COL_STATUS:
            return STATUS_TEXT.get(row.status, row.status)
        return None

    def code_of(self, row: Row) -> CodeChoice:
        """The code of the row's category in this case (confirmed or suggested)."""
        if self._session is None or self._case is None:
            return CodeChoice(None, False)
        return self._session.code_of(self._case, row.category, row.files, row.value)

    def _set_code(self, row: Row, text: str) -> bool:
        if self._session is None or self._case is None or row.category is None:
            return False
        category = row.category
        if text.strip():
            try:
                parse_code_text(text, where=f"the code of {category_label(category)}")
            except InputError as exc:
                errors.show(exc, None, None)
                return False
        if text.strip() == self.code_of(row).text and self.code_of(row).confirmed:
            return False

        def edit(session: Session) -> Change:
            return session.set_code(category, text)

        if self._state is not None:  # its announcement refreshes this model
            self._state.edit(edit, f"code {text.strip() or 'none'} for "
                                   f"{category_label(category)}")
        else:
            edit(self._session)
            self.refresh()
        return True

    def setData(self, index: IndexLike, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role == Qt.ItemDataRole.EditRole and index.isValid() and index.column() == COL_CODE:
            return self._set_code(self._rows[index.row()], str(value or ""))
        if (role != Qt.ItemDataRole.EditRole or not index.isValid()
                or index.column() != COL_CATEGORY or self._session is None or self._case is None):
            return False
        category: Category | None = value if value not in ("", None) else None
        row = self._rows[index.row()]
        if category == row.category and row.status != RowStatus.SUGGESTED:
            return False
        case = self._case

        def edit(session: Session) -> Change:
            return session.set_category(case, row, category)

        if self._state is not None:  # its announcement refreshes this model
            what = row.files[0].name if case.binary and row.files else f"value {row.value}"
            label = (f"map {what} to {category_label(category)}" if category is not None
                     else f"unmap {what}")
            self._state.edit(edit, label, [case])
        else:
            edit(self._session)
            self.refresh()
        self.mappingChanged.emit()
        return True
