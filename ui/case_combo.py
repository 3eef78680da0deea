"""The case selector the Mapping and Preview pages share: included cases, current first."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox

from app.session import CaseState, Session, consequences


def case_text(session: Session, case: CaseState) -> str:
    """``name  [shape]  ·  3 to map``: the case and what its mapping still needs."""
    return f"{case.name}  [{case.shape}]  ·  {consequences(session.rows(case)).short}"


class CaseCombo(QComboBox):
    """Lists the included cases with their status; item data is the case name."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumWidth(280)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)

    def fill(self, session: Session | None, current: str | None) -> None:
        """Refill without emitting change signals, selecting ``current`` when listed."""
        self.blockSignals(True)
        self.clear()
        for c in session.cases if session is not None else []:
            if c.included and session is not None:
                self.addItem(case_text(session, c), c.name)
        self.setCurrentIndex(max(0, self.findData(current) if current else 0))
        self.blockSignals(False)

    def update_case(self, session: Session, case: CaseState) -> None:
        """Refresh one case's text (its mapping changed)."""
        row = self.findData(case.name)
        if row >= 0:
            self.setItemText(row, case_text(session, case))

    def step(self, delta: int) -> None:
        """Select the next (``delta`` 1) or previous (-1) case, if there is one."""
        i = self.currentIndex() + delta
        if 0 <= i < self.count():
            self.setCurrentIndex(i)
