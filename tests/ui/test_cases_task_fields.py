"""The Cases page's task names and fields: the Task name column (editable), the name pattern,
Load task fields…; all through the session, undoable, and in the exported items list."""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from app.items import load_items
from ui import errors
from ui.cases_model import COL_TASK
from ui.pages.cases_page import CasesPage
from ui.pages.source_page import SourcePage


def open_demo(qtbot, window, root: Path) -> CasesPage:
    window.page(SourcePage).open_path(root)
    qtbot.waitUntil(lambda: not window.busy(), timeout=60_000)
    page = window.page(CasesPage)
    assert window.stack.currentWidget() is page
    return page


def test_task_names_and_fields_reach_the_exported_list(qtbot, window, demo_dataset, tmp_path,
                                                       monkeypatch, qtmodeltester):
    page = open_demo(qtbot, window, demo_dataset.root)
    state, model = window.state, page.model
    qtmodeltester.check(model, force_py=True)
    shown: list[BaseException] = []
    monkeypatch.setattr(errors, "show", lambda exc, *_a, **_k: shown.append(exc))
    session = state.session
    first, second = session.cases[0], session.cases[1]

    # The pattern names every task; a name used twice gets -2.
    page.name_pattern.setText("{patient_id}-{modality}")
    page.name_pattern.editingFinished.emit()
    assert model.index(0, COL_TASK).data() == "SEGMAP-DEMO-001-CT"
    assert model.index(1, COL_TASK).data() == "SEGMAP-DEMO-001-CT-2"
    assert "taken by an earlier case" in model.index(1, COL_TASK).data(
        Qt.ItemDataRole.ToolTipRole)

    # A task's own name, edited in the table; an unknown placeholder is refused and said.
    assert model.flags(model.index(1, COL_TASK)) & Qt.ItemFlag.ItemIsEditable
    assert model.setData(model.index(1, COL_TASK), "second-{case}")
    assert model.index(1, COL_TASK).data() == f"second-{second.name}"
    assert not model.setData(model.index(0, COL_TASK), "{nope}")
    assert len(shown) == 1 and "{nope}" in str(shown[0])

    # Load task fields…: a bad file is shown and changes nothing; a good one is applied.
    bad = tmp_path / "bad.csv"
    bad.write_text("case,priority\nnobody,0.5\n")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(bad), ""))
    page.load_fields.click()
    assert len(shown) == 2 and "row 2" in str(shown[1]) and first.fields.priority is None
    good = tmp_path / "fields.csv"
    good.write_text(f"case,priority,meta.site,label.Liver.Volume\n{first.name},0.8,A,120\n")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(good), ""))
    page.load_fields.click()
    assert first.fields.priority == 0.8 and "1 case(s) changed" in page.fields_label.text()
    page.table.selectRow(0)
    assert "Priority: 0.8" in page.details.toPlainText()
    assert "Task name: SEGMAP-DEMO-001-CT\n" in page.details.toPlainText()
    assert "Liver attributes: Volume = 120" in page.details.toPlainText()

    # Undo takes the load back, redo puts it again; the pattern is undone with its edit.
    state.undo_stack.undo()
    assert state.session.cases[0].fields.priority is None
    state.undo_stack.redo()
    assert state.session.cases[0].fields.priority == 0.8

    out = tmp_path / "out" / "items.json"
    state.session.export(out)
    tasks = {t["name"]: t for t in json.loads(out.read_text())}
    assert set(tasks) >= {"SEGMAP-DEMO-001-CT", f"second-{second.name}"}
    task = tasks["SEGMAP-DEMO-001-CT"]
    assert (task["priority"], task["metaData"]) == (0.8, {"site": "A"})
    livers = [v for s in task["series"] for v in (s.get("segmentMap") or {}).values()
              if isinstance(v, dict) and v.get("category") == "Liver"]
    assert livers and all(v["attributes"] == {"Volume": 120} for v in livers)
    assert load_items(out).to_json() == json.loads(out.read_text())
    if os.environ.get("SEGMAP_GRAB"):  # to look at the layout: SEGMAP_GRAB=cases.png
        qtbot.wait(50)  # the layout settles
        page.grab().save(os.environ["SEGMAP_GRAB"])

    # Undo the pattern: the field shows the one before.
    while state.session.name_pattern is not None and state.undo_stack.canUndo():
        state.undo_stack.undo()
    assert page.name_pattern.text() == ""
    assert model.index(0, COL_TASK).data() == first.name
