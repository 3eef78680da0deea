"""Report… on the Validate page: a folder asked for, the dataset report written there as long
work (progress and Cancel), then offered to open in the browser."""

from __future__ import annotations

import importlib.util
import sys
import types
from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox

from app.progress import Progress
from ui.pages.source_page import SourcePage
from ui.pages.validate_page import ValidatePage


def validate_page_of_demo(qtbot, window, demo_dataset) -> ValidatePage:
    source = window.page(SourcePage)
    source.load_taxonomy(demo_dataset.taxonomy_json)
    source.open_path(demo_dataset.root)
    qtbot.waitUntil(lambda: not window.busy(), timeout=60_000)
    page = window.page(ValidatePage)
    window.go_to(window.page_index(page))
    qtbot.waitUntil(lambda: not window.busy(), timeout=60_000)
    return page


@pytest.fixture
def opened(monkeypatch):
    """The URLs the page asks the desktop to open; the question answered Open."""
    urls: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: urls.append(url.toLocalFile()))
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: QMessageBox.StandardButton.Open)
    return urls


@dataclass
class FakeSummary:
    index: Path
    cases: int


def test_report_runs_write_report_on_the_session_as_long_work(qtbot, window, demo_dataset,
                                                              tmp_path, monkeypatch, opened):
    calls = []

    def write_report(session, out, *, taxonomy=None, **kw):
        calls.append((session, Path(out), taxonomy, kw))
        yield Progress(0, 1, "Case one")
        index = Path(out) / "index.html"
        index.write_text("<html></html>")
        return FakeSummary(index, len(session.cases))

    fake = types.ModuleType("app.report")
    fake.write_report = write_report  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "app.report", fake)
    page = validate_page_of_demo(qtbot, window, demo_dataset)
    out = tmp_path / "report"
    out.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(out))
    page.report_button.click()
    qtbot.waitUntil(lambda: bool(opened), timeout=60_000)
    session, folder, taxonomy, _ = calls[0]
    # a frozen copy of the session: the user may edit on while it runs
    assert session is not window.state.session and folder == out
    assert [c.name for c in session.cases] == [c.name for c in window.state.session.cases]
    assert taxonomy is window.state.taxonomy and taxonomy is not None
    assert opened == [str(out / "index.html")]


def test_no_folder_chosen_writes_nothing(qtbot, window, demo_dataset, monkeypatch, opened):
    fake = types.ModuleType("app.report")
    fake.write_report = lambda *a, **k: pytest.fail("no report without a folder")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "app.report", fake)
    page = validate_page_of_demo(qtbot, window, demo_dataset)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: "")
    page.report_button.click()
    assert not window.busy() and opened == []


def test_closing_the_question_opens_nothing(qtbot, window, demo_dataset, tmp_path,
                                            monkeypatch, opened):
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Close)
    page = validate_page_of_demo(qtbot, window, demo_dataset)
    page._on_report_written(FakeSummary(tmp_path / "index.html", 3))  # type: ignore[arg-type]
    assert opened == []


@pytest.mark.skipif(importlib.util.find_spec("app.report") is None,
                    reason="app.report is not there yet")
def test_the_real_report_of_the_demo_is_written_and_opened(qtbot, window, demo_dataset, tmp_path,
                                                           monkeypatch, opened):
    failures: list[BaseException] = []  # an error dialog would wait for a click forever
    monkeypatch.setattr("ui.errors.show", lambda exc, *a, **k: failures.append(exc))
    page = validate_page_of_demo(qtbot, window, demo_dataset)
    out = tmp_path / "report"
    out.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(out))
    page.report_button.click()
    qtbot.waitUntil(lambda: bool(opened or failures), timeout=120_000)
    assert not failures
    index = Path(opened[0])
    assert index == out / "index.html" and index.is_file()
    for case in window.state.session.cases:
        assert case.name in index.read_text(encoding="utf-8")


@pytest.mark.parametrize("answer", [QMessageBox.StandardButton.Yes,
                                    QMessageBox.StandardButton.Cancel])
def test_an_index_html_segmap_did_not_write_is_replaced_only_when_asked(
        qtbot, window, demo_dataset, tmp_path, monkeypatch, opened, answer):
    calls = []

    def write_report(session, out, **kw):
        calls.append(kw)
        yield Progress(0, 1, "Case one")
        return FakeSummary(Path(out) / "index.html", len(session.cases))

    fake = types.ModuleType("app.report")
    fake.write_report = write_report  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "app.report", fake)
    asked = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: asked.append(a[2]) or answer)
    page = validate_page_of_demo(qtbot, window, demo_dataset)
    out = tmp_path / "site"
    out.mkdir()
    (out / "index.html").write_text("<html>someone's page</html>")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(out))
    page.report_button.click()
    assert len(asked) == 1 and "index.html" in asked[0]
    if answer == QMessageBox.StandardButton.Yes:
        qtbot.waitUntil(lambda: bool(opened), timeout=60_000)
        assert calls[0]["force"] is True
    else:
        assert calls == [] and not window.busy()
