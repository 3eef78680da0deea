"""Python's garbage collector runs in the window's thread only.

The wizard's work runs on other threads (the scan, the preview's loading, the upload's
tasks), and Python collects garbage in whichever thread allocates when a threshold is
passed: a Qt object in a reference cycle is then destroyed outside the window's thread, and
Qt can crash. A pytest-qt session crashed that way, in the window's event loop while the
upload's threads ran (one run in three of ``tests/app/cli tests/ui``). The collector is
turned off and a timer collects in the window's thread instead, at Python's own thresholds:
pyqtgraph's ``GarbageCollector``, the usual recipe for Qt programs with Python threads.
"""

from __future__ import annotations

import gc
from typing import Any

_collector: Any = None  # the one timer, for the process's life


def collect_in_gui_thread() -> None:
    """Collect in this (the window's) thread only, from now on; call where windows are
    made. A pool's workers forked later turn collecting back on (``app.allocator``)."""
    global _collector
    if _collector is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _collector = GarbageCollector(interval=1.0)
    gc.disable()  # again: a test (or a command run in-process) may have turned it on
