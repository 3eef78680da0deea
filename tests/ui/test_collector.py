"""Garbage is collected in the window's thread: a Qt object destroyed in a reference cycle
on a worker thread can crash Qt (a pytest-qt session did, in the upload's test)."""

from __future__ import annotations

import threading
import weakref


class _Cycle:
    me: object


def test_a_worker_threads_garbage_is_collected_in_the_windows_thread(qtbot, window):
    threads: list[str] = []
    kept: list[list[object]] = []

    def work() -> None:  # leaves a cycle behind, then allocates past every threshold
        cycle = _Cycle()
        cycle.me = cycle
        weakref.finalize(cycle, lambda: threads.append(threading.current_thread().name))
        del cycle
        kept.extend([] for _ in range(50_000))

    worker = threading.Thread(target=work, name="worker")
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: bool(threads), timeout=5_000)
    assert threads == [threading.main_thread().name]
