"""Qt tests run offscreen: no display needed, in CI or on a server."""

import gc
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


@pytest.fixture
def window(qtbot, tmp_path):
    """The wizard with its settings and autosave in tmp_path (never the user's)."""
    from PySide6.QtCore import QSettings

    from ui.main_window import MainWindow
    from ui.settings import Settings
    from ui.state import WizardState

    settings = Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    state = WizardState(settings, autosave_path=tmp_path / "autosave.json")
    w = MainWindow(state)
    w.resize(1300, 850)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()
    gc.collect()  # this test's garbage, here in the window's thread, as its timer would
    gc.enable()  # for what runs next without a window (the next window turns it off)
