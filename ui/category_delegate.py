"""The Category editor: a searchable combo of taxonomy categories with their colours.

Nested categories show as their path (``Abdomen / Liver``); typing filters by any
part of it. Without a taxonomy, any name can be typed (validation then reports
that categories were not checked).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from app.items import Category, Taxonomy, category_label
from ui.mapping_model import swatch

NOT_MAPPED = "(not mapped)"


def category_choices(taxonomy: Taxonomy | None, used: list[Category]
                     ) -> list[tuple[str, Category, Any]]:
    """(label, value written to the segmentMap, colour) for the combo, in taxonomy order."""
    if taxonomy is None:
        seen: dict[str, Category] = {}
        for c in used:
            if c is not None:
                seen.setdefault(category_label(c), c)
        return [(label, value, None) for label, value in sorted(seen.items())]
    return [(info.label, taxonomy.category_value(info), info.color)
            for info in taxonomy.segmentation_categories()]


class CategoryCombo(QComboBox):
    """An editable combo whose completer matches any part of the category path."""

    def __init__(self, choices: list[tuple[str, Category, Any]], free_text: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.setMaxVisibleItems(20)
        self.free_text = free_text
        self.addItem(NOT_MAPPED, None)
        for label, value, colour in choices:
            self.addItem(swatch(tuple(colour)) if colour else swatch(None), label, value)
        completer = QCompleter(self.model(), self)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setCompleter(completer)
        # The lists are as wide as their longest entry, not as the (narrow) column.
        fm = self.fontMetrics()
        widest = max((fm.horizontalAdvance(self.itemText(n)) for n in range(self.count())),
                     default=0) + self.iconSize().width() + 48
        for view in (self.view(), completer.popup()):
            if view is not None:
                view.setMinimumWidth(widest)
        self.setToolTip("Type to search the taxonomy; Enter to choose, Esc to cancel")

    def _index_of(self, text: str) -> int:
        """The item shown as ``text``, or whose segmentMap value reads as ``text``."""
        i = self.findText(text, Qt.MatchFlag.MatchFixedString)
        if i > 0:
            return i
        for n in range(1, self.count()):
            if category_label(self.itemData(n)).lower() == text.lower():
                return n
        return -1

    def set_category(self, category: Category | None) -> None:
        if category is None:
            self.setCurrentIndex(0)
            return
        for n in range(1, self.count()):
            if self.itemData(n) == category:
                self.setCurrentIndex(n)
                return
        label = category_label(category)
        i = self._index_of(label)
        if i > 0:
            self.setCurrentIndex(i)
        else:
            self.setEditText(label)

    def category(self) -> tuple[bool, Category | None]:
        """(valid, category): what the user chose; invalid when the text matches nothing."""
        text = self.currentText().strip()
        if not text or text == NOT_MAPPED:
            return True, None
        i = self._index_of(text)
        if i > 0:
            return True, self.itemData(i)
        if self.free_text:
            return True, [p.strip() for p in text.split("/")] if "/" in text else text
        return False, None


class CategoryDelegate(QStyledItemDelegate):
    """Edits the Category column with a CategoryCombo."""

    refused = Signal(str)  # typed text that names no taxonomy category

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.taxonomy: Taxonomy | None = None
        # With no taxonomy, the categories some case maps to (the choices): asked when an
        # editor opens, as it takes a pass over every case.
        self.used: Callable[[], list[Category]] = list

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem,
                     index: QModelIndex | QPersistentModelIndex) -> QWidget:
        used = self.used() if self.taxonomy is None else []
        combo = CategoryCombo(category_choices(self.taxonomy, used),
                              free_text=self.taxonomy is None, parent=parent)
        return combo

    def setEditorData(self, editor: QWidget, index: QModelIndex | QPersistentModelIndex) -> None:
        assert isinstance(editor, CategoryCombo)
        editor.set_category(index.data(Qt.ItemDataRole.EditRole))

    def setModelData(self, editor: QWidget, model: QAbstractItemModel,
                     index: QModelIndex | QPersistentModelIndex) -> None:
        assert isinstance(editor, CategoryCombo)
        ok, category = editor.category()
        if ok:
            model.setData(index, category, Qt.ItemDataRole.EditRole)
        else:
            self.refused.emit(editor.currentText().strip())
