"""Qt tests run offscreen: no display needed, in CI or on a server."""

import os

# Before any Qt import: pytest-qt creates the QApplication from this platform.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QThreadPool  # noqa: E402


@pytest.fixture(autouse=True)
def _drain_thread_pool(qapp):
    """Every ui test has a QApplication, and no worker outlives its test."""
    yield
    QThreadPool.globalInstance().waitForDone(5000)
