"""Page 6, Export: write items.json (atomically) with paths relative to a chosen root; upload."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
)

from app.errors import SegmapError
from app.export import ExportSummary
from ui import errors
from ui.pages.base import Page
from ui.pages.validate_page import ValidatePage
from ui.upload_panel import UploadPanel
from ui.window import Window


class ExportPage(Page):
    title = "Export"
    subtitle = ("Write the items list for RedBrick (`redbrick upload ITEMS.json`), or upload it "
                "directly. Paths are written relative to the root folder, as RedBrick's CLI "
                "resolves them against the items list's folder.")

    def __init__(self, window: Window) -> None:
        super().__init__(window)
        box = QGroupBox("Items list")
        grid = QGridLayout(box)
        grid.setColumnStretch(1, 1)
        self.path_edit = QLineEdit()
        self.path_edit.setToolTip("Where items.json is written")
        self.path_edit.textChanged.connect(self._on_path_changed)
        browse = QPushButton("&Browse…")
        browse.clicked.connect(self._on_browse_clicked)
        self.root_edit = QLineEdit()
        self.root_edit.setPlaceholderText("the items list's folder (what RedBrick's CLI expects)")
        self.root_edit.setToolTip("Paths in the items list are written relative to this folder")
        self.root_edit.textChanged.connect(self._on_root_changed)
        browse_root = QPushButton("Ch&oose…")
        browse_root.clicked.connect(self._on_browse_root_clicked)
        grid.addWidget(QLabel("Write to"), 0, 0)
        grid.addWidget(self.path_edit, 0, 1)
        grid.addWidget(browse, 0, 2)
        grid.addWidget(QLabel("Paths relative to"), 1, 0)
        grid.addWidget(self.root_edit, 1, 1)
        grid.addWidget(browse_root, 1, 2)
        self.root_note = QLabel()
        self.root_note.setWordWrap(True)
        self.root_note.setStyleSheet("color: #9a5b00;")
        grid.addWidget(self.root_note, 2, 1)
        buttons = QHBoxLayout()
        self.export_button = QPushButton("&Export items.json")
        self.export_button.setToolTip("Write the items list (Ctrl+S)")
        self.export_button.clicked.connect(self.export)
        QShortcut(QKeySequence("Ctrl+S"), self, self.export)
        self.open_button = QPushButton("Open &folder")
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self._on_open_folder_clicked)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        grid.addLayout(buttons, 3, 1)
        self.result = QLabel()
        self.result.setWordWrap(True)
        grid.addWidget(self.result, 4, 1)
        self.layout_.addWidget(box)
        self.upload = UploadPanel(window, self)
        self.layout_.addWidget(self.upload, 1)
        self.written: ExportSummary | None = None
        self.state.sessionChanged.connect(self._on_session_changed)
        self.state.mappingChanged.connect(lambda _: self._forget_written())
        self.state.casesChanged.connect(self._forget_written)

    def _on_session_changed(self) -> None:
        s = self.state.session
        if s is None:
            return
        default = s.source if s.source.suffix.lower() == ".json" else s.source / "items.json"
        if default.suffix.lower() == ".json" and default.exists() and s.source.is_dir():
            default = s.source / "items.segmap.json"
        self.path_edit.setText(str(default))
        self.root_edit.clear()
        self._forget_written()

    def _forget_written(self) -> None:
        if self.written is not None:
            self.result.setText(f"{self.result.text()}<br><i>Changed since; export again to "
                                "write the changes.</i>")
        self.written = None

    def _on_path_changed(self, _text: str) -> None:
        self._on_root_changed(self.root_edit.text())

    def _on_root_changed(self, text: str) -> None:
        path = Path(self.path_edit.text()).expanduser()
        root = Path(text).expanduser() if text.strip() else None
        self.root_note.setText(
            "" if root is None or root.resolve() == path.parent.resolve() else
            "RedBrick's CLI resolves relative paths against the items list's own folder: "
            "copy the list into this root folder before uploading it from there.")

    def _on_browse_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Write items list", self.path_edit.text(),
                                              "Items list (*.json)")
        if path:
            self.path_edit.setText(path)

    def _on_browse_root_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Root folder", self.root_edit.text() or str(Path(self.path_edit.text()).parent))
        if folder:
            self.root_edit.setText(folder)

    def _on_open_folder_clicked(self) -> None:
        if self.written is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.written.path.parent)))

    def export(self) -> ExportSummary | None:
        session = self.state.session
        text = self.path_edit.text().strip()
        if session is None or not text:
            return None
        validate = self.window_.page(ValidatePage)
        ok, why = validate.can_next()
        if not ok:
            self.result.setText(f"<span style='color:#a0281e'>Not exported: {why} "
                                "(Validate page).</span>")
            return None
        try:
            summary = session.export(Path(text), self.root_edit.text().strip() or None)
        except SegmapError as exc:
            errors.show(exc, None, self)
            return None
        except OSError as exc:
            errors.show(SegmapError(f"Cannot write {text}: {exc.strerror or exc}",
                                          "Choose a folder you can write to."), None, self)
            return None
        self.written = summary
        # Exported: the autosave has done its job (a later edit writes a new one).
        self.state.discard_autosave()
        self.open_button.setEnabled(True)
        self.result.setText(
            f"<span style='color:#2a6f2a'>Wrote <b>{summary.path}</b></span>: {summary.tasks} "
            f"task(s), {summary.series} series, {summary.segmentation_files} segmentation "
            f"file(s); paths relative to {summary.root}.<br>Upload it with "
            f"<code>redbrick upload {summary.path.name}</code> from its folder, or below.")
        self.upload.set_items_path(summary.path)
        return summary
