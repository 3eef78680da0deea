"""Masks onto tasks already in RedBrick, from the wizard, against the local RedBrick server.

The Source page lists a project's tasks, the Cases table says each case's task (or why it
has none), and the Export page's Upload panel attaches the labels: asking first when a
task has labels, and each label reaching the server exactly once.
"""

from __future__ import annotations

import uuid

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.upload import Credentials, Destination, MatchBy, TaskState
from ui import errors
from ui.pages.cases_page import CasesPage
from ui.pages.export_page import ExportPage
from ui.pages.source_page import SourcePage
from ui.pages.validate_page import ValidatePage
from ui.project_dialog import ProjectDialog
from ui.remote_views import REMOTE_HEADER

from ..app.rb_server import API_KEY, ORG, PROJECT, RBServer, make_items

OLD_LABELS = [{"seriesIndex": 0, "labelName": f"{ORG}/{PROJECT}/old-labels.nii.gz"}]


@pytest.fixture(autouse=True)
def _state_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # upload locks


@pytest.fixture
def shown(monkeypatch):
    seen: list[BaseException] = []
    monkeypatch.setattr(errors, "show", lambda exc, details=None, parent=None: seen.append(exc))
    return seen


@pytest.fixture
def server():
    rb = RBServer().start()
    yield rb
    rb.stop()


