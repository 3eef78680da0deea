"""`segmap-gui [PATH] [--demo]` and `python -m ui`: start the wizard."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # Qt is imported only once the arguments are read
    from PySide6.QtWidgets import QLabel

    from ui.main_window import MainWindow
    from ui.state import WizardState


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="segmap-gui", description="The Segmap wizard: images and "
                                "masks in, a RedBrick items list out.")
    p.add_argument("path", nargs="?", help="a folder of images and masks, or an items.json")
    p.add_argument("--demo", action="store_true",
                   help="write the demo dataset to your Documents folder and open it")
    p.add_argument("--taxonomy", metavar="TAX.json", help="the RedBrick taxonomy to map to")
    return p.parse_args(argv)


def starting_screen() -> QLabel:
    """What shows at once, while the wizard's libraries load (about a second, more on a
    cold disk): the Segmap mark and "Starting...". A plain frameless window, not a
    QSplashScreen: that one waits up to a second for the window system to expose it."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QColor, QFont, QPainter, QPixmap
    from PySide6.QtWidgets import QLabel

    from ui.icons import icon

    pix = QPixmap(420, 160)
    pix.fill(QColor(245, 246, 248))
    p = QPainter(pix)
    icon("segmap").paint(p, 24, 40, 80, 80)
    font = QFont()
    font.setPointSize(22)
    font.setBold(True)
    p.setFont(font)
    p.setPen(QColor(30, 40, 60))
    p.drawText(124, 88, "Segmap")
    font.setPointSize(10)
    font.setBold(False)
    p.setFont(font)
    p.drawText(126, 112, "Starting…")
    p.setPen(QColor(190, 196, 206))
    p.drawRect(0, 0, pix.width() - 1, pix.height() - 1)
    p.end()
    splash = QLabel()
    splash.setWindowFlags(Qt.WindowType.SplashScreen | Qt.WindowType.FramelessWindowHint)
    splash.setPixmap(pix)
    splash.setFixedSize(pix.size())
    return splash


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `segmap-gui` script."""
    args = parse_args(argv)
    from app import allocator

    allocator.tune()
    from PySide6.QtWidgets import QApplication

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("Segmap")
    app.setOrganizationName("Segmap")
    splash = starting_screen()
    splash.show()
    app.processEvents()  # painted now, before the heavy imports below

    from ui import errors
    from ui.icons import icon
    from ui.main_window import MainWindow
    from ui.settings import Settings
    from ui.state import WizardState

    app.setWindowIcon(icon("segmap"))
    errors.install_excepthooks()
    state = WizardState(Settings())
    window = MainWindow(state)
    window.show()
    splash.close()
    start(window, state, args)
    return int(app.exec())


def start(window: MainWindow, state: WizardState, args: argparse.Namespace) -> None:
    """Open what was asked for, behind the shown window: a source (its own saved work
    offered first), the demo, or else the last session's unexported work."""
    from ui.pages.source_page import SourcePage
    from ui.saved_work import Choice, offer_last, report_unreadable

    report_unreadable(window, state)  # damaged saved work: kept aside, said, never a stop
    source = window.page(SourcePage)
    if args.taxonomy:
        source.load_taxonomy(Path(args.taxonomy))
    if args.demo:
        source.open_demo()
    elif args.path:
        source.open_path(Path(args.path))
    elif offer_last(window, state) is Choice.CONTINUE:
        restore(window, state)
    else:
        state.put_aside()


def restore(window: MainWindow, state: WizardState) -> None:
    """Reopen the last session's autosaved work."""
    from app.errors import SegmapError
    from ui import errors

    work = state.saved_work_for(None)
    if work is None:
        return
    try:
        state.continue_work(work)
    except SegmapError as exc:
        errors.show(exc, None, None)
        return
    window.go_to(2)


if __name__ == "__main__":
    sys.exit(main())
