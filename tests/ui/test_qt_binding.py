"""The installed Qt binding must survive a long session of signals.

PySide6 6.12.0 drops one reference to ``True`` on every ``Signal.emit`` under
Python 3.11 (where ``True`` is an ordinary refcounted object); after a few
hundred emits the interpreter aborts with "bool_dealloc: deallocating True or
False". pyproject.toml excludes that release; this test catches a binding that
brings the bug back. From Python 3.12 on, True is immortal and cannot be freed.
"""

import sys

import pytest
from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(int)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="True is immortal from Python 3.12")
def test_emitting_signals_keeps_references_to_true():
    e = _Emitter()
    e.fired.connect(lambda value: None)
    before = sys.getrefcount(True)
    for i in range(200):
        e.fired.emit(i)
    assert sys.getrefcount(True) >= before - 20  # a few for unrelated churn, not one per emit
