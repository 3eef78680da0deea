"""Labels onto tasks already in RedBrick, in the wizard's views (issue 13).

``RemoteSourceBox`` on the Source page: choose the project (``ProjectDialog``; the key
stays in memory), list its tasks on a worker (progress and Cancel in the window),
refresh them, and say how cases find their task (task name, series name, DICOM UID or
a CSV file). ``RemoteCasesModel`` is the Cases table with a "RedBrick task" column:
the matched task's name, stage and whether it has labels, or why the case has none;
``follow_remote`` shows that column, and the line of tasks no case matched, only while
a project is chosen. Everything shown is read from ``WizardState.remote``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.errors import SegmapError
from app.items import Taxonomy
from app.upload import Credentials, Destination, MatchBy, RedBrickError
from ui import errors
from ui.cases_model import COL_TASK, CasesModel
from ui.project_dialog import ProjectDialog
from ui.remote_tasks import MATCH_WORDS, Fit, Listed, RemoteTasks, list_project
from ui.state import WizardState
from ui.window import Window

IndexLike = QModelIndex | QPersistentModelIndex
REMOTE_HEADER = "RedBrick task"
NO_PROJECT = ("None: the export creates new tasks. To put these masks on tasks already in a "
              "RedBrick project, choose the project.")
# Pale backgrounds that keep black text readable, as the Mapping column's.
_FIT_COLOUR = {Fit.UNMATCHED: (253, 236, 200), Fit.AMBIGUOUS: (253, 236, 200),
               Fit.REFUSED: (250, 215, 212)}
_LABELLED = (222, 235, 250)  # matched, but attaching replaces the labels it has
_SHOWN_UNMATCHED = 8  # remote tasks named in the line below the Cases table
_COLUMN_WIDTH = 280  # reasons can be long: cut in the cell, whole in the tooltip


def failure_text(exc: BaseException) -> str:
    """One sentence on a failed listing (the details go to the error dialog)."""
    if isinstance(exc, SegmapError):
        return exc.message
    return f"an internal error ({type(exc).__name__}); the details are in the message."


class RemoteSourceBox(QWidget):
    """The Source page's "label tasks already in RedBrick" controls."""

    def __init__(self, window: Window, on_taxonomy: Callable[[Taxonomy], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.window_ = window
        self.remote: RemoteTasks = window.state.remote
        self._on_taxonomy = on_taxonomy
        self.summary = QLabel(NO_PROJECT)
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.choose_button = QPushButton("Label tasks already in Red&Brick…")
        self.choose_button.setToolTip("Choose a RedBrick project and list its tasks: each case's "
                                      "masks then go onto its task there, none is created")
        self.refresh_button = QPushButton("Refresh tasks")
        self.refresh_button.setToolTip("List the project's tasks again (stages, labels)")
        self.forget_button = QPushButton("Create new tasks instead")
        self.forget_button.setToolTip("Forget the project: the export and upload create tasks")
        self.match = QComboBox()
        for by in MatchBy:
            self.match.addItem(f"by {MATCH_WORDS[by]}" + ("…" if by is MatchBy.CSV else ""), by)
        self.match.setToolTip("How each case finds its task: the task's name, a series name, "
                              "the DICOM SeriesInstanceUID (else StudyInstanceUID), or a CSV "
                              "with columns task,mask_path")
        self.choose_button.clicked.connect(self._on_choose_clicked)
        self.refresh_button.clicked.connect(self._on_refresh_clicked)
        self.forget_button.clicked.connect(self.remote.forget)
        self.match.activated.connect(self._on_match_activated)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.choose_button)
        row.addWidget(self.refresh_button)
        row.addWidget(self.forget_button)
        row.addSpacing(12)
        self.match_label = QLabel("Match cases")
        row.addWidget(self.match_label)
        row.addWidget(self.match)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.summary)
        lay.addLayout(row)
        self.remote.tasksChanged.connect(self._show)
        self.remote.matchChanged.connect(self._show)
        self._show()

    # ------------------------------------------------------------ handlers
    def _on_choose_clicked(self) -> None:
        dialog = ProjectDialog(self.window(), self.window_.state, "Tasks of a RedBrick project",
                               "List tasks")
        if not dialog.exec() or dialog.destination is None or dialog.credentials is None:
            return
        if dialog.taxonomy is not None:  # the project's own taxonomy, as its tasks use it
            self._on_taxonomy(dialog.taxonomy)
        self.list_tasks(dialog.destination, dialog.credentials, refresh=True)

    def _on_refresh_clicked(self) -> None:
        if self.remote.destination is not None and self.remote.credentials is not None:
            self.list_tasks(self.remote.destination, self.remote.credentials, refresh=True)

    def _on_match_activated(self, _index: int) -> None:
        by = MatchBy(self.match.currentData())
        if by is not MatchBy.CSV:
            self.choose_match(by)
            return
        start = str(self.remote.csv_path or Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "CSV joining masks to tasks", start,
                                              "CSV or TSV (*.csv *.tsv *.txt)")
        if path:
            self.choose_match(MatchBy.CSV, Path(path))
        else:
            self._show()  # the combo goes back to the mode in use

    # --------------------------------------------------------------- actions
    def list_tasks(self, destination: Destination, credentials: Credentials,
                   refresh: bool = False) -> None:
        """List the project's tasks on a worker; they become the state's when listed."""
        self.summary.setText("Listing the project's tasks…")

        def done(listed: Listed) -> None:
            self.remote.set_listed(listed, credentials)

        def failed(exc: BaseException, tb: str) -> None:
            self.summary.setText(f"Not listed: {failure_text(exc)}"
                                 + (f" ({self.remote.summary()})" if self.remote.chosen else ""))
            detail = exc.detail if isinstance(exc, RedBrickError) else None
            errors.show(exc, f"{detail}\n\n{tb}" if detail else tb, self)

        self.window_.run_work(list_project(destination, credentials, self.remote.cache, refresh),
                              "Listing the project's tasks", done, on_cancel=self._show,
                              on_failed=failed)

    def choose_match(self, by: MatchBy, csv_path: Path | None = None) -> None:
        """Match cases ``by`` (with ``csv_path`` for CSV) from now on."""
        self.remote.set_match_by(by, csv_path)

    # ------------------------------------------------------------------ view
    def _show(self) -> None:
        chosen = self.remote.chosen
        self.summary.setText(self.remote.summary() if chosen else NO_PROJECT)
        for w in (self.refresh_button, self.forget_button, self.match, self.match_label):
            w.setVisible(chosen)
        self.match.setCurrentIndex(self.match.findData(self.remote.by))
        csv = self.remote.csv_path
        self.match.setItemText(self.match.findData(MatchBy.CSV),
                               f"by CSV file {csv.name}" if csv else "by CSV file…")
        self.match.setToolTip(str(csv) if csv else self.match.toolTip())


