"""Page 1, Source: a folder (or items.json) to open, the taxonomy to map to, and, when the
masks go onto tasks already in RedBrick, the project whose tasks they label."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QStandardPaths, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from app.demo import is_demo, write_demo
from app.errors import SegmapError
from app.items import Taxonomy, load_taxonomy
from app.progress import Work
from app.session import Session, open_source
from ui import errors
from ui.cases_model import Summaries, scanned_volumes, summed_up
from ui.pages.base import Page
from ui.pages.cases_page import CasesPage
from ui.remote_views import RemoteSourceBox
from ui.saved_work import Choice, how_to_open, saved_for
from ui.window import Window


def demo_folder() -> Path:
    """Where `segmap-gui --demo` writes the demo (the user's Documents folder)."""
    docs = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(docs or Path.home()) / "Segmap demo"


def _demo_then_open(folder: Path, taxonomy: Taxonomy | None) -> Work[tuple[Session, Taxonomy]]:
    if not is_demo(folder):
        yield from write_demo(folder, overwrite=False)
    tax = taxonomy or load_taxonomy(folder / "taxonomy.json")
    session = yield from open_source(folder, tax)
    session.taxonomy_path = folder / "taxonomy.json" if taxonomy is None else None
    return session, tax


class DropZone(QFrame):
    """A large target for dropping a folder or an items.json."""

    def __init__(self, on_drop: Any) -> None:
        super().__init__()
        self._on_drop = on_drop
        self.setAcceptDrops(True)
        self.setMinimumHeight(130)
        self.setStyleSheet("DropZone { border: 2px dashed palette(mid); border-radius: 10px; }"
                           "DropZone[hover=\"true\"] { border-color: palette(highlight); }")
        text = QLabel("Drop a folder of images and masks, or an items.json, here")
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        text.setStyleSheet("font-size: 15px;")
        hint = QLabel("DICOM series, NIfTI / NRRD volumes; nnU-Net, MSD, TotalSegmentator, "
                      "BraTS, KiTS and folder-per-case layouts are recognised")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setStyleSheet("color: #666;")
        lay = QVBoxLayout(self)
        lay.addStretch(1)
        lay.addWidget(text)
        lay.addWidget(hint)
        lay.addStretch(1)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if event.mimeData().hasUrls():
            self.setProperty("hover", True)
            self.style().polish(self)
            event.acceptProposedAction()

    def dragLeaveEvent(self, event: Any) -> None:  # noqa: N802 - Qt override
        self.setProperty("hover", False)
        self.style().polish(self)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        self.setProperty("hover", False)
        self.style().polish(self)
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self._on_drop(Path(urls[0]))


class SourcePage(Page):
    title = "Source"
    subtitle = ("Choose the images and masks to import, and the taxonomy of your RedBrick "
                "project. Segmap finds every series, pairs each mask with its image and "
                "suggests a category for every label.")

    def __init__(self, window: Window) -> None:
        super().__init__(window)
        self.drop = DropZone(self.open_path)
        self.layout_.addWidget(self.drop)

        buttons = QHBoxLayout()
        self.folder_button = QPushButton("Choose &folder…")
        self.folder_button.setToolTip("Open a folder of images and masks (Ctrl+O)")
        self.items_button = QPushButton("Open &items list…")
        self.items_button.setToolTip("Check and edit an existing items.json (Ctrl+Shift+O)")
        self.demo_button = QPushButton("Open the &demo")
        self.demo_button.setToolTip("Write a small synthetic CT with masks in all three import "
                                    f"shapes to {demo_folder()} and open it")
        for b in (self.folder_button, self.items_button, self.demo_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.layout_.addLayout(buttons)
        self.folder_button.clicked.connect(self._on_folder_clicked)
        self.items_button.clicked.connect(self._on_items_clicked)
        self.demo_button.clicked.connect(self.open_demo)
        QShortcut(QKeySequence("Ctrl+O"), self, self._on_folder_clicked)
        QShortcut(QKeySequence("Ctrl+Shift+O"), self, self._on_items_clicked)

        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        grid.addWidget(QLabel("<b>Taxonomy</b>"), 0, 0)
        self.taxonomy_label = QLabel()
        self.taxonomy_label.setWordWrap(True)
        grid.addWidget(self.taxonomy_label, 0, 1)
        tax_buttons = QHBoxLayout()
        self.taxonomy_button = QPushButton("Choose &taxonomy file…")
        self.taxonomy_button.setToolTip("A RedBrick taxonomy JSON, v1 or v2 (Ctrl+T)")
        self.taxonomy_button.clicked.connect(self._on_taxonomy_clicked)
        QShortcut(QKeySequence("Ctrl+T"), self, self._on_taxonomy_clicked)
        self.project_button = QPushButton("Load from RedBrick &project…")
        self.project_button.setToolTip("Read the taxonomy of a RedBrick project with your API key")
        self.project_button.clicked.connect(self._on_project_clicked)
        tax_buttons.addWidget(self.taxonomy_button)
        tax_buttons.addWidget(self.project_button)
        tax_buttons.addStretch(1)
        grid.addLayout(tax_buttons, 1, 1)
        grid.addWidget(QLabel("<b>Opened</b>"), 2, 0)
        self.opened_label = QLabel("Nothing yet.")
        self.opened_label.setWordWrap(True)
        self.opened_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        grid.addWidget(self.opened_label, 2, 1)
        grid.addWidget(QLabel("<b>RedBrick tasks</b>"), 3, 0, Qt.AlignmentFlag.AlignTop)
        self.remote_box = RemoteSourceBox(window, self._use_taxonomy)
        grid.addWidget(self.remote_box, 3, 1)
        self.layout_.addSpacing(8)
        self.layout_.addLayout(grid)

        # The scan's notes (why nothing paired, what was left out) live here too: with
        # no case Next is disabled, so the Cases page that also lists them is out of reach.
        self.notes_title = QLabel()
        self.notes_title.setWordWrap(True)
        self.notes_title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notes = QPlainTextEdit()
        self.notes.setReadOnly(True)  # selectable and copyable, not editable
        self.notes.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.notes.setMinimumHeight(120)
        self.notes.setToolTip("What the scan found and could not pair; select to copy")
        self.layout_.addSpacing(8)
        self.layout_.addWidget(self.notes_title)
        self.layout_.addWidget(self.notes, 1)
        self.notes_title.hide()
        self.notes.hide()

        self.layout_.addSpacing(8)
        self.layout_.addWidget(QLabel("<b>Recent folders</b> (double-click or Enter to open)"))
        self.recent = QListWidget()
        self.recent.setMaximumHeight(180)
        self.recent.itemActivated.connect(self._on_recent_activated)
        self.layout_.addWidget(self.recent)
        self._stretch = self.layout_.count()
        self.layout_.addStretch(1)
        self.state.taxonomyChanged.connect(self._show_taxonomy)
        self.state.sessionChanged.connect(self._show_opened)
        self._show_taxonomy()
        self._fill_recent()

    # ------------------------------------------------------------ handlers
    def _on_folder_clicked(self) -> None:
        start = self.state.settings.recent_folders()[:1] or [str(Path.home())]
        folder = QFileDialog.getExistingDirectory(self, "Folder of images and masks", start[0])
        if folder:
            self.open_path(Path(folder))

    def _on_items_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Items list", str(Path.home()),
                                              "Items list (*.json)")
        if path:
            self.open_path(Path(path))

    def _on_taxonomy_clicked(self) -> None:
        last = self.state.settings.last_taxonomy() or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "RedBrick taxonomy", last, "Taxonomy (*.json)")
        if path:
            self.load_taxonomy(Path(path))

    def _on_project_clicked(self) -> None:
        from ui.project_dialog import ProjectDialog

        dialog = ProjectDialog(self.window(), self.state)
        if dialog.exec() and dialog.taxonomy is not None:
            self._use_taxonomy(dialog.taxonomy)

    def _use_taxonomy(self, taxonomy: Taxonomy) -> None:
        """A RedBrick project's taxonomy becomes the one mapped to."""
        self.state.set_taxonomy(taxonomy, None)
        self._relabel()

    def _on_recent_activated(self, item: QListWidgetItem) -> None:
        self.open_path(Path(item.data(Qt.ItemDataRole.UserRole)))

    # --------------------------------------------------------------- actions
    def load_taxonomy(self, path: Path) -> None:
        try:
            tax = load_taxonomy(path)
        except SegmapError as exc:
            errors.show(exc, None, self)
            return
        self.state.set_taxonomy(tax, path)
        self.state.settings.set_last_taxonomy(path)
        self._relabel()

    def _relabel(self) -> None:
        """Re-suggest with the new taxonomy: reopen the current source, unless the user has
        mapped it already (that work stays; validation checks it against the new taxonomy)."""
        if self.state.session is not None and not self.state.dirty:
            self.open_path(self.state.session.source, go_on=False)

    def open_path(self, path: Path, go_on: bool = True) -> None:
        """Open a folder or items list; saved work on it is offered first, and mapping work
        on the open one is never replaced without asking."""
        choice = how_to_open(self, self.state, path)
        if choice is Choice.CANCEL:
            return
        if choice is Choice.CONTINUE:
            work = saved_for(self.state, path)
            if work is not None:
                try:
                    self.state.continue_work(work)
                except SegmapError as exc:
                    errors.show(exc, None, self)
                    return
                if go_on:
                    self.window_.go_to(2)
                return

        def done(result: tuple[Session, Summaries]) -> None:
            session, summaries = result
            self.window_.page(CasesPage).model.prepare(summaries)
            self.state.set_session(session)
            if path.is_dir():
                self.state.settings.add_recent_folder(path)
                self._fill_recent()
            if go_on and session.cases:  # no case: stay, so the notes say why
                self.window_.go_next()

        self.window_.run_work(summed_up(open_source(path, self.state.taxonomy)),
                              f"Opening {path.name}", done)

    def open_demo(self) -> None:
        folder = demo_folder()

        def done(result: tuple[Session, Taxonomy]) -> None:
            session, tax = result
            self.state.set_taxonomy(tax, folder / "taxonomy.json")
            self.state.set_session(session)
            self.state.settings.add_recent_folder(folder)
            self._fill_recent()
            self.window_.go_next()

        self.window_.run_work(_demo_then_open(folder, self.state.taxonomy), "Opening the demo",
                              done)

    # ------------------------------------------------------------------ view
    def _show_taxonomy(self) -> None:
        tax = self.state.taxonomy
        if tax is None:
            self.taxonomy_label.setText(
                "None chosen. You can still map by typing category names, but Segmap cannot "
                "check that they exist in your project.")
            return
        n = len(tax.segmentation_categories())
        where = str(self.state.taxonomy_path) if self.state.taxonomy_path else "RedBrick project"
        self.taxonomy_label.setText(f"{tax.name or 'taxonomy'} (v{tax.version}): {n} "
                                    f"segmentation categories — {where}")

    def _show_opened(self) -> None:
        s = self.state.session
        if s is None:
            self.opened_label.setText("Nothing yet.")
            self._show_notes(None, [])
            return
        shapes = ", ".join(sorted({c.shape for c in s.cases})) or "none"
        notes = f"; {len(s.messages)} note(s) below" if s.messages else ""
        self.opened_label.setText(f"{s.source}: {len(s.cases)} case(s), import shapes "
                                  f"{shapes}{notes}")
        self._show_notes(len(s.cases), s.messages)
        self.completeChanged.emit()

    def _show_notes(self, cases: int | None, messages: list[str]) -> None:
        """The scan's notes below what was opened: always when no case was found."""
        shown = cases == 0 or bool(messages)
        self.notes_title.setVisible(shown)
        self.notes.setVisible(shown)
        # The notes take the room the stretch below the recent folders had.
        self.layout_.setStretch(self._stretch, 0 if shown else 1)
        if not shown:
            self.notes.clear()
            return
        if cases == 0:
            self.notes_title.setText(
                ("<b>No case was found.</b> Next shows every file the scan found, where you "
                 "can say which is the image. What the scan found and why nothing was paired:")
                if scanned_volumes(self.state.session) else
                "<b>No case was found</b>, so Next stays disabled. What the scan found and "
                "why nothing was paired:" if messages else "<b>No case was found.</b>")
        else:
            self.notes_title.setText(f"<b>Notes from the scan</b> ({len(messages)}): files "
                                     "that were not paired or were left out")
        self.notes.setPlainText("\n".join(messages) if messages else
                                "Nothing Segmap reads was found here: DICOM series, NIfTI "
                                "(.nii, .nii.gz) or NRRD (.nrrd, .nhdr) volumes and masks.")

    def _fill_recent(self) -> None:
        self.recent.clear()
        if not self.state.settings.recent_folders():
            empty = QListWidgetItem("No folder opened yet. Try the demo: it writes a small "
                                    "synthetic CT with masks and opens it.")
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent.addItem(empty)
        for folder in self.state.settings.recent_folders():
            item = QListWidgetItem(folder)
            item.setData(Qt.ItemDataRole.UserRole, folder)
            if not Path(folder).is_dir():
                item.setForeground(Qt.GlobalColor.gray)
                item.setToolTip("This folder no longer exists")
            self.recent.addItem(item)

    def done(self) -> bool:
        """Done (the sidebar's check mark) when a source with at least one case is open."""
        return self.state.session is not None and bool(self.state.session.cases)

    def can_next(self) -> tuple[bool, str]:
        s = self.state.session
        if s is None:
            return False, "Open a folder or an items list first"
        if not s.cases and not scanned_volumes(s):
            return False, "No case was found in the source: see the notes on this page"
        return True, ""  # with volumes but no case: Cases lets the user say which is the image

