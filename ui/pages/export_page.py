"""Page 6, Export: write items.json (atomically) with paths relative to a chosen root; upload.

The default target is a folder beside the source (``<source>-segmap/items.json``): the
source may be read-only or shared data. DICOM files RedBrick refuses for their names
(no ``.dcm``) are offered to be written under ``.dcm`` names beside the list, ticked.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
)

from app.errors import SegmapError
from app.export import ExportSummary, LinkMode, dicom_to_rename
from app.items import RENAMED_FOLDER
from app.session import SEG_FOLDER, TABLE_FOLDER, Session, StandardLabels, export_standard_labels
from ui import errors, saved_work
from ui.pages.base import Page
from ui.pages.validate_page import ValidatePage
from ui.saved_work import Choice
from ui.upload_panel import UploadPanel
from ui.window import Window


class ExportPage(Page):
    title = "Export"
    subtitle = ("Write the items list for RedBrick (`redbrick upload ITEMS.json`), or upload it "
                "directly. It goes into a folder beside the source (never into it), with paths "
                "relative to the list's own folder, as RedBrick's CLI resolves them.")

    def __init__(self, window: Window) -> None:
        super().__init__(window)
        box = QGroupBox("Items list")
        grid = QGridLayout(box)
        grid.setColumnStretch(1, 1)
        self.path_edit = QLineEdit()
        self.path_edit.setToolTip("Where items.json is written")
        self.path_edit.textChanged.connect(self._on_path_changed)
        browse = QPushButton("Bro&wse…")  # Alt+B is Back
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
        self.dcm_names = QCheckBox()
        self.dcm_names.setChecked(True)
        self.dcm_names.setToolTip(
            "RedBrick refuses DICOM files whose names do not end in .dcm (PACS exports named "
            f"by UID). Writes each under its name plus .dcm into {RENAMED_FOLDER}/ beside the "
            "items list and points the list there; your files are not touched.")
        self.dcm_mode = QComboBox()
        for mode, text in ((LinkMode.HARDLINK, "as hard links (no space used)"),
                           (LinkMode.SYMLINK, "as symbolic links"),
                           (LinkMode.COPY, "as copies")):
            self.dcm_mode.addItem(text, mode)
        self.dcm_mode.setToolTip("Links fall back to copies where they cannot be made "
                                 "(another disk)")
        self.dcm_names.toggled.connect(self.dcm_mode.setEnabled)
        names_row = QHBoxLayout()
        names_row.addWidget(self.dcm_names)
        names_row.addWidget(self.dcm_mode)
        names_row.addStretch(1)
        grid.addLayout(names_row, 3, 1)
        self.sign_offs = QCheckBox("Write each case's sign-off into its task's metaData "
                                   "(segmapReview, comment, who, when)")
        self.sign_offs.setToolTip(
            "The reviewer's word from the Preview page, for RedBrick's viewer and for "
            "whoever reads the tasks later. Cases not reviewed get nothing.")
        grid.addWidget(self.sign_offs, 4, 1)
        self.dicom_seg = QCheckBox(f"Also write each case with a DICOM series as a DICOM SEG "
                                   f"of it ({SEG_FOLDER}/)")
        self.dicom_seg.setToolTip(
            "The labels RedBrick will receive, as a DICOM Segmentation that references the "
            "case's series, with SNOMED CT codes from the category names: for PACS, OHIF "
            "and 3D Slicer.")
        self.label_tables = QCheckBox(f"Also write each case's label table for 3D Slicer "
                                      f"and ITK-SNAP ({TABLE_FOLDER}/)")
        self.label_tables.setToolTip(
            "A Slicer colour table (.csv, with terminology codes) and an ITK-SNAP label "
            "description (.label.txt): value, name and colour of every label.")
        standard = QVBoxLayout()
        standard.addWidget(self.dicom_seg)
        standard.addWidget(self.label_tables)
        grid.addLayout(standard, 5, 1)
        self._to_rename = 0
        self._show_dcm_names()
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
        grid.addLayout(buttons, 6, 1)
        self.result = QLabel()
        self.result.setWordWrap(True)
        grid.addWidget(self.result, 7, 1)
        self.layout_.addWidget(box)
        self.upload = UploadPanel(window, self)
        self.layout_.addWidget(self.upload, 1)
        self.written: ExportSummary | None = None
        self.state.sessionChanged.connect(self._on_session_changed)
        self.state.mappingChanged.connect(lambda _: self._forget_written())
        self.state.casesChanged.connect(self._forget_written)
        self.state.casesChanged.connect(self._count_dcm_names_if_shown)

    def enter(self) -> None:
        self._count_dcm_names()

    def _on_session_changed(self) -> None:
        s = self.state.session
        if s is None:
            return
        self.path_edit.setText(str(default_target(s.source)))
        self.root_edit.clear()  # paths relative to the list's own folder
        self._forget_written()
        self._count_dcm_names_if_shown()

    def _count_dcm_names_if_shown(self) -> None:
        """Count now if this page is shown, else when it is (``enter``): counting copies
        every included task, 1.3 s of opening a 10,000-case folder on another page."""
        if self.isVisible():
            self._count_dcm_names()

    def _count_dcm_names(self) -> None:
        """How many included images RedBrick refuses for their names (the offer shows then)."""
        s = self.state.session
        self._to_rename = len(dicom_to_rename(s.included_items())) if s is not None else 0
        self._show_dcm_names()

    def _show_dcm_names(self) -> None:
        n = self._to_rename
        self.dcm_names.setText(f"Write the {n} DICOM file(s) without .dcm under .dcm names "
                               f"(RedBrick refuses their names) into {RENAMED_FOLDER}/")
        for w in (self.dcm_names, self.dcm_mode):
            w.setVisible(n > 0)
        self.dcm_mode.setEnabled(self.dcm_names.isChecked())

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
        names = LinkMode(self.dcm_mode.currentData()) if self._to_rename and \
            self.dcm_names.isChecked() else None  # Qt hands the enum back as its text
        question = session.replace_question(Path(text))
        if question is not None and saved_work.ask(
                self, f"Replace {Path(text).name}?", question,
                [("Cancel", QMessageBox.ButtonRole.RejectRole, Choice.CANCEL),
                 ("Replace it", QMessageBox.ButtonRole.DestructiveRole, Choice.REPLACE)]
        ) is not Choice.REPLACE:
            self.result.setText("Not exported: the file there was kept. Choose another "
                                "name, or export again and replace it.")
            return None
        try:
            summary = session.export(Path(text), self.root_edit.text().strip() or None,
                                     dcm_names=names, replace=question is not None,
                                     sign_offs_in_metadata=self.sign_offs.isChecked())
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
        self.completeChanged.emit()  # the step is done, however the export was asked for
        self.open_button.setEnabled(True)
        self.result.setText(
            f"<span style='color:#2a6f2a'>Wrote <b>{summary.path}</b></span>: {summary.tasks} "
            f"task(s), {summary.series} series, {summary.segmentation_files} segmentation "
            f"file(s); paths relative to {summary.root}."
            + "".join(f"<br>{t}" for t in (summary.converted_text(), summary.renamed_text())
                      if t)
            + f"<br>Upload it with <code>{summary.upload_command}</code> from its "
            "folder, or below.")
        self.upload.set_items_path(summary.path)
        self._write_standard_labels(session, summary.path.parent)
        return summary

    def _write_standard_labels(self, session: Session, folder: Path) -> None:
        """The DICOM SEGs and label tables asked for, beside the items list, on a worker."""
        if not (self.dicom_seg.isChecked() or self.label_tables.isChecked()):
            return
        work = export_standard_labels(session.frozen(), folder,
                                      dicom_seg=self.dicom_seg.isChecked(),
                                      tables=self.label_tables.isChecked())
        self.window_.run_work(work, "Writing DICOM SEG and label tables",
                              self._on_standard_written)

    def _on_standard_written(self, done: StandardLabels) -> None:
        lines = []
        if done.segs:
            lines.append(f"{len(done.segs)} DICOM SEG(s) in {done.segs[0].parent}")
        if done.tables:
            lines.append(f"{len(done.tables)} label table(s) in {done.tables[0].parent}")
        lines += [f"<span style='color:#9a5b00'>Left out: {html.escape(why)}</span>"
                  for why in done.skipped]
        self.result.setText(self.result.text() + "".join(f"<br>{t}" for t in lines))


def default_target(source: Path) -> Path:
    """Where the items list goes unless the user says: a folder beside the source, never
    inside it (it may be read-only, or shared data): ``/data/ct`` -> ``/data/ct-segmap/
    items.json``; an items list ``/data/ct/items.json`` -> ``/data/ct-segmap/items.json``."""
    folder = source.parent if source.suffix.lower() == ".json" else source
    name = source.name if source.suffix.lower() == ".json" else "items.json"
    base = folder.resolve() if folder.name in ("", ".", "..") else folder
    return base.parent / f"{base.name or 'segmap'}-segmap" / name
