"""Page 5, Validate: everything RedBrick would reject or silently get wrong, by case.

Errors block the export; warnings can be accepted explicitly. Selecting a finding
goes to its case and label on the Mapping page. Report… writes the dataset report
(``app.report.write_report``) into a folder and offers to open it. Findings are worded for the command
line too; here their hints speak of the wizard (``wizard_text``).
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QBrush, QColor, QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
)

from app.validate import Finding, Severity, counts
from ui.mapping_model import swatch
from ui.pages.base import Page
from ui.pages.mapping_page import MappingPage
from ui.window import Window

if TYPE_CHECKING:
    from app.report import ReportSummary

SEVERITY_COLOUR = {Severity.ERROR: (192, 48, 40), Severity.WARNING: (214, 140, 0),
                   Severity.INFO: (110, 130, 160)}
_PICK = "Select a finding to read it in full."

# What a finding tells a command-line user to do, as the wizard does it (until findings
# carry a hint for each surface). RedBrick's own CLI options are named for what they
# are: the upload's options on the Export page.
_WIZARD_WORDS = (
    (re.compile(r"Pass --taxonomy \S+"), "Choose a taxonomy on the Source page."),
    (re.compile(r"RedBrick's --prune-segmentations"),
     "the upload's prune option on the Export page"),
    (re.compile(r"\b([Ww])ith --label-validate"), r"\1ith the upload's label-validate option"),
    (re.compile(r"\buse --prune to"), "tick the upload's prune option to"),
    # "(Export page, or segmap export --dcm-names)": the wizard's way is the first.
    (re.compile(r",? or `?segmap [a-z-]+(?: [^\s,;)`]+)*`?(?=\))"), ""),
)


def wizard_text(message: str) -> str:
    """A finding's message with its command-line hints in the wizard's terms."""
    for pattern, words in _WIZARD_WORDS:
        message = pattern.sub(words, message)
    return message


class ValidatePage(Page):
    title = "Validate"
    subtitle = ("Segmap checks the items list as RedBrick would: missing files, unmapped "
                "values, categories outside the taxonomy, masks that do not fit the image, "
                "overlaps. Errors must be fixed; warnings can be accepted.")

    def __init__(self, window: Window) -> None:
        super().__init__(window)
        bar = QHBoxLayout()
        self.summary = QLabel()
        self.summary.setStyleSheet("font-weight: 600;")
        bar.addWidget(self.summary, 1)
        self.rerun = QPushButton("&Validate again")
        self.rerun.setToolTip("Check everything again (F5)")
        self.rerun.setShortcut("F5")
        self.rerun.clicked.connect(self.run)
        bar.addWidget(self.rerun)
        self.report_button = QPushButton("Re&port…")
        self.report_button.setToolTip("Write the dataset report (index.html with thumbnails, "
                                      "volumes, findings and sign-offs) into a folder")
        self.report_button.clicked.connect(self._on_report_clicked)
        bar.addWidget(self.report_button)
        self.layout_.addLayout(bar)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Finding", "Code", "File", "Value"])
        head = self.tree.header()
        head.setStretchLastSection(False)
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in (1, 2, 3):
            head.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
        self.tree.setToolTip("Enter or double-click goes to the case and label")
        self.tree.itemActivated.connect(self._on_tree_item_activated)
        self.tree.currentItemChanged.connect(self._on_tree_current_changed)
        self.detail = QLabel(_PICK)
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setMinimumHeight(60)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.detail.setStyleSheet("background: palette(base); border: 1px solid palette(mid);"
                                  " padding: 6px;")
        self.layout_.addWidget(self.tree, 1)
        self.layout_.addWidget(self.detail)
        self.accept_warnings = QCheckBox("I have read the &warnings and want to export anyway")
        self.accept_warnings.toggled.connect(lambda _: self.completeChanged.emit())
        self.layout_.addWidget(self.accept_warnings)
        self.findings: list[Finding] | None = None
        self._stale = True
        for signal in (self.state.sessionChanged, self.state.casesChanged,
                       self.state.taxonomyChanged):
            signal.connect(self._mark_stale)
        self.state.mappingsChanged.connect(self._mark_stale)  # once per edit, not per case

    def _mark_stale(self, *_: object) -> None:
        """The list changed: what was found is about another list; it goes, with its detail."""
        self._stale = True
        self.accept_warnings.setChecked(False)
        self.accept_warnings.setVisible(False)
        if self.findings is not None:
            self.tree.clear()
            self.summary.setText("The items list changed since it was validated: validate "
                                 "again (F5).")
            self.summary.setStyleSheet("font-weight: 600; color: #555;")
        self.detail.setText(_PICK)
        self.completeChanged.emit()

    def enter(self) -> None:
        if self._stale:
            self.run()
        self.tree.setFocus()

    def run(self) -> None:
        session = self.state.session
        if session is None:
            return
        self.summary.setText("Validating…")
        self.summary.setStyleSheet("font-weight: 600;")
        self.tree.clear()
        self.detail.setText(_PICK)
        self.window_.run_work(session.validate_work(), "Validating", self._on_validated,
                              on_cancel=lambda: self.summary.setText("Validation cancelled."))

    def _on_report_clicked(self) -> None:
        session = self.state.session
        if session is None:
            return
        start = session.source if session.source.is_dir() else session.source.parent
        folder = QFileDialog.getExistingDirectory(self, "Write the dataset report into",
                                                  str(start))
        if not folder:
            return
        question = session.replace_question(Path(folder) / "index.html")
        replace = QMessageBox.StandardButton.Yes
        if question is not None and QMessageBox.warning(
                self, "Replace index.html?", question,
                replace | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel) != replace:
            return
        from app.report import write_report  # the report's code loads when it is asked for

        path = self.state.taxonomy_path
        # A frozen copy: the user may go on editing while the report is written.
        work = write_report(session.frozen(), folder, taxonomy=self.state.taxonomy,
                            taxonomy_path=str(path) if path is not None else None,
                            force=question is not None)
        self.window_.run_work(work, "Writing the report", self._on_report_written)

    def _on_report_written(self, summary: ReportSummary) -> None:
        """Say where the report is and offer to open it (in the default browser)."""
        index = Path(summary.index)
        answer = QMessageBox.question(
            self, "Report written",
            f"The report of {summary.cases} case(s) is in {index.parent}. Open it?",
            QMessageBox.StandardButton.Open | QMessageBox.StandardButton.Close,
            QMessageBox.StandardButton.Open)
        if answer == QMessageBox.StandardButton.Open:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(index)))

    def _on_validated(self, findings: list[Finding]) -> None:
        self.findings = findings
        self._stale = False
        self.tree.clear()
        c = counts(findings)
        if not findings:
            self.summary.setText("No problems found: RedBrick will accept this items list.")
        else:
            self.summary.setText(f"{c[Severity.ERROR]} error(s), {c[Severity.WARNING]} warning(s), "
                                 f"{c[Severity.INFO]} note(s)")
        colour = "#a0281e" if c[Severity.ERROR] else "#9a5b00" if c[Severity.WARNING] else "#2a6f2a"
        self.summary.setStyleSheet(f"font-weight: 600; color: {colour};")
        groups: dict[str, QTreeWidgetItem] = {}
        for f in findings:
            key = f.task or "(whole items list)"
            if key not in groups:
                top = QTreeWidgetItem([key])
                top.setData(0, Qt.ItemDataRole.UserRole, None)
                self.tree.addTopLevelItem(top)
                groups[key] = top
            message = wizard_text(f.message)
            item = QTreeWidgetItem([message, f.code, (f.file or "").split("/")[-1],
                                    "" if f.value is None else str(f.value)])
            item.setIcon(0, swatch(SEVERITY_COLOUR[f.severity], 10))
            item.setToolTip(0, f"{f.severity}: {message}")
            if f.file:
                item.setToolTip(2, f.file)
            item.setData(0, Qt.ItemDataRole.UserRole, f)
            if f.is_error:
                item.setForeground(0, QBrush(QColor(160, 40, 30)))
            groups[key].addChild(item)
        for key, top in groups.items():
            sev = counts([child.data(0, Qt.ItemDataRole.UserRole)
                          for i in range(top.childCount()) if (child := top.child(i)) is not None])
            e, w, i = sev[Severity.ERROR], sev[Severity.WARNING], sev[Severity.INFO]
            top.setText(0, f"{key} — {e} error(s), {w} warning(s)"
                        + (f", {i} note(s)" if i else ""))
            top.setExpanded(sev[Severity.ERROR] > 0 or sev[Severity.WARNING] > 0)
        for col in (1, 2, 3):  # to their contents, but a long file name leaves the finding room
            self.tree.resizeColumnToContents(col)
            self.tree.header().resizeSection(col, min(self.tree.header().sectionSize(col), 260))
        self.accept_warnings.setVisible(c[Severity.WARNING] > 0 and c[Severity.ERROR] == 0)
        self.completeChanged.emit()

    def _on_tree_current_changed(self, item: QTreeWidgetItem | None, _prev: object) -> None:
        f = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        if not isinstance(f, Finding):
            self.detail.setText(_PICK)
            return
        where = " · ".join(x for x in (f.task, f"series {f.series}" if f.series is not None
                                       else None, f.file, f"value {f.value}"
                                       if f.value is not None else None) if x)
        colour = "#%02x%02x%02x" % SEVERITY_COLOUR[f.severity]
        target = self._target(f)
        hint = {"label": "<br><i>Enter: go to this label.</i>",
                "case": "<br><i>Enter: open this case on the Mapping page.</i>"}.get(target, "")
        where = f" — {escape(where)}" if where else " — the whole items list"
        self.detail.setText(f"<b style='color:{colour}'>{f.severity}</b> <code>{f.code}</code>"
                            f"{where}<br>{escape(wizard_text(f.message))}{hint}")

    def _target(self, f: Finding) -> str:
        """Where Enter takes a finding: "label" (a value or mask of a case), "case", or ""."""
        session = self.state.session
        case = next((c for c in session.cases if c.name == f.task), None) if session else None
        if case is None:
            return ""  # the whole list, or a task that is no case here
        names = {m.name for m in case.masks}
        if f.value is not None or (f.file is not None and Path(f.file).name in names):
            return "label"
        return "case"

    def _on_tree_item_activated(self, item: QTreeWidgetItem, _col: int) -> None:
        f = item.data(0, Qt.ItemDataRole.UserRole)
        if not isinstance(f, Finding) or f.task is None or not self._target(f):
            return
        self.state.set_current_case(f.task)
        mapping = self.window_.page(MappingPage)
        self.window_.go_to(self.window_.page_index(mapping))
        if self._target(f) == "label":
            file = Path(f.file) if f.file is not None else None
            # A value no row has (an overlap group's id) still names the file it is in.
            if not mapping.select_label(f.value, file) and file is not None:
                mapping.select_label(None, file)

    def done(self) -> bool:
        """Done when validation ran on the list as it is now and found no error."""
        return (self.state.session is not None and not self._stale
                and self.findings is not None and not counts(self.findings)[Severity.ERROR])

    def can_next(self) -> tuple[bool, str]:
        if self.state.session is None:
            return False, "Open a source first"
        if self._stale or self.findings is None:
            return False, "Validate first"
        c = counts(self.findings)
        if c[Severity.ERROR]:
            return False, f"Fix the {c[Severity.ERROR]} error(s) first"
        if c[Severity.WARNING] and not self.accept_warnings.isChecked():
            return False, "Accept the warnings (tick the box) or fix them"
        return True, ""
