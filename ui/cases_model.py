"""The Cases table: one row per case of the session, with an Include checkbox."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from app.items import ImportShape
from app.session import CaseState, RowStatus, Session
from ui.state import WizardState

COLUMNS = ("Include", "Case", "Patient", "Study / series", "Modality", "Slices", "Masks", "Shape",
           "Mapping", "Warnings")
COL_INCLUDE, COL_CASE, COL_PATIENT, COL_SERIES, COL_MODALITY, COL_SLICES, COL_MASKS, COL_SHAPE, \
    COL_MAPPING, COL_WARNINGS = range(len(COLUMNS))
SHAPE_TEXT = {ImportShape.LABEL_MAP: "I  one label map",
              ImportShape.LABEL_MAPS: "II  several label maps",
              ImportShape.BINARY_MASKS: "III  binary masks"}
IndexLike = QModelIndex | QPersistentModelIndex


_SUMMARY_WORDS = ((RowStatus.ABSENT, "in no file"), (RowStatus.NOT_IN_TAXONOMY, "not in taxonomy"),
                  (RowStatus.UNMAPPED, "not mapped"), (RowStatus.SUGGESTED, "to review"),
                  (RowStatus.OK, "mapped"))


# Pale backgrounds that keep black text readable: errors red, warnings amber, review blue.
_SUMMARY_COLOUR = {RowStatus.ABSENT: (250, 215, 212), RowStatus.NOT_IN_TAXONOMY: (250, 215, 212),
                   RowStatus.UNMAPPED: (253, 236, 200), RowStatus.SUGGESTED: (222, 235, 250)}


def mapping_summary(session: Session, case: CaseState) -> tuple[str, RowStatus]:
    """(short text, worst status needing attention, else OK) of a case's mapping rows."""
    statuses = [r.status for r in session.rows(case)]
    parts = [f"{n} {word}" for status, word in _SUMMARY_WORDS if (n := statuses.count(status))]
    worst = min((s for s in statuses if s.needs_attention), default=RowStatus.OK)
    return (" · ".join(parts) or "no labels"), worst


class CasesModel(QAbstractTableModel):
    """Cases of a session; the Include column is checkable."""

    includedChanged = Signal()

    def __init__(self, parent: Any = None, state: WizardState | None = None) -> None:
        super().__init__(parent)
        self._state = state
        self._session: Session | None = None
        self._summary: list[tuple[str, RowStatus]] = []
        if state is not None:  # every announced change shows here
            for signal in (state.casesChanged, state.taxonomyChanged):
                signal.connect(self.refresh)
            state.mappingChanged.connect(lambda _name: self.refresh())

    def set_session(self, session: Session | None) -> None:
        self.beginResetModel()
        self._session = session
        self._summary = [mapping_summary(session, c) for c in session.cases] if session else []
        self.endResetModel()

    def refresh(self) -> None:
        if self._session is None:
            return
        if len(self._summary) != len(self._session.cases):
            self.set_session(self._session)
            return
        self._summary = [mapping_summary(self._session, c) for c in self._session.cases]
        if self._summary:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._summary) - 1,
                                                              len(COLUMNS) - 1))

    def case_at(self, row: int) -> CaseState:
        assert self._session is not None
        return self._session.cases[row]

    def row_of(self, name: str) -> int:
        if self._session is None:
            return -1
        return next((i for i, c in enumerate(self._session.cases) if c.name == name), -1)

    def rowCount(self, parent: IndexLike = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() or self._session is None else len(self._session.cases)

    def columnCount(self, parent: IndexLike = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def flags(self, index: IndexLike) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        f = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return f | Qt.ItemFlag.ItemIsUserCheckable if index.column() == COL_INCLUDE else f

    def data(self, index: IndexLike, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or self._session is None:
            return None
        if not 0 <= index.row() < len(self._session.cases):
            return None
        case, col = self._session.cases[index.row()], index.column()
        text, worst = self._summary[index.row()]
        if role == Qt.ItemDataRole.CheckStateRole and col == COL_INCLUDE:
            return Qt.CheckState.Checked if case.included else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.DisplayRole:
            img = case.image
            return {
                COL_CASE: case.name,
                COL_PATIENT: img.patient or "—",
                COL_SERIES: " / ".join(x for x in (img.study, img.description) if x) or img.label,
                COL_MODALITY: img.modality or ("DICOM" if img.is_dicom else "NIfTI/NRRD"),
                COL_SLICES: str(img.slices) if img.slices else "",
                COL_MASKS: str(len(case.masks)),
                COL_SHAPE: SHAPE_TEXT[case.shape],
                COL_MAPPING: text,
                COL_WARNINGS: str(len(case.warnings)) if case.warnings else "",
            }.get(col)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_MASKS:
                return "\n".join(m.name for m in case.masks)
            if col == COL_WARNINGS and case.warnings:
                return "\n".join(case.warnings)
            if col == COL_SERIES:
                return f"{case.image.label}\n{case.evidence}"
        if role == Qt.ItemDataRole.ForegroundRole and not case.included:
            return QBrush(QColor(150, 150, 150))
        if role == Qt.ItemDataRole.BackgroundRole and col == COL_MAPPING and case.included:
            colour = _SUMMARY_COLOUR.get(worst)
            return QBrush(QColor(*colour)) if colour else None
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_MAPPING and worst != RowStatus.OK:
            return QBrush(QColor(20, 20, 20))
        return None

    def setData(self, index: IndexLike, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if (role != Qt.ItemDataRole.CheckStateRole or index.column() != COL_INCLUDE
                or self._session is None or not index.isValid()):
            return False
        checked = Qt.CheckState(value) == Qt.CheckState.Checked if not isinstance(value, bool) \
            else value
        case = self._session.cases[index.row()]
        if case.included == checked:
            return False
        if self._state is not None:
            self._state.edit(lambda s: s.set_included(case, checked))
        else:
            self._session.set_included(case, checked)
        self.dataChanged.emit(self.index(index.row(), 0), self.index(index.row(),
                                                                     len(COLUMNS) - 1))
        self.includedChanged.emit()
        return True
