"""The wizard's window: a menu bar, steps on the left, the page in the middle, Back / Next below.

Long work (opening a folder, validating, exporting, uploading) runs through
``run_work`` on a worker thread, with progress and Cancel in the bottom bar; the
window keeps responding. Pages never start threads themselves. The menus press the
pages' own buttons (no second copy of what a button does); the sidebar's check mark
means a step is done (``Page.done``), not that it comes before the current one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractButton,
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.discover import ScanProgress
from app.progress import Work
from ui import errors
from ui.about import about_html, shortcuts_html, show_dialog
from ui.case_loader import CaseLoader
from ui.collector import collect_in_gui_thread
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
# A scan still running this long after it started shows its cases as they are counted.
SHOW_SCAN_AFTER_S = 0.4


class MainWindow(QMainWindow):
    """Segmap's one window."""

    def __init__(self, state: WizardState | None = None) -> None:
        super().__init__()
        collect_in_gui_thread()
        self.setWindowTitle("Segmap — segmentations into RedBrick AI")
        self.state = state or WizardState(Settings())
        self._worker: Worker | None = None
        self._scan_origin: int | None = None  # the page a scan showing its cases left
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
        self._entered: set[int] = set()  # pages shown since the session was opened
        self._menus: list[tuple[QMenu, str]] = []  # (menu, its title), once built
        for page_cls in PAGES:
            self.add_page(page_cls(self))
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self._on_cancel_clicked)
        self._build_menus()
        self.state.sessionChanged.connect(self._on_state_session_changed)
        for signal in (self.state.casesChanged, self.state.taxonomyChanged):
            signal.connect(self._update_nav)
        self.state.mappingsChanged.connect(self._update_nav)  # once per edit, not per case
        # The Export page says nothing when it writes; its button is what writes.
        self.page(ExportPage).export_button.clicked.connect(self._update_nav)
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
        self._entered.add(index)
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

    def _on_state_session_changed(self) -> None:
        self._entered = {self.stack.currentIndex()}
        self._update_nav()

    def step_done(self, index: int) -> bool:
        """Whether step ``index`` is done (its check mark in the sidebar)."""
        page = self.pages[index]
        if type(page).done is not Page.done:  # the page says it itself
            return page.done()
        rule = _DONE_BY_WINDOW.get(type(page))
        return rule(self) if rule is not None else False

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
            done = self.step_done(n)
            item.setText(f"{'✓' if done else n + 1}  {self.pages[n].title}")
            item.setToolTip(f"{self.pages[n].title}{' (done)' if done else ''} (Ctrl+{n + 1})")
            flags = Qt.ItemFlag.ItemIsSelectable
            if reachable:
                flags |= Qt.ItemFlag.ItemIsEnabled
            item.setFlags(flags)
        self._update_menus()

    def _update_menus(self) -> None:
        """The menus follow the sidebar and the buttons: what is reachable, what is shown."""
        if not self._menus:
            return  # not built yet (a page spoke while the window was being made)
        i, busy = self.stack.currentIndex(), self._worker is not None
        for n, action in enumerate(self.step_actions):
            action.setEnabled(bool(self.steps.item(n).flags() & Qt.ItemFlag.ItemIsEnabled)
                              and not busy)
            action.setChecked(n == i)
        for a in self._work_actions:
            a.setEnabled(not busy)
        self.back_action.setEnabled(self.back_button.isEnabled())
        self.next_action.setEnabled(self.next_button.isEnabled())
        self._update_menu_titles()

    # ----------------------------------------------------------------- menus
    def _build_menus(self) -> None:
        """File, Edit, Go and Help. Each action presses the button or calls the method that
        the window, a page or the state already has for it."""
        bar = self.menuBar()
        file = bar.addMenu("&File")
        source = self.page(SourcePage)
        self.open_folder_action = self._action(
            file, "Open &folder…", lambda: self._on_source_button(source.folder_button),
            "Ctrl+O")
        self.open_items_action = self._action(
            file, "Open &items list…", lambda: self._on_source_button(source.items_button),
            "Ctrl+Shift+O")
        self.open_demo_action = self._action(
            file, "Open the &demo", lambda: self._on_source_button(source.demo_button))
        file.addSeparator()
        self.export_action = self._action(file, "&Export…", self._on_export_triggered)
        file.addSeparator()
        self.quit_action = self._action(file, "&Quit", self.close, "Ctrl+Q")
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self._work_actions = (self.open_folder_action, self.open_items_action,
                              self.open_demo_action, self.export_action)

        edit = bar.addMenu("&Edit")  # every edit of the session is on the state's undo stack
        self.undo_action = self.state.undo_stack.createUndoAction(self, "&Undo")
        self.redo_action = self.state.undo_stack.createRedoAction(self, "&Redo")
        for action, keys in ((self.undo_action, QKeySequence.StandardKey.Undo),
                             (self.redo_action, QKeySequence.StandardKey.Redo)):
            edit.addAction(action)
            self._claim(action, QKeySequence.keyBindings(keys))

        go = bar.addMenu("&Go")
        self.back_action = self._action(go, "&Back", self.go_back, "Alt+Left")
        self.next_action = self._action(go, "&Next", self.go_next, "Alt+Right")
        go.addSeparator()
        group = QActionGroup(self)
        self.step_actions: list[QAction] = []
        for i, page in enumerate(self.pages):
            action = self._action(go, f"&{i + 1}  {page.title}",
                                  partial(self._on_step_triggered, i), f"Ctrl+{i + 1}")
            action.setCheckable(True)
            group.addAction(action)
            self.step_actions.append(action)

        help_menu = bar.addMenu("&Help")
        self._menus = [(m, m.title()) for m in (file, edit, go, help_menu)]
        self.shortcuts_action = self._action(help_menu, "&Keyboard shortcuts",
                                             self._on_shortcuts_triggered, "F1")
        self.about_action = self._action(help_menu, "&About Segmap", self._on_about_triggered)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.dialog: QDialog | None = None  # the Help dialog shown last

    def _action(self, menu: QMenu, text: str, slot: Callable[[], object],
                key: str = "") -> QAction:
        action = menu.addAction(text)
        action.triggered.connect(lambda _checked=False: slot())
        if key:
            self._claim(action, [QKeySequence(key)])
        return action

    def _claim(self, action: QAction, keys: list[QKeySequence]) -> None:
        """Give ``action`` the keys no page has a shortcut for: two shortcuts with one key
        are ambiguous and neither fires, so while a page still defines a key, it keeps it."""
        taken = {sc.key() for sc in self.findChildren(QShortcut)}
        action.setShortcuts([k for k in keys if k not in taken])

    def _update_menu_titles(self) -> None:
        """A menu's Alt+letter yields to a button of the page shown that has the same one
        (both would be ambiguous: Alt+F would neither open File nor press the button)."""
        page = self.stack.currentWidget()
        taken = {m.group(1).lower() for b in page.findChildren(QAbstractButton)
                 if (m := re.search(r"&([^&])", b.text()))} if page is not None else set()
        for menu, title in self._menus:
            m = re.search(r"&([^&])", title)
            menu.setTitle(title.replace("&", "") if m and m.group(1).lower() in taken
                          else title)

    def _on_step_triggered(self, index: int) -> None:
        self.go_to(index)
        self._update_nav()  # the check follows the page shown, also when the way was barred

    def _on_source_button(self, button: QAbstractButton) -> None:
        """Open something as the Source page's button does, on the Source page (opening
        goes on from there to Cases)."""
        if self._worker is not None:
            return
        self.go_to(0)
        button.click()

    def _on_export_triggered(self) -> None:
        """Go to Export and press its button; a step not done before it stops the way there
        (and says why)."""
        export = self.page(ExportPage)
        self.go_to(self.page_index(export))
        if self.stack.currentWidget() is export and self._worker is None:
            export.export_button.click()

    def _on_shortcuts_triggered(self) -> None:
        self._show_dialog("Keyboard shortcuts", shortcuts_html(self, self.pages), (560, 620))

    def _on_about_triggered(self) -> None:
        self._show_dialog("About Segmap", about_html(), (620, 640))

    def _show_dialog(self, title: str, html: str, size: tuple[int, int]) -> None:
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = show_dialog(self, title, html, size)

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
        started = time.monotonic()
        worker.stepped.connect(lambda step: self._on_worker_step(step, label, started))

        def ended(finished: bool = False) -> None:
            self._worker = None
            self._end_scanning(finished)
            self._set_busy(None)
            self._update_nav()

        def done(result: Any) -> None:
            ended(True)
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

    def _on_worker_step(self, step: object, label: str, started: float) -> None:
        """A scan that has paired its masks shows its cases on the Cases page while it
        counts them (from ``SHOW_SCAN_AFTER_S``: a small folder is done before that)."""
        if not isinstance(step, ScanProgress) or not step.cases or self._worker is None:
            return
        cases = self.page(CasesPage)
        if self._scan_origin is None:
            if time.monotonic() - started < SHOW_SCAN_AFTER_S:
                return
            self._scan_origin = self.stack.currentIndex()
            index = self.page_index(cases)  # shown as the current step until the scan ends
            self.steps.item(index).setFlags(Qt.ItemFlag.ItemIsSelectable
                                            | Qt.ItemFlag.ItemIsEnabled)
            self._show_only(index)
        cases.show_scanning(step, label)

    def _end_scanning(self, done: bool) -> None:
        """Back to the page the scan was started from (its ``on_done`` goes on from
        there, as it would have without the detour)."""
        if self._scan_origin is None:
            return
        self.page(CasesPage).end_scanning(done)
        self._show_only(self._scan_origin)
        self._scan_origin = None

    def _show_only(self, index: int) -> None:
        """Show page ``index`` without leaving or entering a page (a scan's detour)."""
        self.stack.setCurrentIndex(index)
        self.steps.blockSignals(True)
        self.steps.setCurrentRow(index)
        self.steps.blockSignals(False)

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

# When a step is done, for the pages that do not say it themselves (Page.done) yet.
_DONE_BY_WINDOW: dict[type[Page], Callable[[MainWindow], bool]] = {
    SourcePage: lambda w: w.state.session is not None,
    MappingPage: lambda w: w.state.session is not None and w.page(CasesPage).model.all_mapped(),
    PreviewPage: lambda w: w.state.session is not None
    and w.page_index(w.page(PreviewPage)) in w._entered,
    ExportPage: lambda w: w.state.session is not None and w.page(ExportPage).written is not None,
}
