"""`segmap-gui [PATH] [--demo]` and `python -m ui`: start the wizard."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="segmap-gui", description="The Segmap wizard: images and "
                                "masks in, a RedBrick items list out.")
    p.add_argument("path", nargs="?", help="a folder of images and masks, or an items.json")
    p.add_argument("--demo", action="store_true",
                   help="write the demo dataset to your Documents folder and open it")
    p.add_argument("--taxonomy", metavar="TAX.json", help="the RedBrick taxonomy to map to")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `segmap-gui` script."""
    args = parse_args(argv)
    from PySide6.QtWidgets import QApplication, QMessageBox

    from ui import errors
    from ui.main_window import MainWindow
    from ui.pages.source_page import SourcePage
    from ui.settings import Settings
    from ui.state import WizardState

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("Segmap")
    app.setOrganizationName("Segmap")
    from ui.icons import icon

    app.setWindowIcon(icon("segmap"))
    errors.install_excepthooks()
    state = WizardState(Settings())
    window = MainWindow(state)
    window.show()
    source = window.page(SourcePage)
    assert isinstance(source, SourcePage)
    if args.taxonomy:
        source.load_taxonomy(Path(args.taxonomy))
    # Offered first, whatever was asked for: opening something else would autosave over it.
    if state.autosave_path.is_file():
        answer = QMessageBox.question(
            window, "Segmap", "Segmap kept the work of your last session (it was not exported "
            "since). Continue with it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        if answer == QMessageBox.StandardButton.Yes:
            restore(window, state)
            return int(app.exec())
        state.discard_autosave()
    if args.demo:
        source.open_demo()
    elif args.path:
        source.open_path(Path(args.path))
    return int(app.exec())


def restore(window: object, state: object) -> None:
    """Reopen the autosaved session."""
    from app.errors import SegmapError
    from app.session import load_session
    from ui import errors

    try:
        session = load_session(state.autosave_path)  # type: ignore[attr-defined]
    except SegmapError as exc:
        errors.show(exc, None, None)
        return
    state.set_session(session)  # type: ignore[attr-defined]
    window.go_to(2)  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(main())
