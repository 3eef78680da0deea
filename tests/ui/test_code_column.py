"""The Mapping table's Code column: the SNOMED CT code of each row's category, suggested in
grey until confirmed, edited in place (undoable), a bad code refused with a clear message."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.items import load_taxonomy
from app.progress import run
from app.session import open_folder
from ui import errors
from ui.mapping_model import COL_CODE, MappingTableModel


@pytest.fixture
def state(window, demo_dataset):
    """The wizard's own state (owned by its window, as in the app), on the demo."""
    s = window.state
    s.set_session(run(open_folder(demo_dataset.root, load_taxonomy(demo_dataset.taxonomy_json))))
    return s


def _grey(brush) -> bool:
    return brush is not None and brush.color().getRgb()[:3] == (110, 110, 110)


def _liver_row(model):
    return next(i for i, r in enumerate(model.rows()) if r.category == "Liver")


def test_the_code_is_suggested_then_confirmed_by_an_edit_and_undone(qtbot, window, state):
    model = MappingTableModel(state, window)  # parented, as the Mapping page's is
    case = next(c for c in state.session.cases if c.shape == "I")
    model.set_case(state.session, case)
    i = _liver_row(model)
    index = model.index(i, COL_CODE)
    assert model.data(index) == "Liver (SCT:10200004)"
    assert model.data(index, Qt.ItemDataRole.EditRole) == "SCT:10200004"
    assert "suggested" in model.data(index, Qt.ItemDataRole.ToolTipRole)
    assert _grey(model.data(index, Qt.ItemDataRole.ForegroundRole))
    assert model.flags(index) & Qt.ItemFlag.ItemIsEditable
    assert model.setData(index, "SCT:39607008")
    assert model.data(index, Qt.ItemDataRole.EditRole) == "SCT:39607008"
    assert "you confirmed" in model.data(index, Qt.ItemDataRole.ToolTipRole)
    assert not _grey(model.data(index, Qt.ItemDataRole.ForegroundRole))
    state.undo_stack.undo()  # puts copies of the cases back; the page shows them again
    model.set_case(state.session, state.session.case(case.name))
    assert model.data(model.index(i, COL_CODE), Qt.ItemDataRole.EditRole) == "SCT:10200004"


def test_a_bad_code_is_refused_with_a_message(qtbot, window, state, monkeypatch):
    shown = []
    monkeypatch.setattr(errors, "show", lambda exc, details=None, parent=None: shown.append(exc))
    model = MappingTableModel(state, window)
    model.set_case(state.session, state.session.cases[0])
    i = _liver_row(model)
    assert not model.setData(model.index(i, COL_CODE), "liver please")
    assert shown and "SCT" in f"{shown[0].message} {shown[0].hint}"
    assert model.data(model.index(i, COL_CODE), Qt.ItemDataRole.EditRole) == "SCT:10200004"
