"""The table models pass Qt's model tester and edit the items list as a user would."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.items import load_taxonomy
from app.progress import run
from app.session import RowStatus, open_folder
from ui.cases_model import COL_INCLUDE, COL_MAPPING, CasesModel
from ui.category_delegate import CategoryCombo, category_choices
from ui.mapping_model import COL_CATEGORY, COL_STATUS, MappingTableModel


@pytest.fixture
def session(demo_dataset):
    return run(open_folder(demo_dataset.root, load_taxonomy(demo_dataset.taxonomy_json)))


def case_of(session, mode):
    return next(c for c in session.cases if c.shape == mode)


def test_mapping_model_passes_the_model_tester(qtmodeltester, session):
    model = MappingTableModel()
    model.set_case(session, case_of(session, "I"))
    qtmodeltester.check(model, force_py=True)


def test_cases_model_passes_the_model_tester(qtmodeltester, session):
    model = CasesModel()
    model.set_session(session)
    qtmodeltester.check(model, force_py=True)


def test_editing_the_category_column_maps_the_value(qtbot, session):
    model = MappingTableModel()
    case = case_of(session, "I")
    model.set_case(session, case)
    last = model.rowCount() - 1
    assert model.row_at(last).status == RowStatus.UNMAPPED
    assert "view-only" in model.data(model.index(last, COL_STATUS), Qt.ItemDataRole.ToolTipRole)
    with qtbot.waitSignals([model.mappingChanged, model.dataChanged]):
        assert model.setData(model.index(last, COL_CATEGORY), "Spleen")
    assert model.row_at(last).status == RowStatus.OK
    assert case.series.segment_map.segments[7].category == "Spleen"
    assert model.data(model.index(0, COL_STATUS)) == "suggested: review"
    assert model.row_at(0).status == RowStatus.SUGGESTED


def test_category_combo_searches_the_taxonomy_and_refuses_unknown_text(qtbot, session):
    combo = CategoryCombo(category_choices(session.taxonomy, []), free_text=False)
    qtbot.addWidget(combo)
    combo.set_category("Liver Tumor")
    assert combo.category() == (True, "Liver Tumor")
    combo.setEditText("Liverr")
    assert combo.category() == (False, None)
    combo.setEditText("(not mapped)")
    assert combo.category() == (True, None)
    # Without a taxonomy, any name can be typed (nested with "/").
    free = CategoryCombo(category_choices(None, ["Liver"]), free_text=True)
    qtbot.addWidget(free)
    free.setEditText("Abdomen / Pancreas")
    assert free.category() == (True, ["Abdomen", "Pancreas"])


def test_unticking_a_case_excludes_it(qtbot, session):
    model = CasesModel()
    model.set_session(session)
    with qtbot.waitSignal(model.includedChanged):
        model.setData(model.index(0, COL_INCLUDE), Qt.CheckState.Unchecked.value,
                      Qt.ItemDataRole.CheckStateRole)
    assert not session.cases[0].included
    assert "to review" in model.data(model.index(0, COL_MAPPING))
