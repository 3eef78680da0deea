"""Upload to RedBrick from the wizard: destination, options, per-task status, retry failed.

The API key comes from REDBRICK_API_KEY / the RedBrick CLI's credentials, or is
typed here; it is kept in memory only (never in settings, autosave or logs).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.errors import SegmapError
from app.items import load_items
from app.upload import (
    DEFAULT_URL,
    Credentials,
    Destination,
    RedBrickError,
    TaskResult,
    TaskState,
    UploadBlocked,
    UploadOptions,
    UploadProgress,
    UploadReport,
    parse_storage,
    typed_or_stored,
    upload,
)
from ui import errors
from ui.project_dialog import stored_credentials
from ui.window import Window

STATE_COLOUR = {TaskState.CREATED: (220, 240, 220), TaskState.EXISTING: (230, 240, 230),
                TaskState.READY: (230, 240, 250), TaskState.FAILED: (250, 215, 212),
                TaskState.CANCELLED: (240, 240, 240)}


class UploadPanel(QGroupBox):
    """The Upload section of the Export page."""

    def __init__(self, window: Window, parent: QWidget | None = None) -> None:
        super().__init__("Upload to RedBrick AI", parent)
        self.window_ = window
        self.items_path: Path | None = None
        self.report: UploadReport | None = None
        stored = stored_credentials()
        self._stored = stored
        self.url = QLineEdit((stored.url if stored else None) or DEFAULT_URL)
        self.org = QLineEdit((stored.org_id if stored else None) or "")
        self.org.setPlaceholderText("organization UUID (from your RedBrick address)")
        self.project = QLineEdit()
        self.project.setPlaceholderText("project UUID")
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText(f"using the key from {stored.source}" if stored
                                    else "your API key (kept in memory only)")
        self.storage = QComboBox()
        self.storage.setEditable(True)
        self.storage.addItems(["redbrick", "public"])
        self.storage.setToolTip("redbrick: upload the image files; public or a storage UUID: "
                                "items are URLs / paths in your storage")
        self.label_validate = QCheckBox("label-validate")
        self.label_validate.setToolTip("Fail a task whose file values and segmentMap ids differ")
        self.prune = QCheckBox("prune")
        self.prune.setToolTip("Drop unmapped values and ids in no file")
        self.ground_truth = QCheckBox("ground truth")
        form = QFormLayout()
        form.addRow("RedBrick URL", self.url)
        form.addRow("Organization", self.org)
        form.addRow("Project", self.project)
        form.addRow("API key", self.key)
        flags = QHBoxLayout()
        flags.addWidget(self.storage)
        for w in (self.label_validate, self.prune, self.ground_truth):
            flags.addWidget(w)
        flags.addStretch(1)
        form.addRow("Storage, options", flags)
        self.upload_button = QPushButton("&Upload")
        self.upload_button.setToolTip("Upload the exported items list (resumes an interrupted "
                                      "upload without creating any task twice)")
        self.upload_button.clicked.connect(self._on_upload_clicked)
        self.retry_button = QPushButton("&Retry failed")
        self.retry_button.setEnabled(False)
        self.retry_button.clicked.connect(self._on_retry_clicked)
        self.status = QLabel("Export the items list first; the upload sends what was exported.")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.upload_button)
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.status, 1)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Task", "Status", "Details"])
        self.table.verticalHeader().setVisible(False)
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addLayout(buttons)
        lay.addWidget(self.table, 1)
        self.upload_button.setEnabled(False)

    def set_items_path(self, path: Path) -> None:
        self.items_path = path
        self.upload_button.setEnabled(True)
        self.status.setText(f"Ready to upload {path.name}.")

    # ---------------------------------------------------------------- actions
    def _credentials(self) -> Credentials:
        return typed_or_stored(self.key.text(), self._stored)

    def _on_upload_clicked(self) -> None:
        self.start(None)

    def _on_retry_clicked(self) -> None:
        if self.report is not None:
            self.start(frozenset(self.report.failed_names()))

    def start(self, only: frozenset[str] | None) -> None:
        if self.items_path is None:
            return
        try:
            creds = self._credentials()
            org, project = self.org.text().strip(), self.project.text().strip()
            if not org or not project:
                raise SegmapError("Enter the organization and project IDs.",
                                  "They are the UUIDs in the project's RedBrick address.")
            # Checks that both are UUIDs: a typo is said here, not after network retries.
            destination = Destination(self.url.text().strip() or DEFAULT_URL, org, project)
            options = UploadOptions(storage=parse_storage(self.storage.currentText()),
                                    label_validate=self.label_validate.isChecked(),
                                    prune=self.prune.isChecked(),
                                    ground_truth=self.ground_truth.isChecked(), only=only)
            items = load_items(self.items_path)
        except SegmapError as exc:
            self.status.setText(f"Not uploaded: {exc.message}")
            errors.show(exc, None, self)
            return
        self.retry_button.setEnabled(False)
        self.status.setText("Uploading…")
        worker = self.window_.run_work(upload(items, destination, creds, options),
                                       "Uploading", self._on_done, on_cancel=self._on_cancelled,
                                       on_failed=self._on_failed)
        if worker is not None:
            worker.stepped.connect(self._on_step)

    # --------------------------------------------------------------- results
    def _on_step(self, step: object) -> None:
        if isinstance(step, UploadProgress):
            self._show_tasks(step.tasks)
            self.status.setText(step.message)

    def _show_tasks(self, tasks: tuple[TaskResult, ...] | list[TaskResult]) -> None:
        self.table.setRowCount(len(tasks))
        for n, t in enumerate(tasks):
            detail = t.error or (f"task {t.task_id}" if t.task_id else "")
            if not detail and t.files_total:
                detail = f"{t.files_done}/{t.files_total} files"
            for col, text in enumerate((t.name, str(t.state), detail)):
                item = QTableWidgetItem(text)
                colour = STATE_COLOUR.get(t.state)
                if colour:
                    item.setBackground(QBrush(QColor(*colour)))
                    item.setForeground(QBrush(QColor(20, 20, 20)))
                if col == 2 and t.error:
                    item.setToolTip(t.error)
                self.table.setItem(n, col, item)

    def _on_done(self, report: UploadReport) -> None:
        self.report = report
        self._show_tasks(report.tasks)
        self.status.setText(("Done: " if report.ok else "Finished with problems: ")
                            + report.summary() + "".join(f"\n{n}" for n in report.notes))
        self.retry_button.setEnabled(not report.ok)

    def _on_cancelled(self) -> None:
        self.status.setText("Cancelled. Upload again to resume: finished tasks and files are "
                            "not sent twice.")
        self.retry_button.setEnabled(False)

    def _on_failed(self, exc: BaseException, tb: str) -> None:
        if isinstance(exc, UploadBlocked):
            self.status.setText(f"Not uploaded: {exc.message} ({len(exc.findings)} error(s); "
                                "see the Validate page).")
            return
        if isinstance(exc, SegmapError):
            # One sentence: what failed and why; what to do is the dialog's hint, and the
            # library's own text (``HTTPSConnectionPool(...)``) only in its details.
            self.status.setText(f"Upload failed: {exc.message}")
            detail = exc.detail if isinstance(exc, RedBrickError) else None
            errors.show(exc, f"{detail}\n\n{tb}" if detail else tb, self)
            return
        self.status.setText(f"Upload failed: an internal error ({type(exc).__name__}); "
                            "the details are in the message.")
        errors.show(exc, tb, self)
