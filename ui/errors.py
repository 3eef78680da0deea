"""The one place errors reach the user: a plain message, the details expandable.

A ``SegmapError`` (bad input the user can fix) shows its message and hint; anything
else shows "Something went wrong" and the exception. The traceback is always in the
expandable details, never in the main text, and is logged. ``install_excepthooks``
routes uncaught exceptions from slots (``sys.excepthook``) and from threads
(``threading.excepthook``, and pool threads through ``sys.excepthook``) to the GUI
thread and shows them there. Tests swap ``show`` for a recorder: the dialog code
has no test mode.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from app.errors import MergeError, SegmapError

log = logging.getLogger("segmap")


def _traceback_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def error_box(exc: BaseException, details: str | None = None,
              parent: QWidget | None = None) -> QMessageBox:
    """The message box for ``exc`` (not shown): text, informative text, details."""
    box = QMessageBox(parent)
    box.setWindowTitle("Segmap")
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    details = details if details is not None else _traceback_text(exc)
    if isinstance(exc, SegmapError):
        box.setIcon(QMessageBox.Icon.Warning)
        box.setText(exc.message)
        if exc.hint:
            box.setInformativeText(exc.hint)
        if isinstance(exc, MergeError) and exc.sdk_message:
            details = f"RedBrick's SDK reports: {exc.sdk_message}\n\n{details}"
    else:
        box.setIcon(QMessageBox.Icon.Critical)
        box.setText("Something went wrong")
        box.setInformativeText(f"{type(exc).__name__}: {exc}")
    box.setDetailedText(details)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    return box


def show_error(exc: BaseException, details: str | None = None,
               parent: QWidget | None = None) -> None:
    """Log ``exc`` and show it in a modal message box."""
    log.error("%s", details if details is not None else _traceback_text(exc))
    error_box(exc, details, parent).exec()


# The function every error goes through: (exception, details, parent=None). Tests
# monkeypatch ``ui.errors.show`` to record instead of opening a modal dialog.
show: Callable[..., None] = show_error


class _Relay(QObject):
    """Carries an exception from any thread to the GUI thread, one dialog at a time."""

    raised = Signal(object, str)

    def __init__(self) -> None:
        super().__init__()
        self._showing = False
        self._queue: list[tuple[BaseException, str]] = []
        self.raised.connect(self._on_raised)

    def _on_raised(self, exc: BaseException, details: str) -> None:
        # A dialog's event loop can deliver the next exception: queue it, do not stack.
        self._queue.append((exc, details))
        if self._showing:
            return
        self._showing = True
        try:
            while self._queue:
                e, d = self._queue.pop(0)
                show(e, d)
        finally:
            self._showing = False


_relay: _Relay | None = None


def install_excepthooks() -> Callable[[], None]:
    """Send uncaught exceptions (slots, threads) to ``show``; returns an uninstaller.

    Call after the QApplication exists, from the GUI thread.
    """
    global _relay
    relay = _relay = _Relay()
    old_sys, old_thread = sys.excepthook, threading.excepthook

    def sys_hook(kind: type[BaseException], exc: BaseException,
                 tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            old_sys(kind, exc, tb)
            return
        relay.raised.emit(exc, "".join(traceback.format_exception(kind, exc, tb)))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or issubclass(args.exc_type, SystemExit):
            old_thread(args)
            return
        text = "".join(traceback.format_exception(args.exc_type, args.exc_value,
                                                  args.exc_traceback))
        where = f"In thread {args.thread.name if args.thread else '?'}:\n"
        relay.raised.emit(args.exc_value, where + text)

    sys.excepthook, threading.excepthook = sys_hook, thread_hook

    def uninstall() -> None:
        sys.excepthook, threading.excepthook = old_sys, old_thread

    return uninstall
