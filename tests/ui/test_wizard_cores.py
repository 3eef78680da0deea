"""The wizard's scan on every core (issue 14): on its QThread the workers start by the
fork server; the window's Cancel closes the work and no worker process is left."""

from __future__ import annotations

from multiprocessing import forkserver
from pathlib import Path

import psutil
import pytest

import app.session._open as opening
from tests.app import synth_layouts as synth
from ui.pages.source_page import SourcePage
from ui.pages.validate_page import ValidatePage


def _workers() -> list[psutil.Process]:
    """The fork server's children: the pool's workers (the server itself stays)."""
    pid = getattr(forkserver._forkserver, "_forkserver_pid", None)
    if pid is None or not psutil.pid_exists(pid):
        return []
    return psutil.Process(pid).children()


def _nnunet(root: Path, cases: int, shape: tuple[int, int, int] = (48, 48, 24)) -> Path:
    for i in range(cases):
        synth.image(root / "imagesTr" / f"case_{i:03d}_0000.nii.gz", shape=shape)
        synth.labelmap(root / "labelsTr" / f"case_{i:03d}.nii.gz", (1, 2), shape=shape)
    return root


def _cancel_once_on_the_pool(qtbot, window) -> None:
    """Wait for the pool's workers, press Cancel, and see every one of them gone."""
    qtbot.waitUntil(lambda: len(_workers()) > 0, timeout=60_000)
    seen = _workers()
    assert window.busy()
    window.cancel_button.click()
    qtbot.waitUntil(lambda: not window.busy(), timeout=20_000)  # no hang
    _, alive = psutil.wait_procs(seen, timeout=10)
    assert alive == []
    assert _workers() == []


def test_cancel_mid_scan_stops_every_worker(qtbot, window, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _nnunet(tmp_path / "Dataset001_X", 300)
    monkeypatch.setattr(opening, "POOL_FROM_FILES", 100)  # 600 files: on the pool
    monkeypatch.setattr(opening, "default_jobs", lambda: 2)
    window.page(SourcePage).open_path(folder)
    _cancel_once_on_the_pool(qtbot, window)  # mid-scan


def test_cancel_mid_report_stops_every_worker(qtbot, window, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    folder = _nnunet(tmp_path / "Dataset001_X", 24, shape=(160, 160, 96))
    window.page(SourcePage).open_path(folder)
    qtbot.waitUntil(lambda: not window.busy(), timeout=60_000)
    page = window.page(ValidatePage)
    window.go_to(window.page_index(page))
    qtbot.waitUntil(lambda: not window.busy(), timeout=60_000)
    out = tmp_path / "report"
    out.mkdir()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(out))
    monkeypatch.setattr(QMessageBox, "question",  # had it finished: no modal question
                        lambda *a, **k: QMessageBox.StandardButton.Close)
    page.report_button.click()
    _cancel_once_on_the_pool(qtbot, window)  # the cases on the fork server's workers
    assert not (out / "index.html").exists()
