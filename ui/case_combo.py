"""The case selector the Mapping and Preview pages share: included cases, current first."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox

from app.session import Session


class CaseCombo(QComboBox):
    """Lists the included cases as ``name  [shape]``; item data is the case name."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumWidth(280)

    def fill(self, session: Session | None, current: str | None) -> None:
        """Refill without emitting change signals, selecting ``current`` when listed."""
        self.blockSignals(True)
        self.clear()
        for c in (session.cases if session else []):
            if c.included:
                self.addItem(f"{c.name}  [{c.shape}]", c.name)
        self.setCurrentIndex(max(0, self.findData(current) if current else 0))
        self.blockSignals(False)