def _task_id(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def seeded(server: RBServer, tmp_path):
    """Four local cases; in RedBrick: the first two by name (the second with labels), the
    third by name but with 7 slices (its masks have 4: refused), a task no case has."""
    items_path = make_items(tmp_path / "local", 4)
    names = ["case-000-I", "case-001-II", "case-002-III"]
    server.add_task(names[0], task_id=_task_id(names[0]), assignee=server.key_user)
    server.add_task(names[1], task_id=_task_id(names[1]), assignee=server.key_user,
                    labels_map=OLD_LABELS)
    server.add_task(names[2], task_id=_task_id(names[2]), series=[
        {"name": "CT", "itemsIndices": list(range(7)), "dataType": "NIFTI", "metaData": None,
         "imageHeaders": None}])
    server.add_task("other-task", task_id=_task_id("other-task"))
    return items_path


def list_and_open(qtbot, window, server, items_path, monkeypatch):
    """The project chosen in its dialog on the Source page (the key typed there), its tasks
    listed, then the local items list opened."""

    def exec_(dialog: ProjectDialog) -> int:
        assert dialog.load_button.text() == "List tasks"
        for edit, text in ((dialog.url, server.url), (dialog.org, ORG),
                           (dialog.project, PROJECT), (dialog.key, API_KEY)):
            edit.setText(text)
        with qtbot.waitSignal(dialog.accepted, timeout=30_000):
            dialog.load_button.click()
        return int(dialog.result())

    monkeypatch.setattr(ProjectDialog, "exec", exec_)
    box = window.page(SourcePage).remote_box
    box.choose_button.click()
    qtbot.waitUntil(lambda: window.state.remote.chosen and not window.busy(), timeout=30_000)
    assert window.state.remote.destination == Destination(server.url, ORG, PROJECT)
    assert window.state.taxonomy is not None  # the project's own
    window.page(SourcePage).open_path(items_path)
    settled(qtbot, window)
    return box


def settled(qtbot, window):
    qtbot.waitUntil(lambda: not window.busy() and not window.state.remote.matching,
                    timeout=60_000)


def column(window) -> dict[str, str]:
    """The RedBrick task column's text by case."""
    model = window.page(CasesPage).model
    col = model.remote_column
    assert model.headerData(col, Qt.Orientation.Horizontal) == REMOTE_HEADER
    return {model.case_at(r).name: model.index(r, col).data() for r in range(model.rowCount())}


def test_cases_show_their_task_or_why_not(qtbot, window, server, tmp_path, shown,
                                          qtmodeltester, monkeypatch):
    items_path = seeded(server, tmp_path)
    box = list_and_open(qtbot, window, server, items_path, monkeypatch)
    assert shown == []
    assert box.summary.text() == ("Project Test project: 4 task(s) found, 1 with labels; 2 of 4 "
                                  "included case(s) matched by task name.")
    cells = column(window)
    assert cells["case-000-I"] == "case-000-I · Label"
    assert cells["case-001-II"] == "case-001-II · Label · has labels"
    assert cells["case-002-III"].startswith("refused: mask m1.nii.gz (8x8x4")
    assert "the remote series has 7 slices" in cells["case-002-III"]
    assert cells["case-003-I"].startswith("no task: no task in the project is named "
                                          "'case-003-I'")
    page = window.page(CasesPage)
    assert not page.table.isColumnHidden(page.model.remote_column)
    # case-002-III's task was matched (its case refused): only other-task is left over.
    assert page.remote_line.text() == "RedBrick tasks no case matched (1): other-task."
    qtmodeltester.check(page.model)

    # Leaving a case out matches again: it is said left out, the others keep their tasks.
    last = page.model.row_of("case-003-I")
    page.model.setData(page.model.index(last, 0), Qt.CheckState.Unchecked.value,
                       Qt.ItemDataRole.CheckStateRole)
    settled(qtbot, window)
    assert column(window)["case-003-I"] == "— (case left out)"
    assert "2 of 3 included case(s)" in box.summary.text()

    # By series name, every local "CT" fits every remote "CT": nothing is guessed.
    box.choose_match(MatchBy.SERIES)
    settled(qtbot, window)
    assert column(window)["case-000-I"].startswith("ambiguous: fits 4 tasks ('case-000-I'")
    assert box.match.currentData() == MatchBy.SERIES

    # A CSV joins a mask to a task by name: one case matched, the rest say why not.
    csv = tmp_path / "join.csv"
    csv.write_text("task,mask_path\nother-task,local/case-000-I/seg.nii.gz\n")
    box.choose_match(MatchBy.CSV, csv)
    settled(qtbot, window)
    cells = column(window)
    assert cells["case-000-I"] == "other-task · Label"
    assert cells["case-001-II"] == "no task: no row of join.csv names any of its masks"

    # Back to creating tasks: the column and the line are gone.
    box.forget_button.click()
    assert page.table.isColumnHidden(page.model.remote_column)
    assert not page.remote_line.isVisibleTo(page)
    assert box.summary.text().startswith("None: the export creates new tasks")


def exported_panel(qtbot, window, tmp_path):
    window.go_to(window.page_index(window.page(ValidatePage)))
    settled(qtbot, window)
    window.page(ValidatePage).accept_warnings.setChecked(True)
    export = window.page(ExportPage)
    window.go_to(window.page_index(export))
    export.path_edit.setText(str(tmp_path / "up" / "items.json"))
    assert export.export() is not None
    return export.upload


def answer(monkeypatch, button: str | None) -> list[str]:
    """Every question box is answered with ``button`` (None: Cancel); returns what it said."""
    asked: list[str] = []

    def exec_(box: QMessageBox) -> int:
        asked.append(f"{box.text()}\n{box.informativeText()}")
        chosen = next((b for b in box.buttons() if b.text() == button),
                      box.button(QMessageBox.StandardButton.Cancel))
        chosen.click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    return asked


def test_labels_attach_once_after_asking_to_replace(qtbot, window, server, tmp_path, shown,
                                                    monkeypatch):
    items_path = seeded(server, tmp_path)
    list_and_open(qtbot, window, server, items_path, monkeypatch)
    panel = exported_panel(qtbot, window, tmp_path)
    assert panel.upload_button.text() == "&Attach labels to 2 task(s)"
    assert panel.upload_button.isEnabled() and panel.project.isReadOnly()
    # Any stage, or the project's Label stages (its Output stage takes no labels).
    assert [panel.stage.itemData(i) for i in range(panel.stage.count())] == [None, "Label"]
    assert not panel.finalize.isChecked()  # any stage: left open, as the SDK does
    asked = answer(monkeypatch, "&Replace their labels")
    panel.upload_button.click()
    qtbot.waitUntil(lambda: panel.report is not None and not window.busy(), timeout=60_000)
    assert shown == []
    [question] = asked
    assert "1 of the matched task(s) already have labels" in question
    assert "• case-001-II (Label)" in question and "case-000-I" not in question
    assert panel.report.ok, panel.report.summary()
    assert dict(server.attached) == {_task_id("case-000-I"): 1, _task_id("case-001-II"): 1}
    states = {panel.table.item(r, 0).text(): panel.table.item(r, 1).text()
              for r in range(panel.table.rowCount())}
    assert states == {"case-000-I": str(TaskState.ATTACHED),
                      "case-001-II": str(TaskState.ATTACHED)}
    assert server.variables("updateTasksLabelsSDK")[0]["finalize"] is False
    # Listed again after attaching: both tasks have labels now, and the Cases page says so.
    settled(qtbot, window)
    assert column(window)["case-000-I"] == "case-000-I · Label · has labels"
    # Attaching again sends nothing twice (the journal), and asks nothing.
    panel.upload_button.click()
    qtbot.waitUntil(lambda: not window.busy(), timeout=60_000)
    settled(qtbot, window)
    assert len(asked) == 1
    assert set(server.attached.values()) == {1}
    assert {t.state for t in panel.report.tasks} == {TaskState.ATTACHED_BEFORE}
    # The key was used in memory only: in no file the wizard wrote (settings, autosave,
    # the exported list and its journal).
    window.state.dirty = True
    window.state.save_now()
    written = [f for f in tmp_path.rglob("*") if f.is_file() and "local" not in f.parts]
    assert any(f.name == "autosave.json" for f in written)
    for f in written:
        assert API_KEY.encode() not in f.read_bytes(), f


def test_keeping_the_labels_sends_nothing(qtbot, window, server, tmp_path, shown, monkeypatch):
    items_path = seeded(server, tmp_path)
    list_and_open(qtbot, window, server, items_path, monkeypatch)
    panel = exported_panel(qtbot, window, tmp_path)
    panel.stage.setCurrentIndex(panel.stage.findData("Label"))
    assert panel.finalize.isChecked()  # put into a Label stage: submitted, as the SDK does
    asked = answer(monkeypatch, None)
    panel.upload_button.click()
    qtbot.waitUntil(lambda: bool(asked) and not window.busy(), timeout=60_000)
    assert not server.attached and not server.mutations()
    assert panel.status.text() == ("Not attached: 1 task(s) have labels you chose to keep; "
                                   "nothing was sent.")
    assert shown == []


def test_a_listing_that_fails_is_one_clear_message(qtbot, window, server, tmp_path, shown):
    box = window.page(SourcePage).remote_box
    box.list_tasks(Destination(server.url, ORG, PROJECT), Credentials("x" * 43, "test"))
    qtbot.waitUntil(lambda: bool(shown) and not window.busy(), timeout=30_000)
    assert box.summary.text().startswith("Not listed: ")
    assert "Traceback" not in box.summary.text()
    assert not window.state.remote.chosen
    assert server.requests == 1  # a refused key is not retried


def test_retry_failed_attaches_only_the_task_that_failed(qtbot, window, server, tmp_path, shown,
                                                         monkeypatch):
    items_path = seeded(server, tmp_path)
    list_and_open(qtbot, window, server, items_path, monkeypatch)
    panel = exported_panel(qtbot, window, tmp_path)
    answer(monkeypatch, "&Replace their labels")
    gone = server.tasks.pop(_task_id("case-000-I"))  # deleted in RedBrick after the listing
    panel.upload_button.click()
    qtbot.waitUntil(lambda: panel.report is not None and not window.busy(), timeout=60_000)
    settled(qtbot, window)
    failed = [t.name for t in panel.report.tasks if not t.ok]
    assert failed == ["case-000-I"] and dict(server.attached) == {_task_id("case-001-II"): 1}
    assert "Not sent, matched to no task (2): case-002-III, case-003-I." in panel.status.text()
    assert panel.retry_button.isEnabled()
    assert column(window)["case-000-I"].startswith("no task: ")  # listed again: it is gone
    server.tasks[gone["taskId"]] = gone  # back in RedBrick; the user lists the tasks again
    window.page(SourcePage).remote_box.refresh_button.click()
    settled(qtbot, window)
    panel.retry_button.click()
    qtbot.waitUntil(lambda: not window.busy() and panel.report.ok, timeout=60_000)
    settled(qtbot, window)
    assert [t.name for t in panel.report.tasks] == ["case-000-I"]
    assert dict(server.attached) == {_task_id("case-000-I"): 1, _task_id("case-001-II"): 1}
    assert not panel.retry_button.isEnabled() and shown == []


def test_a_listing_cancelled_keeps_creating_tasks(qtbot, window, server, tmp_path, shown):
    box = window.page(SourcePage).remote_box
    box.list_tasks(Destination(server.url, ORG, PROJECT), Credentials(API_KEY, "test"))
    assert window.busy()
    window.cancel_button.click()
    qtbot.waitUntil(lambda: not window.busy(), timeout=30_000)
    assert not window.state.remote.chosen and shown == []
    assert box.summary.text().startswith("None: the export creates new tasks")
