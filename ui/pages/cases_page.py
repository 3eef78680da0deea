"""Page 2, Cases: what was found, paired and in which import shape; include, exclude, re-pair."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QItemSelectionModel, QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.discover import RoleOverride, ScanProgress, Volume
from app.errors import SegmapError
from app.mapping import known_placeholders
from app.session import CaseState, Session, open_folder
from ui import errors, saved_work
from ui.cases_model import (
    COL_CASE,
    COL_EXPORT,
    COL_INCLUDE,
    COL_MAPPING,
    COL_ROLE,
    COL_SERIES,
    COL_TASK,
    COL_WHY,
    ROLES,
    SHAPE_TEXT,
    FilesModel,
    export_notes,
    mask_note,
    role_overrides,
    series_text,
    volume_roles,
)
from ui.pages.base import Page
from ui.remote_views import RemoteCasesModel, follow_remote
from ui.saved_work import Choice
from ui.scan_view import ScanView
from ui.window import Window


def confirm(box: QMessageBox) -> object:
    """Run a question box and return the button clicked (tests replace this)."""
    box.exec()
    return box.clickedButton()


class RoleDelegate(QStyledItemDelegate):
    """The Role column's editor: a choice of image or mask."""

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem,
                     index: QModelIndex | Any) -> QWidget:
        box = QComboBox(parent)
        box.addItems(list(ROLES))
        return box

    def setEditorData(self, editor: QWidget, index: QModelIndex | Any) -> None:
        assert isinstance(editor, QComboBox)
        editor.setCurrentText(str(index.data(Qt.ItemDataRole.EditRole)))

    def setModelData(self, editor: QWidget, model: QAbstractItemModel,
                     index: QModelIndex | Any) -> None:
        assert isinstance(editor, QComboBox)
        model.setData(index, editor.currentText(), Qt.ItemDataRole.EditRole)


def fields_lines(case: CaseState) -> list[str]:
    """The task fields a case carries, one line each (none when nothing is set)."""
    f = case.fields
    lines = [f"Priority: {f.priority:g}"] if f.priority is not None else []
    for title, values in (("metaData", f.meta), ("preAssign", f.pre_assign),
                          ("Classification", f.classification)):
        if values:
            lines.append(f"{title}: " + ", ".join(f"{k} = {v}" for k, v in values.items()))
    for category, attributes in f.labels.items():
        lines.append(f"{category} attributes: "
                     + ", ".join(f"{k} = {v}" for k, v in attributes.items()))
    return lines


# Rows a ResizeToContents column is measured over (Qt's default: 1,000, every row of a
# large folder, at every change of the table).
_MEASURED_ROWS = 100


