"""Upload from the wizard's last page to a RedBrick-protocol server on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from app.upload._report import TaskState
from ui import errors
from ui.pages.source_page import SourcePage

from ..app.rb_server import API_KEY, ORG, PROJECT, RBServer


@pytest.fixture
def shown(monkeypatch):
    seen = []
    monkeypatch.setattr(errors, "show", lambda exc, details=None, parent=None: seen.append(exc))
    return seen


def exported(qtbot, window, demo, tmp_path):
    source = window.page(SourcePage)
    source.load_taxonomy(demo.taxonomy_json)
    source.open_path(demo.items_json)
    qtbot.waitUntil(lambda: not window.busy(), timeout=60_000)
    window.go_to(4)
    qtbot.waitUntil(lambda: not window.busy(), timeout=60_000)
    window.pages[4].accept_warnings.setChecked(True)
    window.go_to(5)
    page = window.pages[5]
    page.path_edit.setText(str(tmp_path / "up" / "items.json"))
    assert page.export() is not None
    return page.upload


def fill(form, server, key=API_KEY):
    form.url.setText(server.url)
    form.org.setText(ORG)
    form.project.setText(PROJECT)
    form.key.setText(key)


def test_upload_from_the_wizard_creates_every_task(qtbot, window, demo_dataset, tmp_path, shown):
    server = RBServer(taxonomy=json.loads(demo_dataset.taxonomy_json.read_text())).start()
    try:
        panel = exported(qtbot, window, demo_dataset, tmp_path)
        fill(panel, server)
        panel.upload_button.click()
        qtbot.waitUntil(lambda: panel.report is not None, timeout=120_000)
        assert shown == []
        assert panel.report.ok, panel.report.summary()
        assert sorted(server.datapoints) == sorted(t.name for t in panel.report.tasks)
        states = {panel.table.item(r, 1).text() for r in range(panel.table.rowCount())}
        assert states == {str(TaskState.CREATED)}
        assert not panel.retry_button.isEnabled()
        # Uploading again resumes from the journal: nothing is created twice.
        panel.upload_button.click()
        qtbot.waitUntil(lambda: not window.busy(), timeout=60_000)
        assert all(n == 1 for n in server.creations.values())
        # The key was only used in memory: not in the exported list, the journal or settings.
        for path in (tmp_path / "up").iterdir():
            assert API_KEY not in path.read_text(errors="ignore"), path
        assert API_KEY not in (tmp_path / "settings.ini").read_text(errors="ignore") \
            if (tmp_path / "settings.ini").exists() else True
    finally:
        server.stop()


def test_a_wrong_key_fails_once_with_a_clear_message(qtbot, window, demo_dataset, tmp_path,
                                                     shown):
    server = RBServer(taxonomy=json.loads(demo_dataset.taxonomy_json.read_text())).start()
    try:
        panel = exported(qtbot, window, demo_dataset, tmp_path)
        fill(panel, server, key="x" * 43)
        panel.upload_button.click()
        qtbot.waitUntil(lambda: not window.busy(), timeout=60_000)
        assert server.requests == 1  # 401: no retry storm
        assert "Upload failed" in panel.status.text() and shown
    finally:
        server.stop()


def test_taxonomy_from_a_redbrick_project(qtbot, window, demo_dataset, shown):
    from ui.project_dialog import ProjectDialog

    server = RBServer(taxonomy=json.loads(demo_dataset.taxonomy_json.read_text())).start()
    try:
        dialog = ProjectDialog(window, window.state)
        qtbot.addWidget(dialog)
        fill(dialog, server)
        with qtbot.waitSignal(dialog.accepted, timeout=30_000):
            dialog.load_button.click()
        assert dialog.taxonomy is not None
        names = {c.name for c in dialog.taxonomy.segmentation_categories()}
        assert {"Liver", "Spleen", "Liver Tumor"} <= names
        short = ProjectDialog(window, window.state)
        qtbot.addWidget(short)
        short.key.setText("too short")
        short.org.setText(ORG)
        short.project.setText(PROJECT)
        short.load_button.click()
        assert "43" in short.status.text() and short.taxonomy is None
    finally:
        server.stop()


def test_ids_are_checked_before_anything_is_sent(qtbot, window, demo_dataset, tmp_path, shown):
    server = RBServer(taxonomy=json.loads(demo_dataset.taxonomy_json.read_text())).start()
    try:
        panel = exported(qtbot, window, demo_dataset, tmp_path)
        fill(panel, server)
        panel.org.setText("my organization")
        panel.upload_button.click()
        assert server.requests == 0 and not window.busy()
        [exc] = shown
        assert "organization id 'my organization' is not a RedBrick id" in exc.message
        assert panel.status.text().startswith("Not uploaded: The organization id")
    finally:
        server.stop()


def test_an_unreachable_server_is_one_sentence(qtbot, window, demo_dataset, tmp_path, shown,
                                               monkeypatch):
    import socket

    from app.upload import TransientError, _client

    monkeypatch.setattr(_client.RetryPolicy, "delay", lambda self, failures, after=None: 0.001)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    details = []
    monkeypatch.setattr(errors, "show", lambda exc, d=None, parent=None: (shown.append(exc),
                                                                         details.append(d)))
    panel = exported(qtbot, window, demo_dataset, tmp_path)
    panel.url.setText(f"http://localhost:{port}")
    panel.org.setText(ORG)
    panel.project.setText(PROJECT)
    panel.key.setText(API_KEY)
    panel.upload_button.click()
    qtbot.waitUntil(lambda: bool(shown), timeout=60_000)
    [exc] = shown
    assert isinstance(exc, TransientError)
    assert panel.status.text() == ("Upload failed: Checking the RedBrick project failed after 5 "
                                   "attempts: localhost refused the connection.")
    assert "HTTPConnectionPool" not in panel.status.text() + exc.message
    assert "HTTPConnectionPool" in details[0]  # the library's words: in the details only


def test_the_project_dialog_checks_ids_first(qtbot, window):
    from ui.project_dialog import ProjectDialog

    dialog = ProjectDialog(window, window.state)
    qtbot.addWidget(dialog)
    dialog.org.setText(ORG)
    dialog.project.setText("project 7")
    dialog.key.setText(API_KEY)
    dialog.load_button.click()
    assert "project id 'project 7' is not a RedBrick id" in dialog.status.text()
    assert dialog.load_button.isEnabled() and dialog.taxonomy is None
