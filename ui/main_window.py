"""The wizard's window: steps on the left, the page in the middle, Back / Next below.

Long work (opening a folder, validating, exporting, uploading) runs through
``run_work`` on a worker thread, with progress and Cancel in the bottom bar; the
window keeps responding. Pages never start threads themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.progress import Work
from ui import errors
from ui.case_loader import CaseLoader
from ui.pages.base import Page
from ui.pages.cases_page import CasesPage
from ui.pages.export_page import ExportPage
from ui.pages.mapping_page import MappingPage
from ui.pages.preview_page import PreviewPage
from ui.pages.source_page import SourcePage
from ui.pages.validate_page import ValidatePage
from ui.settings import Settings
from ui.state import WizardState
from ui.worker import Worker

P = TypeVar("P", bound=QWidget)


class MainWindow(QMainWindow):
    """Segmap's one window."""

    def __init__(self, state: WizardState | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Segmap — segmentations into RedBrick AI")
        self.state = state or WizardState(Settings())
        self._worker: Worker | None = None
        self._visited = 0
        self.loader = CaseLoader(self)
        self.state.sessionChanged.connect(self.loader.invalidate)

        self.steps = QListWidget()
        self.steps.setFixedWidth(190)
        self.steps.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.steps.setStyleSheet(
            "QListWidget { border: none; background: palette(window); padding-top: 14px; }"
            "QListWidget::item { padding: 8px 10px; border-radius: 4px; }"
            "QListWidget::item:selected { background: palette(highlight);"
            " color: palette(highlighted-text); }")
        self.steps.currentRowChanged.connect(self._on_steps_row_changed)
        self.stack = QStackedWidget()

        self.progress_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setFixedWidth(220)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running work (Esc)")
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.reason = QLabel()
        self.reason.setStyleSheet("color: #9a5b00;")
        self.back_button = QPushButton("&Back")
        self.back_button.setToolTip("Previous step (Alt+Left)")
        self.next_button = QPushButton("&Next")
        self.next_button.setDefault(True)
        self.next_button.setToolTip("Next step (Alt+Right)")
        self.back_button.clicked.connect(self.go_back)
        self.next_button.clicked.connect(self.go_next)

        bottom = QHBoxLayout()
        bottom.setContentsMargins(12, 6, 12, 10)
        for w in (self.progress_label, self.progress, self.cancel_button):
            bottom.addWidget(w)
        bottom.addStretch(1)
        bottom.addWidget(self.reason)
        bottom.addSpacing(10)
        bottom.addWidget(self.back_button)
        bottom.addWidget(self.next_button)
        self._set_busy(None)

        right = QVBoxLayout()
        right.setContentsMargins(0, 0, 0, 0)
        right.addWidget(self.stack, 1)
        right.addLayout(bottom)
        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(0)
        body.addWidget(self.steps)
        body.addLayout(right, 1)
        central = QWidget()
        central.setLayout(body)
        self.setCentralWidget(central)

        self.pages: list[Page] = []
        for page_cls in PAGES:
            self.add_page(page_cls(self))
        QShortcut(QKeySequence("Alt+Left"), self, self.go_back)
        QShortcut(QKeySequence("Alt+Right"), self, self.go_next)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self._on_cancel_clicked)
        for i in range(len(self.pages)):
            QShortcut(QKeySequence(f"Ctrl+{i + 1}"), self, lambda i=i: self.go_to(i))
        self.state.sessionChanged.connect(self._update_nav)
        geometry = self.state.settings.window_geometry()
        if not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        self.go_to(0)

    # ----------------------------------------------------------------- pages
    def add_page(self, page: Page) -> None:
        self.pages.append(page)
        self.stack.addWidget(page)
        item = QListWidgetItem(f"{len(self.pages)}  {page.title}")
        item.setToolTip(f"{page.title} (Ctrl+{len(self.pages)})")
        self.steps.addItem(item)
        page.completeChanged.connect(self._update_nav)

    def page(self, cls: type[P]) -> P:
        """The page of class ``cls``."""
        return next(p for p in self.pages if isinstance(p, cls))

    def page_index(self, page: QWidget) -> int:
        """The step number of ``page`` (from 0)."""
        return self.pages.index(page)  # type: ignore[arg-type]

    def go_to(self, index: int) -> None:
        """Show page ``index`` if it is reachable (every page before it allows Next)."""
        if not 0 <= index < len(self.pages) or self._worker is not None:
            self.steps.setCurrentRow(self.stack.currentIndex())
            return
        for i in range(min(index, len(self.pages))):
            if i < index and not self.pages[i].can_next()[0]:
                index = i
                break
        old = self.stack.currentIndex()
        if old != index and 0 <= old < len(self.pages):
            self.pages[old].leave()
        self.stack.setCurrentIndex(index)
        self._visited = max(self._visited, index)
        self.steps.blockSignals(True)
        self.steps.setCurrentRow(index)
        self.steps.blockSignals(False)
        self.pages[index].enter()
        self._update_nav()

    def go_next(self) -> None:
        i = self.stack.currentIndex()
        if self._worker is None and self.pages[i].can_next()[0] and i + 1 < len(self.pages):
            self.go_to(i + 1)

    def go_back(self) -> None:
        if self._worker is None and self.stack.currentIndex() > 0:
            self.go_to(self.stack.currentIndex() - 1)

    def _on_steps_row_changed(self, row: int) -> None:
        self.go_to(row)

    def _update_nav(self) -> None:
        i = self.stack.currentIndex()
        if not 0 <= i < len(self.pages):
            return
        ok, why = self.pages[i].can_next()
        busy = self._worker is not None
        self.back_button.setEnabled(i > 0 and not busy)
        self.next_button.setEnabled(ok and not busy and i + 1 < len(self.pages))
        self.next_button.setVisible(i + 1 < len(self.pages))
        self.next_button.setText(self.pages[i].next_text())
        self.reason.setText("" if ok or busy else why)
        for n in range(self.steps.count()):
            reachable = all(self.pages[k].can_next()[0] for k in range(n))
            item = self.steps.item(n)
            done = n < i and self.pages[n].can_next()[0]
            item.setText(f"{'✓' if done else n + 1}  {self.pages[n].title}")
            flags = Qt.ItemFlag.ItemIsSelectable
            if reachable:
                flags |= Qt.ItemFlag.ItemIsEnabled
            item.setFlags(flags)

    # ------------------------------------------------------------------ work
    def run_work(self, work: Work[Any] | Callable[[], Any], label: str,
                 on_done: Callable[[Any], None], on_cancel: Callable[[], None] | None = None,
                 on_failed: Callable[[BaseException, str], None] | None = None) -> Worker | None:
        """Run long work off the GUI thread with progress and Cancel; one at a time."""
        if self._worker is not None:
            return None
        worker = Worker(work, self)
        self._worker = worker
        self._set_busy(label)
        worker.progress.connect(self._on_worker_progress)

        def ended() -> None:
            self._worker = None
            self._set_busy(None)
            self._update_nav()

        def done(result: Any) -> None:
            ended()
            on_done(result)

        def failed(exc: BaseException, tb: str) -> None:
            ended()
            (on_failed or (lambda e, t: errors.show(e, t, self)))(exc, tb)

        def cancelled() -> None:
            ended()
            if on_cancel is not None:
                on_cancel()

        worker.finished.connect(done)
        worker.failed.connect(failed)
        worker.cancelled.connect(cancelled)
        worker.start()
        self._update_nav()
        return worker

    def busy(self) -> bool:
        return self._worker is not None

    def _on_worker_progress(self, done: float, total: float, message: str) -> None:
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(1.0, done / total)))
        else:
            self.progress.setRange(0, 0)
        self.progress_label.setText(message[:70])

    def _on_cancel_clicked(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self.progress_label.setText("Cancelling…")

    def _set_busy(self, label: str | None) -> None:
        for w in (self.progress, self.cancel_button):
            w.setVisible(label is not None)
        self.progress_label.setText(label or "")
        self.progress.setRange(0, 0)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self._worker is not None:
            self._worker.cancel()
            self._worker.wait(5.0)
        self.state.save_now()
        self.state.settings.set_window_geometry(self.saveGeometry())
        self.state.settings.sync()
        for p in self.pages:
            p.leave()
        super().closeEvent(event)


# The wizard's steps, in order.
PAGES: tuple[type[Page], ...] = (SourcePage, CasesPage, MappingPage, PreviewPage, ValidatePage,
                                 ExportPage)