class RemoteCasesModel(CasesModel):
    """The Cases table with the case's RedBrick task as its last column."""

    def __init__(self, parent: Any, state: WizardState) -> None:
        super().__init__(parent, state)
        self.remote = state.remote
        self.remote.matchChanged.connect(self._on_remote_match_changed)

    @property
    def remote_column(self) -> int:
        return super().columnCount()

    def columnCount(self, parent: IndexLike = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self.remote_column + 1

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if (orientation == Qt.Orientation.Horizontal and section == self.remote_column
                and role == Qt.ItemDataRole.DisplayRole):
            return REMOTE_HEADER
        return super().headerData(section, orientation, role)

    def data(self, index: IndexLike, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.column() != self.remote_column:
            return super().data(index, role)
        if not 0 <= index.row() < self.rowCount():
            return None
        found = self.remote.of(self.case_at(index.row()))
        if role == Qt.ItemDataRole.DisplayRole:
            return found.text
        if role == Qt.ItemDataRole.ToolTipRole:
            return found.tip
        colour = (_LABELLED if found.remote is not None and found.fit is Fit.MATCHED
                  and found.remote.has_labels else _FIT_COLOUR.get(found.fit))
        if role == Qt.ItemDataRole.BackgroundRole and colour:
            return QBrush(QColor(*colour))
        if role == Qt.ItemDataRole.ForegroundRole:
            return QBrush(QColor(150, 150, 150) if found.fit is Fit.LEFT_OUT
                          else QColor(20, 20, 20))
        return None

    def _on_remote_match_changed(self) -> None:
        if self.rowCount():
            column = self.remote_column
            self.dataChanged.emit(self.index(0, column), self.index(self.rowCount() - 1, column))


def unmatched_line(remote: RemoteTasks) -> str:
    """The line below the Cases table: RedBrick tasks no included case matched."""
    if not remote.chosen or remote.matching:
        return ""
    if remote.error is not None:
        return f"No case was matched: {remote.error}"
    left = remote.unmatched
    if not left:
        return "Every task in the RedBrick project has a case."
    names = ", ".join(t.name for t in left[:_SHOWN_UNMATCHED])
    more = f" and {len(left) - _SHOWN_UNMATCHED} more" if len(left) > _SHOWN_UNMATCHED else ""
    return f"RedBrick tasks no case matched ({len(left)}): {names}{more}."


def follow_remote(table: QTableView, model: RemoteCasesModel, line: QLabel) -> None:
    """Show the RedBrick task column (beside the task name) and the unmatched line only
    while a project is chosen."""
    header = table.horizontalHeader()
    column = model.remote_column
    header.moveSection(header.visualIndex(column), header.visualIndex(COL_TASK) + 1)
    header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
    header.resizeSection(column, _COLUMN_WIDTH)
    line.setWordWrap(True)
    line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

    def show() -> None:
        table.setColumnHidden(model.remote_column, not model.remote.chosen)
        line.setText(unmatched_line(model.remote))
        line.setVisible(model.remote.chosen)
        line.setToolTip("\n".join(t.name for t in model.remote.unmatched))

    model.remote.tasksChanged.connect(show)
    model.remote.matchChanged.connect(show)
    model.modelReset.connect(show)
    show()
