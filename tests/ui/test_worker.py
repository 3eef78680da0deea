"""The worker runs core generators off the GUI thread, reports, and stops when cancelled."""

from __future__ import annotations

import threading
import time

import pytest
from PySide6.QtCore import QThread, QTimer

from app.errors import Cancelled, InputError
from app.progress import Progress
from ui.worker import LatestRequest, Worker


def counting(n: int, pause: float = 0.0, log: list | None = None):
    try:
        for i in range(n):
            time.sleep(pause)
            yield Progress(i + 1, n, f"step {i + 1}")
        return f"counted {n}"
    finally:
        if log is not None:
            log.append(("closed", threading.current_thread() is threading.main_thread()))


def test_result_and_progress_arrive_in_the_gui_thread(qtbot):
    worker = Worker(counting(3, 0.06))
    seen = []
    worker.progress.connect(lambda d, t, m: seen.append((d, t, m, QThread.currentThread())))
    with qtbot.waitSignal(worker.finished, timeout=5000) as done:
        worker.start()
    assert done.args == ["counted 3"]
    assert seen and seen[-1][:3] == (3, 3, "step 3")
    assert all(s[3] is QThread.currentThread() for s in seen)


def test_the_event_loop_keeps_turning_during_long_work(qtbot):
    ticks = []
    timer = QTimer(interval=10)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    worker = Worker(counting(40, 0.01))  # ~0.4 s of work that never returns to Qt itself
    with qtbot.waitSignal(worker.finished, timeout=10000):
        worker.start()
    timer.stop()
    assert len(ticks) >= 10  # the GUI thread kept serving timers while the work ran


def test_cancel_closes_the_generator_at_its_next_yield(qtbot):
    log: list = []
    worker = Worker(counting(10_000, 0.005, log))
    finished = []
    worker.finished.connect(finished.append)
    with qtbot.waitSignal(worker.progress, timeout=5000):
        worker.start()
    with qtbot.waitSignal(worker.cancelled, timeout=5000):
        worker.cancel()
    assert worker.wait(5)
    assert log == [("closed", False)]  # its finally ran, in the worker thread
    assert finished == []


def test_cancel_before_start_never_runs_the_work(qtbot):
    started = []

    def work():
        started.append(True)
        yield Progress(1, 1)

    worker = Worker(work)
    worker.cancel()
    with qtbot.waitSignal(worker.cancelled, timeout=5000):
        worker.start()
    assert started == []


def test_errors_reach_failed_with_their_traceback(qtbot):
    def broken():
        yield Progress(0, 1)
        raise InputError("items.json is not a list", "Export it again.")

    worker = Worker(broken())
    with qtbot.waitSignal(worker.failed, timeout=5000) as failed:
        worker.start()
    exc, text = failed.args
    assert isinstance(exc, InputError) and "in broken" in text


def test_cancelled_raised_by_the_work_is_a_cancellation(qtbot):
    def gives_up():
        yield Progress(0, 1)
        raise Cancelled()

    worker = Worker(gives_up())
    with qtbot.waitSignal(worker.cancelled, timeout=5000):
        worker.start()


def test_plain_callables_run_too(qtbot):
    worker = Worker(lambda: sum(range(10)))
    with qtbot.waitSignal(worker.finished, timeout=5000) as done:
        worker.start()
    assert done.args == [45]
    with pytest.raises(RuntimeError, match="runs once"):
        worker.start()


def test_a_worker_dropped_after_start_still_reports(qtbot):
    got = []

    def start():
        w = Worker(counting(2, 0.02))
        w.finished.connect(got.append)
        w.start()

    start()  # no reference kept by the caller
    qtbot.waitUntil(lambda: got == ["counted 2"], timeout=5000)


def test_latest_request_wins(qtbot):
    latest = LatestRequest()
    results = []
    latest.finished.connect(results.append)
    slow_log: list = []

    def slow():
        yield from counting(200, 0.01, slow_log)
        return "stale"

    with qtbot.waitSignal(latest.progress, timeout=5000):
        latest.request(slow())
    gen = latest.request(lambda: "fresh")
    assert gen == 2
    qtbot.waitUntil(lambda: results == ["fresh"], timeout=5000)
    qtbot.waitUntil(lambda: len(slow_log) == 1, timeout=5000)  # the old one was stopped
    qtbot.wait(50)
    assert results == ["fresh"]


def test_latest_request_drops_a_stale_result_that_finishes_late(qtbot):
    latest = LatestRequest()
    results, failures = [], []
    latest.finished.connect(results.append)
    latest.failed.connect(lambda e, t: failures.append(e))
    release = threading.Event()

    def blocking():
        release.wait(5)  # a plain callable cannot be interrupted: it finishes anyway
        return "stale"

    latest.request(blocking)
    latest.request(lambda: "fresh")
    qtbot.waitUntil(lambda: results == ["fresh"], timeout=5000)
    release.set()
    qtbot.wait(100)
    assert results == ["fresh"] and failures == []


def test_a_worker_deleted_while_its_work_runs_ends_quietly(qtbot):
    """Closing a window deletes its workers' Qt objects; their threads must not raise then."""
    import shiboken6
    from PySide6.QtCore import QObject

    owner = QObject()
    release = threading.Event()

    def slow() -> str:
        release.wait(10)
        return "done"

    worker = Worker(slow, owner)
    worker.start()
    shiboken6.delete(owner)  # deletes the worker's C++ object with it, as a closing window does
    release.set()
    assert worker.wait(10)
