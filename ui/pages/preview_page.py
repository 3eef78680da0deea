"""Page 4, Preview: the merged labels on the image, large, with a legend to show, hide, solo,
and the reviewer's sign-off on the case (an edit of the session: undoable, autosaved)."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.preview import CasePreview, group_members
from app.session import LegendEntry, Review, SignOff
from ui.case_combo import CaseCombo
from ui.case_loader import CaseLoader
from ui.mapping_model import swatch
from ui.pages.base import Page
from ui.preview import UNLISTED_NOTE, PreviewWidget
from ui.sign_off_panel import SignOffPanel
from ui.window import Window


class PreviewPage(Page):
    title = "Preview"
    subtitle = ("The labels exactly as RedBrick will receive them, merged and placed on the image "
                "in world space. Tick labels to show or hide them; Solo shows one alone.")

    def __init__(self, window: Window) -> None:
        super().__init__(window)
        self.loader = window.loader
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Case"))
        self.case_combo = CaseCombo()
        self.case_combo.follow(self.state)
        self.case_combo.setToolTip("The case to look at (Ctrl+PgDown / Ctrl+PgUp for the next / "
                                   "previous case)")
        self.case_combo.currentIndexChanged.connect(self._on_case_combo_changed)
        QShortcut(QKeySequence("Ctrl+PgDown"), self, lambda: self.case_combo.step(1))
        QShortcut(QKeySequence("Ctrl+PgUp"), self, lambda: self.case_combo.step(-1))
        bar.addWidget(self.case_combo)
        # Alternative segmentations of the same image, side by side in linked planes.
        self.compare_label = QLabel("Compare with")
        self.compare_combo = QComboBox()
        self.compare_combo.setToolTip("Another case on the same image (another segmentation of "
                                      "it): shown beside this one, the planes linked, to keep "
                                      "one")
        self.compare_combo.activated.connect(self._on_compare_activated)
        bar.addSpacing(12)
        bar.addWidget(self.compare_label)
        bar.addWidget(self.compare_combo)
        bar.addStretch(1)
        self.status = QLabel()
        bar.addWidget(self.status)
        self.layout_.addLayout(bar)

        self.preview = PreviewWidget()
        self.preview.labelClicked.connect(self._on_preview_label_clicked)
        self._pointed = False  # a legend row selected by a click on its label: the point stays
        self.legend = QTableWidget(0, 3)
        self.legend.setHorizontalHeaderLabels(["Value", "Category", "Voxels"])
        self.legend.verticalHeader().setVisible(False)
        self.legend.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.legend.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.legend.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        head = self.legend.horizontalHeader()
        head.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.legend.setToolTip("Space shows / hides the selected label; Shift+S solos it; "
                               "double-click: its colour; right-click: colour, opacity, "
                               "outline; pointing at a row shows its label strong")
        self.legend.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.legend.customContextMenuRequested.connect(self._on_legend_menu_requested)
        self.legend.cellDoubleClicked.connect(self._on_legend_double_clicked)
        self.legend.setMouseTracking(True)
        self.legend.cellEntered.connect(self._on_legend_cell_entered)
        self.legend.viewport().installEventFilter(self)
        self._own_opacity: dict[int, float] = {}  # labels with an opacity of their own
        self._outlined: set[int] = set()  # labels drawn as outlines
        self.legend.itemChanged.connect(self._on_legend_item_changed)
        self.legend.currentCellChanged.connect(self._on_legend_current_changed)
        self.solo_button = QPushButton("&Solo")
        self.solo_button.setCheckable(True)
        self.solo_button.setToolTip("Show only the selected label (Shift+S)")
        self.solo_button.setShortcut("Shift+S")  # S alone is the sagittal plane
        self.solo_button.toggled.connect(self._apply_visibility)
        self.all_button = QPushButton("Show a&ll")
        self.all_button.clicked.connect(self._on_show_all_clicked)
        side = QWidget()
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.legend, 1)
        row = QHBoxLayout()
        row.addWidget(self.solo_button)
        row.addWidget(self.all_button)
        sl.addLayout(row)
        self.groups = QLabel()
        self.groups.setWordWrap(True)
        sl.addWidget(self.groups)
        self.sign_off = SignOffPanel()
        self.sign_off.changed.connect(self._on_sign_off_changed)
        sl.addWidget(self.sign_off)
        self.compare = PreviewWidget(layout="one")
        self.compare_loader = CaseLoader(self)
        self.compare_loader.cache = self.loader.cache  # the image is read once for both
        self.compare_loader.ready.connect(self._on_compare_ready)
        self.compare_loader.failed.connect(self._on_compare_failed)
        self.preview.pointChanged.connect(lambda _info: self._link(self.preview, self.compare))
        self.compare.pointChanged.connect(lambda _info: self._link(self.compare, self.preview))
        self.preview.viewChanged.connect(self._on_main_view_changed)
        self.keep_this = QPushButton()
        self.keep_this.clicked.connect(lambda: self._keep(main=True))
        self.keep_other = QPushButton()
        self.keep_other.clicked.connect(lambda: self._keep(main=False))
        self._compare_box = QWidget()
        cl = QVBoxLayout(self._compare_box)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.compare, 1)
        keep = QHBoxLayout()
        keep.addWidget(self.keep_this)
        keep.addWidget(self.keep_other)
        cl.addLayout(keep)
        self._compare_box.hide()
        self._layout_before: str | None = None  # the planes' layout before a comparison
        views = QSplitter()
        views.addWidget(self.preview)
        views.addWidget(self._compare_box)
        split = QSplitter()
        split.addWidget(views)
        split.addWidget(side)
        split.setSizes([880, 340])
        self.layout_.addWidget(split, 1)
        self.loader.ready.connect(self._on_loader_ready)
        self._active = False
        self.loader.loading.connect(self._on_loader_loading)
        self.loader.failed.connect(self._on_loader_failed)
        self._filling = False
        self._signed: str | None = None  # the case the sign-off panel shows
        self.state.mappingChanged.connect(self._on_state_mapping_changed)
        self.state.reviewChanged.connect(self._on_state_mapping_changed)  # undo, redo
        for signal in (self.state.casesChanged, self.state.sessionChanged,
                       self.state.currentCaseChanged):
            signal.connect(self._show_sign_off)
        self.state.casesChanged.connect(self._fill_cases_if_shown)

    def enter(self) -> None:
        self._active = True
        self._fill_cases(show=True)
        self.preview.setFocus()

    def leave(self) -> None:
        self.sign_off.commit()
        self._active = False

    def _fill_cases_if_shown(self) -> None:
        """The case list again when cases are left out, put back (an undo) or re-paired, if
        this page is shown (else when it is, ``enter``); the case it shows if that left."""
        if self._active:
            self._fill_cases(show=False)

    def _fill_cases(self, show: bool) -> None:
        """The included cases listed, the state's current one chosen and shown (``show``:
        even if it is the one shown already)."""
        case = self.state.current_case()
        self.case_combo.fill(self.state.session, case.name if case else None)
        if show or (case is not None and self.preview.case() != case.name):
            self._on_case_combo_changed(self.case_combo.currentIndex())

    def _on_case_combo_changed(self, _i: int) -> None:
        name = self.case_combo.currentData()
        session = self.state.session
        if not name or session is None:
            return
        self.sign_off.commit()  # a comment typed for the last case stays with it
        self.state.set_current_case(name)
        self._show_sign_off()
        self.loader.load(session, session.case(name))
        self._fill_compare()

    def _show_sign_off(self, *_: object) -> None:
        case = self.state.current_case()
        self._signed = case.name if case is not None else None
        self.sign_off.setEnabled(case is not None)
        self.sign_off.show_sign_off(case.sign_off if case is not None else None)

    def _on_state_mapping_changed(self, name: str) -> None:
        case = self.state.current_case()
        if case is not None and case.name == name:
            self._show_sign_off()

    def _on_sign_off_changed(self, review: Review | None, comment: str) -> None:
        """The reviewer's word on the case the panel shows: one undoable edit."""
        session = self.state.session
        case = next((c for c in session.cases if c.name == self._signed), None) \
            if session is not None else None
        if case is None:
            return
        word = SignOff.now(review, comment) if review is not None else None
        label = f"sign off {case.name}: {review.value if review else 'not reviewed'}"
        self.state.edit(lambda s: s.set_sign_off(case, word), label, [case])
        self._show_sign_off()

    def _on_loader_ready(self, preview: CasePreview) -> None:
        case, session = self.state.current_case(), self.state.session
        if not self._active or case is None or session is None or case.name != preview.case:
            return
        legend = session.legend(case)
        try:
            self.preview.show_preview(preview, legend)
        except Exception:
            self._fill_legend([], preview)
            self.status.setText(f"{case.name} could not be shown.")
            raise
        self._fill_legend(legend, preview)
        self.status.setText(preview.merge_error or (UNLISTED_NOTE if preview.unlisted else ""))
        self._apply_visibility()

    def _fill_legend(self, legend: list[LegendEntry], preview: CasePreview) -> None:
        """One row per label value: tick to show, its category, its voxels."""
        self._filling = True
        self.legend.setRowCount(0)
        session, case = self.state.session, self.state.current_case()
        rois = session.rois(case) if session is not None and case is not None else None
        for entry in legend:
            n = self.legend.rowCount()
            self.legend.insertRow(n)
            show = QTableWidgetItem(str(entry.value))
            show.setCheckState(Qt.CheckState.Checked)
            show.setIcon(swatch(entry.colour))
            show.setData(Qt.ItemDataRole.UserRole, entry.value)
            show.setToolTip("Tick to show, untick to hide")
            self.legend.setItem(n, 0, show)
            if rois is not None:  # an RT Structure Set: unmapped ROIs are left out
                roi = rois[entry.value - 1] if 1 <= entry.value <= len(rois) else "?"
                name = QTableWidgetItem(entry.name or f"(ROI {roi!r} not mapped: not imported)")
                name.setToolTip(f"ROI {roi!r} of the structure set. " + (
                    "" if entry.name else "Not mapped: RedBrick's --rt-struct leaves it out. "
                    "Map it on the Mapping page."))
            else:
                name = QTableWidgetItem(entry.name or "(not mapped: view-only)")
            if entry.name is None and rois is None:
                name.setToolTip("No category: RedBrick imports this value as an uneditable, "
                                "view-only annotation. Map it on the Mapping page.")
            self.legend.setItem(n, 1, name)
            voxels = QTableWidgetItem(f"{entry.voxels:,}")
            voxels.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.legend.setItem(n, 2, voxels)
        self._filling = False
        groups = group_members(preview.segments) if legend else {}
        names = {e.value: e.name or str(e.value) for e in legend}
        if groups:
            self.groups.setText(
                "<b>Overlap groups</b> (voxels in several labels):<br>" + "<br>".join(
                f"{g}: " + " + ".join(names.get(m, str(m)) for m in members)
                for g, members in sorted(groups.items())))
        else:
            self.groups.setText("No overlapping labels." if legend else "")

    def _on_loader_loading(self, name: str) -> None:
        if not self._active:
            return
        self.status.setText(f"Loading {name}…")
        if self.preview.case() != name:  # another case: nothing of the last one stays
            self.preview.clear(f"Loading {name}…")
            self.legend.setRowCount(0)
            self.groups.setText("")

    def _on_loader_failed(self, name: str, exc: object) -> None:
        if self._active:
            self.preview.clear(f"No preview for {name}")
            self.legend.setRowCount(0)
            self.groups.setText("")
            self.status.setText(f"No preview for {name}: {exc}")

    def _on_legend_item_changed(self, _item: QTableWidgetItem) -> None:
        if not self._filling:
            self._apply_visibility()

    def _on_legend_current_changed(self, row: int, *_: int) -> None:
        item = self.legend.item(row, 0) if row >= 0 else None
        if item is not None:
            if not self._pointed:
                self.preview.jump_to(int(item.data(Qt.ItemDataRole.UserRole)))
            if self.solo_button.isChecked():
                self._apply_visibility()

    # -- alternatives side by side -------------------------------------------------------

    def _fill_compare(self) -> None:
        """The other cases on this case's image; none: no comparison."""
        session, case = self.state.session, self.state.current_case()
        others = [c for c in session.alternatives(case) if c.included] \
            if session is not None and case is not None else []
        self.compare_combo.blockSignals(True)
        self.compare_combo.clear()
        self.compare_combo.addItem("(none)", None)
        for c in others:
            self.compare_combo.addItem(c.name, c.name)
        self.compare_combo.blockSignals(False)
        for w in (self.compare_label, self.compare_combo):
            w.setVisible(bool(others))
        self.compare_with(None)

    def compare_with(self, name: str | None) -> None:
        """Show case ``name`` beside the current one (None: no comparison)."""
        session = self.state.session
        row = self.compare_combo.findData(name) if name else 0
        self.compare_combo.setCurrentIndex(max(row, 0))
        if name is None or session is None:
            if self._compare_box.isVisible() and self._layout_before is not None:
                self.preview.set_layout_mode(self._layout_before)  # as before the comparison
            self._compare_box.hide()
            self.compare.clear()
            return
        if not self._compare_box.isVisible():  # side by side: one plane each, the same one
            self._layout_before = self.preview.layout_mode()
            self.preview.set_layout_mode("one")
        case = self.state.current_case()
        self.keep_this.setText(f"Keep {case.name}" if case else "")
        self.keep_other.setText(f"Keep {name}")
        for button, kept in ((self.keep_this, case.name if case else ""),
                             (self.keep_other, name)):
            button.setToolTip(f"Keep {kept} and leave the other case out of the export "
                              "(undoable)")
        self._compare_box.show()
        self.compare_loader.load(session, session.case(name))

    def _on_compare_activated(self, row: int) -> None:
        self.compare_with(self.compare_combo.itemData(row))

    def _on_compare_ready(self, preview: CasePreview) -> None:
        session = self.state.session
        if session is None or preview.case != self.compare_combo.currentData():
            return
        self.compare.show_preview(preview, session.legend(session.case(preview.case)))
        self.compare.set_view(self.preview.view())
        self._link(self.preview, self.compare)

    def _on_compare_failed(self, name: str, exc: object) -> None:
        self.compare.clear(f"No preview for {name}: {exc}")

    def _link(self, source: PreviewWidget, target: PreviewWidget) -> None:
        """The other preview through the same point (they share their image)."""
        if self._compare_box.isVisible() and target.volumes() is not None and \
                source.volumes() is not None:
            target.set_point(source.point())

    def _on_main_view_changed(self, view: str) -> None:
        if self._compare_box.isVisible() and self.compare.volumes() is not None:
            self.compare.set_view(view)  # type: ignore[arg-type]

    def _keep(self, main: bool) -> None:
        """Keep one of the two: the other case is left out of the export (undoable)."""
        session, case = self.state.session, self.state.current_case()
        other_name = self.compare_combo.currentData()
        if session is None or case is None or not other_name:
            return
        other = session.case(other_name)
        drop, kept = (other, case) if main else (case, other)
        self.state.edit(lambda s: s.set_included(drop, False),
                        f"keep {kept.name}, leave {drop.name} out", [drop])
        self.status.setText(f"Kept {kept.name}; {drop.name} is left out of the export "
                            "(Edit > Undo puts it back).")
        if not main:
            self.state.set_current_case(kept.name)
            self._fill_cases(show=True)
        else:
            self._fill_compare()

    # -- per label: colour, opacity, outline, highlight -----------------------------------

    def _entry(self, row: int) -> LegendEntry | None:
        session, case = self.state.session, self.state.current_case()
        item = self.legend.item(row, 0) if row >= 0 else None
        if session is None or case is None or item is None:
            return None
        value = int(item.data(Qt.ItemDataRole.UserRole))
        return next((e for e in session.legend(case) if e.value == value), None)

    def choose_colour(self, row: int, colour: QColor | None = None) -> bool:
        """Pick the colour of the legend row's category (a dialog unless ``colour``): it is
        the category's colour everywhere, exported label tables too; undoable."""
        entry = self._entry(row)
        if entry is None or entry.name is None:
            self.status.setText("Map this value to a category first: a colour is the "
                                "category's.")
            return False
        name = entry.name
        if colour is None:
            colour = QColorDialog.getColor(QColor(*entry.colour), self, f"Colour of {name}")
        if not colour.isValid():
            return False
        rgb = (colour.red(), colour.green(), colour.blue())
        self.state.edit(lambda s: s.set_colour(name, rgb), f"colour {name}", cases=[])
        self.recolour()
        return True

    def recolour(self) -> None:
        """Colours from the session again (a colour chosen, or undone)."""
        session, case = self.state.session, self.state.current_case()
        if session is None or case is None or self.preview.case() != case.name:
            return
        colours = session.colours(case)
        self.preview.set_colours(colours)
        for item in self._legend_items():
            rgb = colours.get(int(item.data(Qt.ItemDataRole.UserRole)))
            if rgb is not None:
                item.setIcon(swatch(rgb))

    def set_label_style(self, value: int, opacity: float | None = None,
                        outlined: bool | None = None) -> None:
        """A label's own opacity (None: the slider's) and outline, for this look only."""
        if opacity is None:
            self._own_opacity.pop(value, None)
        else:
            self._own_opacity[value] = opacity
        if outlined is not None:
            (self._outlined.add if outlined else self._outlined.discard)(value)
        self.preview.set_label_style(self._own_opacity, self._outlined)

    def _on_legend_double_clicked(self, row: int, _col: int) -> None:
        self.choose_colour(row)

    def _on_legend_menu_requested(self, pos: QPoint) -> None:
        row = self.legend.rowAt(pos.y())
        entry = self._entry(row)
        if entry is None:
            return
        value = entry.value
        menu = QMenu(self)
        menu.addAction("Colour…", lambda: self.choose_colour(row)).setEnabled(
            entry.name is not None)
        opacity = menu.addMenu("Opacity")
        for pct in (100, 75, 50, 25):
            act = opacity.addAction(f"{pct}%", partial(self.set_label_style, value, pct / 100))
            act.setCheckable(True)
            act.setChecked(self._own_opacity.get(value) == pct / 100)
        opacity.addAction("As the slider", lambda: self.set_label_style(value, None))
        outline = menu.addAction("Outline only")
        outline.setCheckable(True)
        outline.setChecked(value in self._outlined)
        outline.toggled.connect(lambda on: self.set_label_style(
            value, self._own_opacity.get(value), on))
        menu.exec(self.legend.viewport().mapToGlobal(pos))

    def _on_legend_cell_entered(self, row: int, _col: int) -> None:
        item = self.legend.item(row, 0)
        self.preview.set_highlight(int(item.data(Qt.ItemDataRole.UserRole))
                                   if item is not None else None)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.legend.viewport() and event.type() == QEvent.Type.Leave:
            self.preview.set_highlight(None)
        return super().eventFilter(watched, event)

    def _on_preview_label_clicked(self, value: int) -> None:
        """A click on a labelled voxel selects its legend row (the planes stay there)."""
        items = self._legend_items()
        row = next((n for n, item in enumerate(items)
                    if item.data(Qt.ItemDataRole.UserRole) == value), None)
        if row is None:
            return
        self._pointed = True
        try:
            self.legend.selectRow(row)
        finally:
            self._pointed = False

    def _legend_items(self) -> list[QTableWidgetItem]:
        """The first cell of every legend row (it holds the value and the tick)."""
        return [item for n in range(self.legend.rowCount())
                if (item := self.legend.item(n, 0)) is not None]

    def _on_show_all_clicked(self) -> None:
        self._filling = True
        for item in self._legend_items():
            item.setCheckState(Qt.CheckState.Checked)
        self._filling = False
        self.solo_button.setChecked(False)
        self._apply_visibility()

    def _apply_visibility(self, *_: object) -> None:
        visible = {int(item.data(Qt.ItemDataRole.UserRole)) for item in self._legend_items()
                   if item.checkState() == Qt.CheckState.Checked}
        solo = None
        current = self.legend.item(self.legend.currentRow(), 0) \
            if self.legend.currentRow() >= 0 else None
        if self.solo_button.isChecked() and current is not None:
            solo = int(current.data(Qt.ItemDataRole.UserRole))
        self.preview.set_label_visibility(visible, solo)
