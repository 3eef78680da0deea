"""Run core work off the GUI thread: one small worker, and "the newest request wins" for previews.

A ``Worker`` runs an ``app.progress.Work`` generator (or a plain callable) on
``QThreadPool.globalInstance()`` and reports through signals, which Qt delivers in
the thread the worker was created in (the GUI thread). It touches no widget.
``cancel()`` is honoured at the generator's next yield: the generator is closed
there (its ``finally`` blocks run) and ``cancelled`` is emitted. A plain callable
cannot be interrupted; cancelling it drops its result and emits ``cancelled``.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from inspect import isgenerator
from typing import Any, cast

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from shiboken6 import isValid as shiboken_valid

from app.errors import Cancelled
from app.progress import Progress, Work

_PROGRESS_INTERVAL_S = 0.05  # at most 20 progress signals a second: the GUI stays responsive
# Workers whose last signal has not been delivered yet: a caller may drop its reference
# right after start(), and a QObject deleted with queued signals pending loses them.
_RUNNING: set[Worker] = set()


class _Task(QRunnable):
    def __init__(self, body: Callable[[], None]) -> None:
        super().__init__()
        self._body = body

    def run(self) -> None:
        self._body()


class Worker(QObject):
    """Runs one piece of work on the global thread pool.

    ``work`` is a ``Work`` generator, or a callable taking no arguments that
    returns a ``Work`` generator or a plain result. Exactly one of ``finished``,
    ``failed`` or ``cancelled`` is emitted at the end.
    """

    progress = Signal(float, float, str)  # done, total, message
    stepped = Signal(object)  # the Progress object itself (e.g. UploadProgress with task states)
    finished = Signal(object)  # the result
    failed = Signal(object, str)  # the exception, its traceback as text
    cancelled = Signal()

    def __init__(self, work: Work[Any] | Callable[[], Any], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._work = work
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._started = False

    def start(self, pool: QThreadPool | None = None) -> None:
        """Queue the work on ``pool`` (the global pool by default); call once."""
        if self._started:
            raise RuntimeError("a Worker runs once; make a new one")
        self._started = True
        _RUNNING.add(self)
        for signal in (self.finished, self.failed, self.cancelled):
            signal.connect(self._on_ended)
        (pool or QThreadPool.globalInstance()).start(_Task(self._run))

    def cancel(self) -> None:
        """Ask the work to stop at its next yield (thread-safe, returns at once)."""
        self._cancel.set()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until the work has ended (for shutdown and tests); True if it did."""
        return self._done.wait(timeout_s)

    def _on_ended(self, *_: object) -> None:
        _RUNNING.discard(self)

    def _run(self) -> None:
        try:
            self._emit_outcome()
        except RuntimeError:
            if shiboken_valid(self):
                raise
            # The worker's Qt object was deleted while the work ran (its window closed):
            # there is nobody left to tell.
        finally:
            self._done.set()

    def _emit_outcome(self) -> None:
        try:
            if self._cancel.is_set():
                self._close(self._work)
                self.cancelled.emit()
                return
            work = self._work() if callable(self._work) else self._work
            result = self._drive(cast(Work[Any], work)) if isgenerator(work) else work
            if self._cancel.is_set():
                self.cancelled.emit()
            else:
                self.finished.emit(result)
        except (Cancelled, _Stopped):
            self.cancelled.emit()
        except Exception as exc:  # noqa: BLE001 - every failure goes to the failed signal
            self.failed.emit(exc, traceback.format_exc())

    def _drive(self, work: Work[Any]) -> Any:
        last = 0.0
        pending: Progress | None = None
        while True:
            try:
                step = next(work)
            except StopIteration as stop:
                if pending is not None:
                    self.progress.emit(pending.done, pending.total, pending.message)
                    self.stepped.emit(pending)
                return stop.value
            if self._cancel.is_set():
                work.close()  # GeneratorExit at the yield: the work's finally blocks run
                raise _Stopped
            pending = step if isinstance(step, Progress) else None
            now = time.monotonic()
            if pending is not None and now - last >= _PROGRESS_INTERVAL_S:
                self.progress.emit(pending.done, pending.total, pending.message)
                self.stepped.emit(pending)
                last, pending = now, None

    @staticmethod
    def _close(work: object) -> None:
        if isgenerator(work):
            work.close()


class _Stopped(Exception):
    """Internal: the generator was closed on request."""


class LatestRequest(QObject):
    """Runs preview requests so that only the newest one's result is delivered.

    Each ``request`` cancels the one before it (at its next yield) and bumps a
    generation counter; results, failures and cancellations of older generations
    are dropped, so scrubbing a slider never paints a stale slice.
    """

    progress = Signal(float, float, str)  # of the newest request only
    finished = Signal(object)
    failed = Signal(object, str)

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None) -> None:
        super().__init__(parent)
        self._pool = pool
        self._generation = 0
        self._current: Worker | None = None

    def request(self, work: Work[Any] | Callable[[], Any]) -> int:
        """Start ``work``, superseding any earlier request; returns its generation."""
        if self._current is not None:
            self._current.cancel()
        self._generation += 1
        gen = self._generation
        worker = Worker(work, self)
        worker.progress.connect(lambda d, t, m: self._on_worker_progress(gen, d, t, m))
        worker.finished.connect(lambda result: self._on_worker_finished(gen, result))
        worker.failed.connect(lambda exc, tb: self._on_worker_failed(gen, exc, tb))
        for signal in (worker.finished, worker.failed, worker.cancelled):
            signal.connect(worker.deleteLater)
        self._current = worker
        worker.start(self._pool)
        return gen

    def cancel(self) -> None:
        """Drop whatever is in flight."""
        if self._current is not None:
            self._current.cancel()
        self._generation += 1

    def _on_worker_progress(self, gen: int, done: float, total: float, message: str) -> None:
        if gen == self._generation:
            self.progress.emit(done, total, message)

    def _on_worker_finished(self, gen: int, result: object) -> None:
        if gen == self._generation:
            self._current = None
            self.finished.emit(result)

    def _on_worker_failed(self, gen: int, exc: object, tb: str) -> None:
        if gen == self._generation:
            self._current = None
            self.failed.emit(exc, tb)
