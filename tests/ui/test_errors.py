"""Errors reach the user as a plain message with the details expandable; none is swallowed."""

from __future__ import annotations

import sys
import threading

import pytest
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtWidgets import QMessageBox

from app.errors import MergeError, VolumeReadError
from ui import errors


def raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as e:  # noqa: BLE001
        return e


def test_a_segmap_error_shows_message_and_hint_without_traceback():
    exc = raised(VolumeReadError("ct.nii.gz is not a NIfTI file.", "Convert it to .nii.gz."))
    box = errors.error_box(exc)
    assert box.text() == "ct.nii.gz is not a NIfTI file."
    assert box.informativeText() == "Convert it to .nii.gz."
    assert "Traceback" not in box.text() + box.informativeText()
    assert "Traceback" in box.detailedText()
    assert box.icon() == QMessageBox.Icon.Warning
    assert box.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse


def test_a_merge_error_details_carry_what_the_sdk_would_say():
    exc = raised(MergeError("a.nii.gz is 2-D.", "Save a 3-D volume.", sdk_message="Invalid mask shape"))
    assert "RedBrick's SDK reports: Invalid mask shape" in errors.error_box(exc).detailedText()


def test_anything_else_is_something_went_wrong_with_the_exception():
    exc = raised(KeyError("spacing"))
    box = errors.error_box(exc)
    assert box.text() == "Something went wrong"
    assert box.informativeText() == "KeyError: 'spacing'"
    assert "raise exc" in box.detailedText()
    assert box.icon() == QMessageBox.Icon.Critical


@pytest.fixture
def shown(monkeypatch):
    """Record what would be shown instead of opening a modal dialog."""
    got: list[tuple[BaseException, str]] = []
    monkeypatch.setattr(errors, "show", lambda exc, details, parent=None: got.append((exc, details)))
    return got


@pytest.fixture
def hooks():
    uninstall = errors.install_excepthooks()
    yield
    uninstall()


def test_exceptions_in_slots_reach_the_user(qtbot, shown, hooks):
    class Emitter(QObject):
        fired = Signal()

    def slot():
        raise RuntimeError("slot broke")

    e = Emitter()
    e.fired.connect(slot)
    e.fired.emit()  # PySide6 hands the slot's exception to sys.excepthook
    qtbot.waitUntil(lambda: len(shown) == 1, timeout=2000)
    assert str(shown[0][0]) == "slot broke" and "in slot" in shown[0][1]


def test_exceptions_in_threads_reach_the_user_in_the_gui_thread(qtbot, shown, hooks):
    t = threading.Thread(target=lambda: 1 / 0, name="scanner")
    t.start()
    t.join()
    qtbot.waitUntil(lambda: len(shown) == 1, timeout=2000)
    assert isinstance(shown[0][0], ZeroDivisionError) and "In thread scanner" in shown[0][1]

    class Boom(QRunnable):
        def run(self):
            raise OSError("disk gone")

    QThreadPool.globalInstance().start(Boom())
    qtbot.waitUntil(lambda: len(shown) == 2, timeout=2000)
    assert isinstance(shown[1][0], OSError)


def test_uninstall_restores_the_previous_hooks():
    before = sys.excepthook, threading.excepthook
    uninstall = errors.install_excepthooks()
    assert sys.excepthook is not before[0]
    uninstall()
    assert (sys.excepthook, threading.excepthook) == before


def test_show_error_opens_the_box_and_logs(monkeypatch, caplog):
    opened = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: opened.append(self.text()) or 0)
    errors.show_error(raised(ValueError("x")))
    assert opened == ["Something went wrong"]
    assert "ValueError: x" in caplog.text
