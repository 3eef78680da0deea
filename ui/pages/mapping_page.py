"""Page 3, Mapping: which category every value (or binary mask) is, beside a live preview."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.errors import SegmapError
from app.items import Category, category_label
from app.mapping import load_template
from app.preview import CasePreview
from app.session import CaseState, Row, consequences
from ui import errors
from ui.case_combo import CaseCombo
from ui.case_loader import CaseLoader
from ui.category_delegate import CategoryDelegate
from ui.mapping_model import COL_CATEGORY, COL_FILE, MappingTableModel
from ui.pages.base import Page
from ui.preview import UNLISTED_NOTE, PreviewWidget
from ui.window import Window

_LEVEL_COLOUR = {"ok": "#2a6f2a", "warning": "#9a5b00", "error": "#a0281e"}


class MappingPage(Page):
    title = "Mapping"
    subtitle = ("Choose the taxonomy category of every label. Suggestions show where they "
                "came from and stay marked until you accept them. Select a row to see the "
                "label on the image.")

    def __init__(self, window: Window) -> None:
        super().__init__(window)
        self.loader: CaseLoader = window.loader
        self._build_bar()
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.layout_.addWidget(self.banner)
        self._build_table()
        self._build_preview()
        self.loader.loading.connect(self._on_loader_loading)
        self.loader.ready.connect(self._on_loader_ready)
        self.loader.statsReady.connect(self._on_loader_stats)
        self.loader.failed.connect(self._on_loader_failed)
        self.state.sessionChanged.connect(self._fill_cases_if_shown)
        self.state.casesChanged.connect(self._fill_cases_if_shown)
        self.state.mappingChanged.connect(self._on_state_mapping_changed)
        self.state.taxonomyChanged.connect(self._on_taxonomy_changed)
        self._active = False

    def _build_bar(self) -> None:
        """The case selector and the buttons above the table."""
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Case"))
        self.case_combo = CaseCombo()
        self.case_combo.follow(self.state)
        self.case_combo.setToolTip("The case to map (Ctrl+PgDown / Ctrl+PgUp for the next / "
                                   "previous case)")
        self.case_combo.currentIndexChanged.connect(self._on_case_combo_changed)
        bar.addWidget(self.case_combo)
        self.accept_button = QPushButton("&Accept suggestions")
        self.accept_button.setToolTip("Accept every suggestion of this case (Ctrl+Enter)")
        self.accept_button.clicked.connect(self._on_accept_clicked)
        self.apply_button = QPushButton("A&pply to same labels")
        self.apply_button.setToolTip("Copy this mapping to every case with the same label values "
                                     "(or the same structure files)")
        self.apply_button.clicked.connect(self._on_apply_clicked)
        self.save_button = QPushButton("&Save template…")
        self.save_button.setToolTip("Save this mapping to apply to other datasets")
        self.save_button.clicked.connect(self._on_save_template_clicked)
        self.load_button = QPushButton("&Load template…")
        self.load_button.setToolTip("Apply a saved mapping to every case it covers")
        self.load_button.clicked.connect(self._on_load_template_clicked)
        for b in (self.accept_button, self.apply_button, self.save_button, self.load_button):
            bar.addWidget(b)
        bar.addStretch(1)
        self.hide_empty = QCheckBox("Hide empty masks")
        self.hide_empty.setToolTip("Empty masks hold no voxels: they are never imported. They "
                                   "are listed last; tick to hide them.")
        self.hide_empty.toggled.connect(self._on_hide_empty_toggled)
        bar.addWidget(self.hide_empty)
        self.layout_.addLayout(bar)

    def _build_table(self) -> None:
        """The mapping table, its category editor and its keys."""
        self.model = MappingTableModel(self.state, self)
        self.delegate = CategoryDelegate(self)
        # asked when an editor opens: gathered at each case shown, a pass over every case
        # took 0.5 s of each case switch at 10,000 cases
        self.delegate.used = self._used_categories
        self.delegate.refused.connect(self._on_delegate_refused)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setItemDelegateForColumn(COL_CATEGORY, self.delegate)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                   | QAbstractItemView.EditTrigger.EditKeyPressed
                                   | QAbstractItemView.EditTrigger.AnyKeyPressed)
        self.table.verticalHeader().setVisible(False)
        self.table.setToolTip("F2 or type to choose a category; Delete unmaps the row")
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_FILE, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL_CATEGORY, QHeaderView.ResizeMode.Interactive)
        header.setMinimumSectionSize(24)
        # What the user chooses comes first and whole: Category right after Value, as wide
        # as its longest name; file names (elided in the middle) take what is left.
        header.moveSection(header.visualIndex(COL_CATEGORY), header.visualIndex(COL_FILE))
        header.setStretchLastSection(True)
        self.table.setColumnWidth(COL_FILE, 150)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setWordWrap(False)
        self.table.selectionModel().currentRowChanged.connect(self._on_table_current_changed)
        QShortcut(QKeySequence(Qt.Key.Key_Delete), self.table, self._on_delete_pressed)
        QShortcut(QKeySequence("Ctrl+Return"), self, self._on_accept_clicked)
        QShortcut(QKeySequence("Ctrl+PgDown"), self, lambda: self.case_combo.step(1))
        QShortcut(QKeySequence("Ctrl+PgUp"), self, lambda: self.case_combo.step(-1))

    def _build_preview(self) -> None:
        """The preview beside the table."""
        # Beside the table: the plane in focus large, the two others small.
        self.preview = PreviewWidget(layout="one+two")
        self.preview.labelClicked.connect(self._on_preview_label_clicked)
        self._pointed = False  # a row selected by a click on its label: the point stays
        self.preview_note = QLabel()
        self.preview_note.setWordWrap(True)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.preview, 1)
        rl.addWidget(self.preview_note)
        split = QSplitter()
        split.addWidget(self.table)
        split.addWidget(right)
        split.setSizes([760, 520])
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        self.layout_.addWidget(split, 1)


    # ------------------------------------------------------------------ page
    def enter(self) -> None:
        self._active = True
        self._fill_cases()
        self.table.setFocus()

    def leave(self) -> None:
        self._active = False

    def case(self) -> CaseState | None:
        return self.state.current_case()

    def _fill_cases_if_shown(self) -> None:
        """Fill the case list now if this page is shown, else when it is (``enter``): the
        list of 10,000 cases took 0.5 s of opening a folder on the Cases page."""
        if self._active:
            self._fill_cases()

    def _fill_cases(self) -> None:
        current = self.case()
        self.case_combo.fill(self.state.session, current.name if current else None)
        self._show_case()

    def _on_case_combo_changed(self, _index: int) -> None:
        name = self.case_combo.currentData()
        if name:
            self.state.set_current_case(name)
            self._show_case()

    def _used_categories(self) -> list[Category]:
        """Every category some case maps to (the editor's choices with no taxonomy)."""
        session = self.state.session
        if session is None or session.taxonomy:
            return []
        return [r.category for c in session.cases for r in session.rows(c)
                if r.category is not None]

    def _show_case(self) -> None:
        session, case = self.state.session, self.case()  # the state's: always included
        self.delegate.taxonomy = session.taxonomy if session else None
        self.model.set_case(session, case)
        # One file holds every value of a shape-I case: the File column would repeat it.
        self.table.setColumnHidden(COL_FILE, case is not None and len(case.masks) == 1)
        self._size_category_column()
        empty = self.model.empty_count()
        self.hide_empty.setVisible(empty > 0)
        self.hide_empty.setText(f"Hide {empty} empty mask(s)")
        self._update_banner()
        if session is not None and case is not None and self._active:
            self.loader.load(session, case)
        if self.model.rowCount():
            self.table.selectionModel().setCurrentIndex(
                self.model.index(0, COL_CATEGORY),
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows)

    def _size_category_column(self) -> None:
        """As wide as the longest category shown (at least room for a typical name)."""
        fm = self.table.fontMetrics()
        names = [category_label(r.category) for r in self.model.rows() if r.category is not None]
        widest = max((fm.horizontalAdvance(n) for n in names), default=0)
        self.table.setColumnWidth(COL_CATEGORY, max(fm.horizontalAdvance("M" * 14), widest + 24))

    def _update_banner(self) -> None:
        session, case = self.state.session, self.case()
        if session is None or case is None:
            text, level = ("No case to map: include a case on the Cases page." if session
                           else "Open a folder or an items list first."), "warning"
        else:
            said = consequences(session.rows(case),
                                structure_set=session.rois(case) is not None)
            text, level = said.text, said.level
        self.banner.setText(text)
        self.banner.setStyleSheet(f"color: {_LEVEL_COLOUR[level]}; font-weight: 500;")
        self.accept_button.setEnabled(bool(case and case.unreviewed))
        self.completeChanged.emit()

    def _on_hide_empty_toggled(self, hide: bool) -> None:
        self.model.set_hide_empty(hide)

    # -------------------------------------------------------------- handlers
    def _on_state_mapping_changed(self, name: str) -> None:
        """The mapping of a case changed (here or on another page): show it."""
        case, session = self.case(), self.state.session
        if case is None or session is None or case.name != name:
            return
        self._update_banner()
        self._size_category_column()
        self.preview.set_colours(session.colours(case))
        if self._active:
            self.loader.load(session, case, soon=True)

    def _on_table_current_changed(self, current: QModelIndex, _prev: QModelIndex) -> None:
        if not current.isValid():
            return
        row = self.model.row_at(current.row())
        if self._pointed:  # its label was clicked on the image: the planes stay there
            return
        if row.label_value is not None and not self.preview.jump_to(row.label_value):
            self.preview_note.setText(f"{row.files[0].name if row.files else 'This label'} has "
                                      "no voxels in the merged volume.")

    def select_label(self, value: int | None, file: Path | str | None = None) -> bool:
        """Select the row of label ``value`` (its value in the files, or its instance id)
        in ``file`` (a mask of the case, by path or name); either may be None. Returns
        False, leaving the selection, when no row matches."""
        rows = self.model.rows()
        target = Path(file) if file is not None else None
        if target is not None and self.hide_empty.isChecked():
            self.hide_empty.setChecked(False)  # the finding may be about an empty mask
            rows = self.model.rows()

        def in_file(row: Row) -> bool:
            return target is None or any(f == target or f.name == target.name for f in row.files)

        for n, row in enumerate(rows):
            if (value is None or value in (row.label_value, row.key, row.value)) and in_file(row):
                self.table.selectRow(n)
                self.table.scrollTo(self.model.index(n, COL_CATEGORY))
                return True
        return False

    def _on_preview_label_clicked(self, value: int) -> None:
        """A click on a labelled voxel selects its row (the planes stay at the click)."""
        self._pointed = True
        try:
            self.select_label(value)
        finally:
            self._pointed = False

    def _on_delegate_refused(self, text: str) -> None:
        self.banner.setText(f"“{text}” is not a segmentation category of the taxonomy; the "
                            "mapping was not changed. Type part of a name and pick from the list.")
        self.banner.setStyleSheet("color: #a0281e; font-weight: 500;")

    def _on_delete_pressed(self) -> None:
        index = self.table.currentIndex()
        if index.isValid():
            self.model.setData(self.model.index(index.row(), COL_CATEGORY), None)

    def _on_accept_clicked(self) -> None:
        case = self.case()
        if case is not None:
            n = len(case.unreviewed)
            self.state.edit(lambda s: s.accept(case), f"accept {n} suggestion(s) of {case.name}",
                            [case])

    def _on_apply_clicked(self) -> None:
        case = self.case()
        if case is None:
            return
        change = self.state.edit(lambda s: s.apply_mapping(case),
                                 f"apply the mapping of {case.name} to cases with its labels")
        QMessageBox.information(self, "Apply mapping", "\n\n".join(change.notes))

    def _on_save_template_clicked(self) -> None:
        session, case = self.state.session, self.case()
        if session is None or case is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save mapping template",
                                              str(session.base / "mapping-template.json"),
                                              "Mapping template (*.json)")
        if path:
            try:
                session.template(case).save(Path(path))
            except SegmapError as exc:
                errors.show(exc, None, self)

    def _on_load_template_clicked(self) -> None:
        session = self.state.session
        if session is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, "Mapping template", str(session.base),
                                              "Mapping template (*.json)")
        if not path:
            return
        try:
            template = load_template(path)
        except SegmapError as exc:
            errors.show(exc, None, self)
            return
        change = self.state.edit(lambda s: s.apply_template(template),
                                 f"apply the template {Path(path).name}")
        msg = f"Applied to {change.count} case(s)."
        if change.skipped:
            msg += " These differ from the template (shared labels applied): " + ", ".join(
                change.skipped[:12])
        QMessageBox.information(self, "Template", msg)

    def _on_taxonomy_changed(self) -> None:
        self._show_case()

    # ---------------------------------------------------------------- preview
    def _on_loader_loading(self, name: str) -> None:
        if not self._active:
            return
        self.preview_note.setText(f"Loading {name}…")
        if self.preview.case() != name:  # another case: nothing of the last one stays
            self.preview.clear(f"Loading {name}…")

    def _on_loader_ready(self, preview: CasePreview) -> None:
        if not self._active:
            return
        case = self.case()
        session = self.state.session
        if case is None or session is None or case.name != preview.case:
            return
        legend = session.legend(case)
        try:
            self.preview.show_preview(preview, legend)
        except Exception:
            self.preview_note.setText(f"{case.name} could not be shown.")
            raise
        note = "Shown as RedBrick will store it (merged, overlap groups included)."
        if preview.unlisted:
            note = UNLISTED_NOTE
        if preview.merge_error:
            note = f"The masks cannot be merged: {preview.merge_error}"
        self.preview_note.setText(note)
        current = self.table.currentIndex()
        if current.isValid():
            self._on_table_current_changed(current, current)

    def _on_loader_stats(self, name: str, _stats: object) -> None:
        case = self.case()
        if self.loader.current is not None and case is not None and case.name == name:
            self.model.set_means(self.loader.current.instance_means())

    def _on_loader_failed(self, name: str, exc: object) -> None:
        if self._active:
            self.preview.clear(f"No preview for {name}")
            self.preview_note.setText(f"No preview for {name}: {exc}")

    def can_next(self) -> tuple[bool, str]:
        s = self.state.session
        if s is None or not any(c.included for c in s.cases):
            return False, "No case to map"
        return True, ""