class CasesPage(Page):
    title = "Cases"
    subtitle = ("Each case becomes one RedBrick task: an image series and its masks in one "
                "import shape. Untick a case to leave it out; move a mask that was paired "
                "with the wrong image.")

    def __init__(self, window: Window) -> None:
        super().__init__(window)
        self.model = RemoteCasesModel(self, self.state)  # with each case's RedBrick task
        self.model.editRefused.connect(lambda exc: errors.show(exc, None, self))
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        # sized from the first rows: measuring all 1,000 cells of a column took 1.8 s
        header.setResizeContentsPrecision(_MEASURED_ROWS)
        header.setSectionResizeMode(COL_SERIES, QHeaderView.ResizeMode.Stretch)
        # Names from a pattern can be long: a set width, the whole name in the tooltip.
        header.setSectionResizeMode(COL_TASK, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(COL_TASK, 220)
        header.setSectionResizeMode(COL_MAPPING, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setToolTip("Space toggles Include; Enter opens the case's mapping")
        self.table.selectionModel().currentRowChanged.connect(self._on_table_current_changed)
        self.table.doubleClicked.connect(self._on_table_double_clicked)
        self.table.activated.connect(self._on_table_double_clicked)

        buttons = QHBoxLayout()
        self.fields_label = QLabel()  # what the last Load task fields… did
        self.include_all = QPushButton("Include &all")
        self.exclude_all = QPushButton("E&xclude all")
        self.include_all.clicked.connect(lambda: self._set_all(True))
        self.exclude_all.clicked.connect(lambda: self._set_all(False))
        self.count_label = QLabel()
        buttons.addWidget(self.include_all)
        buttons.addWidget(self.exclude_all)
        buttons.addWidget(self.fields_label)
        buttons.addStretch(1)
        buttons.addWidget(self.count_label)

        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addLayout(self._names_row())
        tl.addWidget(self.table, 1)
        self.remote_line = QLabel()  # RedBrick tasks no case matched
        follow_remote(self.table, self.model, self.remote_line)
        tl.addWidget(self.remote_line)
        tl.addLayout(buttons)

        self.details = QTextBrowser()
        self.details.setOpenLinks(False)
        self.masks = QListWidget()
        self.masks.setToolTip("The case's mask files, in the order RedBrick merges them")
        self.move_target = QComboBox()
        # the cases the target list holds, the place of each, and the one taken out (the
        # case shown: its place, its text, its name)
        self._target_names: tuple[tuple[str, str], ...] = ()  # (name, image label) each
        self._target_at: dict[str, int] = {}
        self._target_out: tuple[int, str, str] | None = None
        self._roles_of: tuple[Any, dict[Path, Volume]] | None = None
        self.move_target.setToolTip("The case whose image the selected mask belongs to")
        self.move_button = QPushButton("&Move mask to this case")
        self.move_button.setToolTip("Re-pair the selected mask with another case's image "
                                    "(checked in world space first)")
        self.move_button.clicked.connect(self._on_move_clicked)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(QLabel("<b>Masks</b>"))
        rl.addWidget(self.masks, 1)
        row = QHBoxLayout()
        row.addWidget(self.move_target, 1)
        row.addWidget(self.move_button)
        rl.addLayout(row)
        bottom = QSplitter()
        bottom.addWidget(self.details)
        bottom.addWidget(right)
        bottom.setSizes([600, 400])

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.addWidget(self._files_panel())
        split.setSizes([430, 220, 150])
        self.scan_view = ScanView()  # while a scan runs: its cases so far
        self.views = QStackedWidget()
        self.views.addWidget(split)
        self.views.addWidget(self.scan_view)
        self.layout_.addWidget(self.views, 1)
        self._pick: str | None = None  # the case chosen while the scan ran
        self._note: tuple[str, tuple[str, ...]] | None = None  # (case, what a move did)
        self.state.sessionChanged.connect(self._on_session_changed)
        self.state.casesChanged.connect(self._on_state_cases_changed)

    def _names_row(self) -> QHBoxLayout:
        """The name pattern every task is named by, and loading a fields CSV."""
        row = QHBoxLayout()
        self.name_pattern = QLineEdit()
        self.name_pattern.setPlaceholderText("{case}   e.g. {patient_id}-{study_date}-"
                                             "{series_description}")
        self.name_pattern.setToolTip("Name every task from its image (press Enter); a name "
                                     "used twice gets -2, -3. Placeholders: "
                                     + known_placeholders())
        self.name_pattern.editingFinished.connect(self._on_name_pattern_edited)
        self.load_fields = QPushButton("Load task fiel&ds…")
        self.load_fields.setToolTip("A CSV/TSV with one row per case (column `case`) and any "
                                    "of name, priority, meta.<key>, preassign.<stage>, "
                                    "classification.<attr>, label.<category>.<attr>")
        self.load_fields.clicked.connect(self._on_load_fields_clicked)
        label = QLabel("Task &names:")
        label.setBuddy(self.name_pattern)
        row.addWidget(label)
        row.addWidget(self.name_pattern, 1)
        row.addWidget(self.load_fields)
        return row

    def _on_name_pattern_edited(self) -> None:
        session = self.state.session
        text = self.name_pattern.text()
        if session is None or (text.strip() or None) == session.name_pattern:
            return
        try:
            self.state.edit(lambda s: s.set_name_pattern(text), "set the task name pattern")
        except SegmapError as exc:
            errors.show(exc, None, self)
            self.name_pattern.setText(session.name_pattern or "")

    def _on_load_fields_clicked(self) -> None:
        session = self.state.session
        if session is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Task fields", str(session.source),
                                              "Task fields (*.csv *.tsv *.txt);;All files (*)")
        if not path:
            return
        try:
            change = self.state.edit(lambda s: s.load_task_fields(path),
                                     f"load task fields from {Path(path).name}")
        except SegmapError as exc:
            errors.show(exc, None, self)
            return
        self.fields_label.setText(f"{Path(path).name}: {change.count} case(s) changed")
        self._show_current()

    def _files_panel(self) -> QWidget:
        """Every volume the scan found, its role (a choice: another rescans) and why."""
        self.files_model = FilesModel(self)
        self.files_model.roleChosen.connect(self._on_role_chosen)
        self.files = QTableView()
        self.files.setModel(self.files_model)
        self.files.setItemDelegateForColumn(COL_ROLE, RoleDelegate(self.files))
        self.files.setEditTriggers(QAbstractItemView.EditTrigger.AllEditTriggers)
        self.files.verticalHeader().setVisible(False)
        header = self.files.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setResizeContentsPrecision(_MEASURED_ROWS)
        header.setSectionResizeMode(COL_WHY, QHeaderView.ResizeMode.Stretch)
        panel = QWidget()
        pl = QVBoxLayout(panel)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.addWidget(QLabel("<b>Files</b> — image or mask? Change a Role to scan the folder "
                            "again with it (the mappings are suggested afresh)."))
        pl.addWidget(self.files, 1)
        return panel

    def _on_role_chosen(self, label: str, role: str) -> None:
        """Scan the folder again with the user's word on ``label``'s role (replacing an
        earlier word on that file), and show the new pairing."""
        session = self.state.session
        if session is None:
            return
        if self.state.dirty and saved_work.ask(
                self, f"Scan {session.source.name} again?",
                f"Taking {label} as {'an image' if role == 'image' else 'a mask'} pairs the "
                "folder afresh and suggests every mapping again; your mapping work, not "
                "exported, is replaced.",
                [("Keep my work", QMessageBox.ButtonRole.RejectRole, Choice.CANCEL),
                 ("Scan again, replacing my work", QMessageBox.ButtonRole.DestructiveRole,
                  Choice.SCAN)]) is not Choice.SCAN:
            return  # the table still shows the role the scan gave
        roles = [o for o in role_overrides(session) if o.pattern != label]
        roles.append(RoleOverride(label, role))
        self.window_.run_work(open_folder(session.source, self.state.taxonomy, roles=roles),
                              f"Scanning {session.source.name} again ({label}: {role})",
                              self.state.set_session)

    # ------------------------------------------------------------------ scanning
    def show_scanning(self, step: ScanProgress, doing: str) -> None:
        """Show a running scan's cases (``step``), instead of the session's, until
        ``end_scanning``."""
        if self.views.currentWidget() is not self.scan_view:
            self.scan_view.clear()
            self.views.setCurrentWidget(self.scan_view)
            self.scan_view.table.setFocus()
        self.scan_view.show_step(step, doing)

    def scanning(self) -> bool:
        return self.views.currentWidget() is self.scan_view

    def end_scanning(self, done: bool) -> None:
        """The scan has ended: the session's cases again; when it is ``done`` (not
        cancelled, not failed), on the case the user chose meanwhile once its session is
        set."""
        if not self.scanning():
            return
        self._pick = self.scan_view.current_name() if done else None
        self.views.setCurrentIndex(0)
        self.scan_view.clear()

    # ------------------------------------------------------------------ events
    def enter(self) -> None:
        self.model.refresh_if_stale()  # a file may have changed on disk since
        case = self.state.current_case()
        self._select(case.name if case else None)
        self.table.setFocus()
        self._update_count()

    def _select(self, name: str | None) -> None:
        """Make the case ``name`` (else the one chosen while the scan ran, else the first)
        current."""
        if self._pick is not None and self.model.row_of(self._pick) >= 0:
            name, self._pick = self._pick, None
        row = self.model.row_of(name) if name else 0
        if self.model.rowCount() and row >= 0:
            self.table.selectionModel().setCurrentIndex(
                self.model.index(row, COL_CASE),
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows)

    def _on_session_changed(self) -> None:
        self.name_pattern.setText(self.state.session.name_pattern or ""
                                  if self.state.session is not None else "")
        self.fields_label.clear()
        self.model.set_session(self.state.session)
        self.files_model.set_session(self.state.session)
        self._note = None
        if self._pick is not None:  # the case chosen while its scan ran
            self._select(None)
        self._show_current()
        self._update_count()
        self.completeChanged.emit()

    def _on_table_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            case = self.model.case_at(current.row())
            self.state.set_current_case(case.name)
            self._show_details(current.row())

    def _on_table_double_clicked(self, index: QModelIndex) -> None:
        if index.isValid() and index.column() not in (COL_INCLUDE, COL_TASK):
            self.state.set_current_case(self.model.case_at(index.row()).name)
            self.window_.go_next()

    def _on_state_cases_changed(self) -> None:
        """Cases changed (here or elsewhere): the details are recomputed from the session,
        and what the last move did is old news (an undo may have taken it back)."""
        self._note = None
        if self.state.session is not None:  # an undo may have put another pattern back
            self.name_pattern.setText(self.state.session.name_pattern or "")
        self._update_count()
        self._show_current()
        self.completeChanged.emit()

    def _set_all(self, included: bool) -> None:
        self.state.edit(lambda s: s.set_all_included(included),
                        "include every case" if included else "leave out every case")

    def _on_move_clicked(self) -> None:
        session = self.state.session
        item = self.masks.currentItem()
        target_name = self.move_target.currentData()
        source = self.state.current_case()
        if session is None or item is None or source is None or not target_name:
            return
        target = session.case(target_name)
        mask = item.data(Qt.ItemDataRole.UserRole)
        try:
            plan = session.move_plan(mask, source, target)
        except SegmapError as exc:
            errors.show(exc, None, self)
            return
        if plan.changes and not self._confirm_move(mask, target, plan.changes):
            return
        try:
            change = self.state.edit(lambda s: s.move_mask(mask, source, target),
                                     f"move {mask.name} to {target.name}", [source, target])
        except SegmapError as exc:
            errors.show(exc, None, self)
            return
        self._note = (source.name, change.notes)
        self._show_current()

    def _confirm_move(self, mask: Path, target: CaseState, changes: tuple[str, ...]) -> bool:
        """Ask before a move that changes what RedBrick stores beyond the move itself."""
        box = QMessageBox(QMessageBox.Icon.Question, "Move the mask?",
                          f"Moving {mask.name} to {target.name} also changes what RedBrick "
                          "stores:", QMessageBox.StandardButton.Cancel, self)
        box.setInformativeText("\n".join(f"• {c}" for c in changes))
        move = box.addButton("&Move anyway", QMessageBox.ButtonRole.AcceptRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        return bool(confirm(box) is move)

    # -------------------------------------------------------------------- view
    def _update_count(self) -> None:
        self.table.setColumnHidden(COL_EXPORT, not self.model.has_export_notes())
        s = self.state.session
        if s is None:
            self.count_label.setText("")
            return
        n = sum(c.included for c in s.cases)
        self.count_label.setText(f"{n} of {len(s.cases)} cases included")

    def _show_current(self) -> None:
        """Show the details of the current row as the session has them now."""
        index = self.table.currentIndex()
        if index.isValid() and self.state.session is not None:
            self._show_details(index.row())
            return
        self.details.clear()
        self.masks.clear()
        self._clear_targets()
        self.move_button.setEnabled(False)

    def _show_details(self, row: int) -> None:
        session = self.state.session
        if session is None or not 0 <= row < self.model.rowCount():
            return
        case = self.model.case_at(row)
        if self._note is not None and self._note[0] != case.name:
            self._note = None  # a move's note belongs to the case it was made on
        self.details.setHtml("<br>".join(self._detail_lines(case)))
        self._fill_masks(case)
        self._fill_targets(case)

    def _detail_lines(self, case: CaseState) -> list[str]:
        session = self.state.session
        assert session is not None
        img = case.image
        number, words = SHAPE_TEXT[case.shape].split(maxsplit=1)
        lines = [f"<b>{escape(case.name)}</b> — import shape {number} ({words})"]
        if self._note is not None:
            lines += [f"<span style='color:#2a6f2a'>{escape(n)}</span>" for n in self._note[1]]
        lines.append(f"Image: {escape(img.label)}"
                     + (f" ({img.slices} slices)" if img.slices else "")
                     + (f" — {escape(series_text(case))}" if series_text(case) != img.label
                        else ""))
        lines.append(f"Masks: {len(case.masks)} file(s)")
        lines.append(f"Task name: <b>{escape(session.task_name(case, self.model.plan()))}</b>")
        lines.extend(escape(line) for line in fields_lines(case))
        for n in export_notes(case)[1]:
            lines.append(f"<span style='color:#1f5f8b'>On export: {escape(n)}</span>")
        if case.evidence:
            lines.append(f"Paired because: {escape(case.evidence)}")
        roles = self._roles(session)
        files = [] if img.is_dicom else list(img.files[:1])
        for f in files + list(case.masks):
            if (v := roles.get(f)) is not None:
                lines.append(f"{escape(v.label)}: {v.role}, because {escape(v.why)}")
        for w in case.warnings:
            lines.append(f"<span style='color:#9a5b00'>⚠ {escape(w)}</span>")
        if session.messages:
            lines.append("<br><b>Notes from the scan</b>")
            lines.extend(f"<span style='color:#666'>{escape(m)}</span>"
                         for m in session.messages[:40])
            if len(session.messages) > 40:
                lines.append(f"… and {len(session.messages) - 40} more")
        return lines

    def _fill_masks(self, case: CaseState) -> None:
        row = self.masks.currentRow()
        self.masks.clear()
        for m in case.masks:
            note = mask_note(m)
            it = QListWidgetItem(f"{m.name}    ({note})" if note else m.name)
            why = case.pairing.get(m, "")
            it.setToolTip("\n".join(x for x in (str(m), why and f"Paired because: {why}", note)
                                     if x))
            it.setData(Qt.ItemDataRole.UserRole, m)
            if note:
                it.setForeground(QBrush(QColor(31, 95, 139)))
            self.masks.addItem(it)
        if self.masks.count():
            self.masks.setCurrentRow(min(max(row, 0), self.masks.count() - 1))

    def _roles(self, session: Session) -> dict[Path, Volume]:
        """The scan's volumes by path, made again only for another scan's (a row's details
        made them from every volume each time: 8 ms at 10,000 cases)."""
        volumes = getattr(session, "volumes", None)
        if self._roles_of is None or self._roles_of[0] is not volumes:
            self._roles_of = (volumes, volume_roles(session))
        return self._roles_of[1]

    def _fill_targets(self, case: CaseState) -> None:
        """Every other case as a target for the selected mask. The list is made once per
        set of cases; a row's selection takes its case out and puts the one before back
        (refilling it with 10,000 cases made each row change take 27 ms of the window)."""
        session = self.state.session
        assert session is not None
        chosen = self.move_target.currentData()
        names = tuple((c.name, c.image.label) for c in session.cases)  # what the list shows
        combo = self.move_target
        combo.blockSignals(True)
        try:
            if names != self._target_names:
                combo.clear()
                for other in session.cases:
                    combo.addItem(f"{other.name} ({other.image.label})", other.name)
                self._target_names, self._target_out = names, None
                self._target_at = {name: i for i, (name, _) in enumerate(names)}
            elif self._target_out is not None:  # the case shown before is a target again
                at, text, name = self._target_out
                combo.insertItem(at, text, name)
            self._target_out = None
            at = self._target_at.get(case.name, -1)
            if at >= 0:
                self._target_out = (at, combo.itemText(at), case.name)
                combo.removeItem(at)
            i = combo.findData(chosen) if chosen is not None else -1
            combo.setCurrentIndex(i if i >= 0 else 0)  # the chosen target, else the first
        finally:
            combo.blockSignals(False)
        self.move_button.setEnabled(combo.count() > 0 and bool(case.masks))

    def _clear_targets(self) -> None:
        self.move_target.clear()
        self._target_names, self._target_out = (), None

    def done(self) -> bool:
        """Done once a case is included (each included case becomes a task)."""
        s = self.state.session
        return s is not None and any(c.included for c in s.cases)

    def can_next(self) -> tuple[bool, str]:
        s = self.state.session
        if s is None:
            return False, "Open a source first"
        if not s.cases:
            return False, "No case: say which file is the image in the Files table (Role)"
        if not any(c.included for c in s.cases):
            return False, "Include at least one case"
        return True, ""
