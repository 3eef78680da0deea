"""What every page has: a title, gating of Next, and hooks the window calls.

Pages know the window only as a ``ui.window.Window`` (what they may ask of it),
so the window can import its pages without the pages importing the window.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ui.window import Window


class Page(QWidget):
    """A wizard page. Subclasses set ``title`` and ``subtitle`` and build their widgets."""

    title = ""
    subtitle = ""
    completeChanged = Signal()  # re-evaluate can_next()

    def __init__(self, window: Window) -> None:
        super().__init__()
        self.window_ = window
        self.state = window.state
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(18, 14, 18, 10)
        heading = QLabel(self.title)
        heading.setObjectName("pageTitle")
        heading.setStyleSheet("font-size: 17px; font-weight: 600;")
        self.layout_.addWidget(heading)
        if self.subtitle:
            sub = QLabel(self.subtitle)
            sub.setWordWrap(True)
            sub.setStyleSheet("color: #555;")
            sub.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.layout_.addWidget(sub)

    def enter(self) -> None:
        """Called each time the page is shown."""

    def leave(self) -> None:
        """Called when another page is shown."""

    def can_next(self) -> tuple[bool, str]:
        """Whether Next is allowed, and why not (shown beside the button)."""
        return True, ""

    def next_text(self) -> str:
        return "&Next"

    def done(self) -> bool:
        """Whether the step's work is done, judged from the session (the sidebar's check
        mark). Not "before the current page": a page says it, else the step is not done."""
        return False
