"""The case selector the Mapping and Preview pages share: included cases, current first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QComboBox, QListView

from app.session import CaseState, Session, consequences

if TYPE_CHECKING:
    from ui.state import WizardState

# Up to this many cases the selector is as wide as its longest text (measuring it reads
# every case's rows); above, as wide as WIDE_TEXT characters.
SIZED_TO_TEXT = 500
WIDE_TEXT = 48
IndexLike = QModelIndex | QPersistentModelIndex


def case_text(session: Session, case: CaseState) -> str:
    """``name  [shape]  ·  3 to map``: the case and what its mapping still needs."""
    return f"{case.name}  [{case.shape}]  ·  {consequences(session.rows(case)).short}"


class CaseList(QAbstractListModel):
    """The included cases of a session; a case's text is made when the list shows it (it
    reads the case's rows: 10,000 cases' texts took 1 s at each entering of the Mapping
    page), then kept until its case changes (``refresh``)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._session: Session | None = None
        self._cases: list[CaseState] = []
        self._rows: dict[str, int] = {}
        self._texts: dict[int, str] = {}

    def reset(self, session: Session | None) -> None:
        self.beginResetModel()
        self._session = session
        self._cases = [c for c in session.cases if c.included] if session is not None else []
        self._rows = {c.name: i for i, c in enumerate(self._cases)}
        self._texts = {}
        self.endResetModel()

    def row_of(self, name: str | None) -> int:
        return self._rows.get(name, -1) if name is not None else -1

    def refresh(self, name: str) -> None:
        """Case ``name`` changed: its text is made again when next shown."""
        row = self.row_of(name)
        if row >= 0:
            self._texts.pop(row, None)
            self.dataChanged.emit(self.index(row), self.index(row))

    def refresh_all(self) -> None:
        """Every case's text is made again when next shown (the taxonomy changed)."""
        self._texts = {}
        if self._cases:
            self.dataChanged.emit(self.index(0), self.index(len(self._cases) - 1))

    def rowCount(self, parent: IndexLike = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._cases)

    def data(self, index: IndexLike, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._cases):
            return None
        case = self._cases[index.row()]
        if role == Qt.ItemDataRole.UserRole:
            return case.name
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole) \
                and self._session is not None:
            text = self._texts.get(index.row())
            if text is None:
                text = self._texts[index.row()] = case_text(self._session, case)
            return text
        return None


class CaseCombo(QComboBox):
    """Lists the included cases with their status; item data is the case name."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumWidth(280)
        self.cases = CaseList(self)
        self.setModel(self.cases)
        view = QListView(self)
        view.setUniformItemSizes(True)  # the popup measures one row, not every case
        self.setView(view)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)

    def fill(self, session: Session | None, current: str | None) -> None:
        """Refill without emitting change signals, selecting ``current`` when listed."""
        self.blockSignals(True)
        large = session is not None and len(session.cases) > SIZED_TO_TEXT
        self.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon if large
            else QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.setMinimumContentsLength(WIDE_TEXT if large else 0)
        self.cases.reset(session)
        self.setCurrentIndex(max(0, self.cases.row_of(current)))
        self.blockSignals(False)

    def follow(self, state: WizardState) -> None:
        """Keep each case's text true to ``state``'s edits of any case (Apply to same labels,
        a template, an undo) and to its taxonomy."""
        state.mappingChanged.connect(self.update_case)
        state.taxonomyChanged.connect(self.cases.refresh_all)

    def update_case(self, name: str) -> None:
        """Refresh one case's text (its mapping changed)."""
        self.cases.refresh(name)

    def step(self, delta: int) -> None:
        """Select the next (``delta`` 1) or previous (-1) case, if there is one."""
        i = self.currentIndex() + delta
        if 0 <= i < self.count():
            self.setCurrentIndex(i)
