"""The Preview page's sign-off panel: the reviewer's word on the case shown.

Not reviewed / Reviewed / Needs work, and a comment. The panel holds no state of its
own: ``show_sign_off`` fills it from a case, and ``changed`` says what the reviewer
chose (the page turns it into an edit of the session, so it is undoable and saved).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.session import Review, SignOff

_NOT_REVIEWED = 0
_IDS = {Review.REVIEWED: 1, Review.NEEDS_WORK: 2}


class SignOffPanel(QGroupBox):
    """Reviewed / Needs work / not reviewed, with a comment, for one case."""

    changed = Signal(object, str)  # (Review | None, comment): the reviewer chose

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Sign-off", parent)
        self.not_reviewed = QRadioButton("N&ot reviewed")
        self.reviewed = QRadioButton("&Reviewed")
        self.reviewed.setToolTip("The masks of this case are right as they are")
        self.needs_work = QRadioButton("Needs &work")
        self.needs_work.setToolTip("Something in this case must be fixed: say what in the "
                                   "comment")
        self.group = QButtonGroup(self)
        for button, n in ((self.not_reviewed, _NOT_REVIEWED),
                          (self.reviewed, _IDS[Review.REVIEWED]),
                          (self.needs_work, _IDS[Review.NEEDS_WORK])):
            self.group.addButton(button, n)
        self.group.idClicked.connect(self._on_group_id_clicked)
        self.comment = QLineEdit()
        self.comment.setPlaceholderText("Comment (Enter keeps it)")
        self.comment.setToolTip("What you checked, or what must be fixed")
        self.comment.editingFinished.connect(self._on_comment_editing_finished)
        label = QLabel("Co&mment")
        label.setBuddy(self.comment)
        self.who = QLabel()
        self.who.setStyleSheet("color: #555;")
        self.who.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.not_reviewed, self.reviewed, self.needs_work):
            buttons.addWidget(button)
        buttons.addStretch(1)
        line = QHBoxLayout()
        line.addWidget(label)
        line.addWidget(self.comment, 1)
        box = QVBoxLayout(self)
        box.addLayout(buttons)
        box.addLayout(line)
        box.addWidget(self.who)
        self.show_sign_off(None)

    def review(self) -> Review | None:
        """The review chosen (None: not reviewed)."""
        return next((r for r, n in _IDS.items() if n == self.group.checkedId()), None)

    def show_sign_off(self, sign_off: SignOff | None) -> None:
        """Show a case's sign-off (None: not reviewed) without announcing a change."""
        n = _IDS[sign_off.review] if sign_off is not None else _NOT_REVIEWED
        button = self.group.button(n)
        if button is not None and not button.isChecked():
            button.setChecked(True)
        text = sign_off.comment if sign_off is not None else ""
        if self.comment.text() != text:
            self.comment.setText(text)
        self.comment.setEnabled(sign_off is not None)
        if sign_off is None:
            self.who.setText("Not reviewed yet.")
        else:
            by = f" by {sign_off.by}" if sign_off.by else ""
            at = f", {sign_off.at.replace('T', ' ')}" if sign_off.at else ""
            self.who.setText(f"{sign_off.review.value.capitalize()}{by}{at}")

    def _on_group_id_clicked(self, _n: int) -> None:
        review = self.review()
        self.comment.setEnabled(review is not None)
        self.changed.emit(review, self.comment.text() if review is not None else "")

    def commit(self) -> None:
        """Announce the comment as typed (before the panel shows another case)."""
        review = self.review()
        if review is not None:
            self.changed.emit(review, self.comment.text())

    def _on_comment_editing_finished(self) -> None:
        self.commit()
