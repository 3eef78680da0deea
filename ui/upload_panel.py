"""Upload to RedBrick from the wizard: destination, options, per-task status, retry failed.

The API key comes from REDBRICK_API_KEY / the RedBrick CLI's credentials, or is
typed here; it is kept in memory only (never in settings, autosave or logs).
When the Source page chose tasks already in a RedBrick project, the action is to
attach the exported list's labels to them instead (``WizardState.remote``): in any
stage, or put into a Label stage, finalized or not; tasks that already have labels
are named and replaced only when the user says so.
"""

from __future__ import annotations

from collections.abc import Callable
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
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.errors import SegmapError
from app.items import load_items
from app.progress import Work
from app.upload import (
    DEFAULT_URL,
    LABEL_BRICK,
    Credentials,
    Destination,
    LabelOptions,
    LabelsWouldBeReplaced,
    RedBrickError,
    RemoteTask,
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

_SHOWN_REPLACED = 15  # tasks named in the question before labels are replaced
STATE_COLOUR = {TaskState.CREATED: (220, 240, 220), TaskState.EXISTING: (230, 240, 230),
                TaskState.ATTACHED: (220, 240, 220), TaskState.ATTACHED_BEFORE: (230, 240, 230),
                TaskState.READY: (230, 240, 250), TaskState.FAILED: (250, 215, 212),
                TaskState.CANCELLED: (240, 240, 240)}


class UploadPanel(QGroupBox):
    """The Upload section of the Export page."""

    def __init__(self, window: Window, parent: QWidget | None = None) -> None:
        super().__init__("Upload to RedBrick AI", parent)
        self.window_ = window
        self.remote = window.state.remote
        self.items_path: Path | None = None
        self.report: UploadReport | None = None
        self._attached = False  # the report is an attach's (its retry attaches again)
        self._only: frozenset[int] | None = None  # the tasks the running attach is for
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
        self._flags = flags
        self.stage = QComboBox()
        self.stage.setToolTip("Any stage: labels go onto each task where it is "
                              "(update_tasks_labels); a Label stage: put there as its annotator "
                              "would (put_tasks; tasks queued there and assigned to you)")
        self.finalize = QCheckBox("finalize (submit the tasks)")
        self.stage.currentIndexChanged.connect(self._on_stage_changed)
        self._stage_row = QHBoxLayout()
        self._stage_row.addWidget(self.stage)
        self._stage_row.addWidget(self.finalize)
        self._stage_row.addStretch(1)
        form.addRow("Stage", self._stage_row)
        self._form = form
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
        self.remote.tasksChanged.connect(self._on_remote_tasks_changed)
        self.remote.matchChanged.connect(self._show_mode)
        self._on_remote_tasks_changed()

    def set_items_path(self, path: Path) -> None:
        self.items_path = path
        self._show_mode()
        self._say_ready()

    def _say_ready(self) -> None:
        if self.items_path is None:
            return
        name = self.items_path.name
        project = self.remote.project
        self.status.setText(f"Ready to attach the labels of {name} to tasks in "
                            f"{project.name}." if project is not None and self.remote.chosen
                            else f"Ready to upload {name}.")

    # ------------------------------------------------------------------- mode
    def _on_remote_tasks_changed(self) -> None:
        """Tasks already in RedBrick chosen (or forgotten): attach to them, or upload."""
        dest, attaching = self.remote.destination, self.remote.chosen
        if attaching and dest is not None:
            for edit, text in ((self.url, dest.url), (self.org, dest.org_id),
                               (self.project, dest.project_id)):
                edit.setText(text)
        for edit in (self.url, self.org, self.project):
            edit.setReadOnly(attaching)  # the project whose tasks were listed and matched
        self.key.setPlaceholderText(
            "using the key the tasks were listed with" if attaching else
            f"using the key from {self._stored.source}" if self._stored else
            "your API key (kept in memory only)")
        chosen = self.stage.currentData()
        self.stage.clear()
        self.stage.addItem("any stage (where each task is)", None)
        project = self.remote.project
        for name, brick in project.stages if project is not None else ():
            if brick == LABEL_BRICK:  # put_tasks puts labels into Label stages only
                self.stage.addItem(name, name)
        self.stage.setCurrentIndex(max(0, self.stage.findData(chosen)))
        for w in (self.storage, self.ground_truth):
            w.setVisible(not attaching)  # the images are in RedBrick already
        label = self._form.labelForField(self._flags)
        if isinstance(label, QLabel):
            label.setText("Options" if attaching else "Storage, options")
        self._form.setRowVisible(self._stage_row, attaching)
        self._show_mode()
        if self.report is None:
            self._say_ready()

    def _show_mode(self) -> None:
        ready = self.items_path is not None
        if not self.remote.chosen:
            self.upload_button.setText("&Upload")
            self.upload_button.setEnabled(ready)
            return
        n = len(self.remote.matched())
        self.upload_button.setText("&Attach labels (matching…)" if self.remote.matching
                                   else f"&Attach labels to {n} task(s)")
        self.upload_button.setEnabled(ready and n > 0 and not self.remote.matching)
        self.upload_button.setToolTip("Attach the exported list's labels to the tasks the Cases "
                                      "page matched (resumes an interrupted run without "
                                      "attaching twice)")

    def _on_stage_changed(self, _index: int) -> None:
        # As the SDK: put_tasks into a Label stage submits; update_tasks_labels does not.
        self.finalize.setChecked(self.stage.currentData() is not None)

    # ---------------------------------------------------------------- actions
    def _credentials(self) -> Credentials:
        return typed_or_stored(self.key.text(), self._stored)

    def _on_upload_clicked(self) -> None:
        if self.remote.chosen:
            self.attach(None)
        else:
            self.start(None)

    def _on_retry_clicked(self) -> None:
        if self.report is None:
            return
        if self._attached:
            self.attach(frozenset(t.index for t in self.report.tasks if not t.ok))
        else:
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
            self._refused("Not uploaded", exc)
            return
        self._attached = False
        self._run(upload(items, destination, creds, options), "Uploading", self._on_done,
                  self._on_failed)

    def attach(self, only: frozenset[int] | None, replace: bool = False) -> None:
        """Attach the exported list's labels to the matched tasks (``only`` these indices
        of the list, when given); ``replace`` only after the user said so."""
        if self.items_path is None:
            return
        try:
            creds = typed_or_stored(self.key.text(), self.remote.credentials or self._stored)
            options = LabelOptions(stage=self.stage.currentData(),
                                   finalize=self.finalize.isChecked(),
                                   label_validate=self.label_validate.isChecked(),
                                   prune=self.prune.isChecked(), replace=replace)
            work = self.remote.attaching(load_items(self.items_path), options, only, creds)
        except SegmapError as exc:
            self._refused("Not attached", exc)
            return
        self._attached, self._only = True, only
        self._run(work, "Attaching labels", self._on_attached, self._on_attach_failed)

    def _refused(self, what: str, exc: SegmapError) -> None:
        """Input the run cannot start with: said here and in the error dialog."""
        self.status.setText(f"{what}: {exc.message}")
        errors.show(exc, None, self)

    def _run(self, work: Work[UploadReport], label: str,
             on_done: Callable[[UploadReport], None],
             on_failed: Callable[[BaseException, str], None]) -> None:
        """Run an upload or attach in the window (progress, Cancel), its tasks in the table."""
        self.retry_button.setEnabled(False)
        self.status.setText(f"{label}…")
        worker = self.window_.run_work(work, label, on_done, on_cancel=self._on_cancelled,
                                       on_failed=on_failed)
        if worker is not None:
            worker.stepped.connect(self._on_step)

    def _on_attached(self, report: UploadReport) -> None:
        self._on_done(report)
        work, creds = self.remote.listing(refresh=True), self.remote.credentials
        if work is not None and creds is not None:  # their labels and stages are new now
            self.window_.run_work(work, "Listing the project's tasks again",
                                  lambda listed: self.remote.set_listed(listed, creds))

    def _on_attach_failed(self, exc: BaseException, tb: str) -> None:
        if not isinstance(exc, LabelsWouldBeReplaced):
            self._on_failed(exc, tb)
        elif self.confirm_replace(exc.tasks):
            self.attach(self._only, replace=True)
        else:
            self.status.setText(f"Not attached: {len(exc.tasks)} task(s) have labels you chose "
                                "to keep; nothing was sent.")

    def confirm_replace(self, tasks: list[RemoteTask]) -> bool:
        """Ask before RedBrick replaces the labels ``tasks`` have; True on Replace."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Replace labels in RedBrick?",
                          f"{len(tasks)} of the matched task(s) already have labels in "
                          "RedBrick. Attaching replaces their labels with this list's:",
                          QMessageBox.StandardButton.Cancel, self)
        names = [f"• {t.name} ({t.stage or 'no stage'})" for t in tasks[:_SHOWN_REPLACED]]
        if len(tasks) > _SHOWN_REPLACED:
            names.append(f"… and {len(tasks) - _SHOWN_REPLACED} more")
        box.setInformativeText("\n".join(names))
        replace = box.addButton("&Replace their labels", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is replace

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
        again = "Attach" if self._attached else "Upload"
        self.status.setText(f"Cancelled. {again} again to resume: finished tasks and files are "
                            "not sent twice.")
        self.retry_button.setEnabled(False)

    def _on_failed(self, exc: BaseException, tb: str) -> None:
        what = "Attaching labels" if self._attached else "Upload"
        if isinstance(exc, UploadBlocked):
            self.status.setText(f"Not {'attached' if self._attached else 'uploaded'}: "
                                f"{exc.message} ({len(exc.findings)} error(s); see the Validate "
                                "page).")
            return
        if isinstance(exc, SegmapError):
            # One sentence: what failed and why; what to do is the dialog's hint, and the
            # library's own text (``HTTPSConnectionPool(...)``) only in its details.
            self.status.setText(f"{what} failed: {exc.message}")
            detail = exc.detail if isinstance(exc, RedBrickError) else None
            errors.show(exc, f"{detail}\n\n{tb}" if detail else tb, self)
            return
        self.status.setText(f"{what} failed: an internal error ({type(exc).__name__}); "
                            "the details are in the message.")
        errors.show(exc, tb, self)
