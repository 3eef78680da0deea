"""Work not exported yet, offered back in words: what it is, where, from when.

``WizardState`` keeps unexported work per source (the last session's, and the work
of sources set aside). Before a source is opened (from the command line, the Source
page or its recent folders) the user is asked whether to continue the work saved
for it; at start without a source, the last session's work is offered. Nothing is
dropped without the user choosing so: saved work that cannot be read (damaged, or
not Segmap's) is moved aside at start and the user is told where it is
(``report_unreadable``); the wizard starts without it.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from app.session import SavedWork, set_aside_unreadable
from ui.state import WizardState


class Choice(Enum):
    CONTINUE = "continue"  # reopen the saved work
    SCAN = "scan"  # open the source afresh
    CANCEL = "cancel"  # do nothing
    REPLACE = "replace"  # write over a file Segmap did not write (export)


def _same(a: Path, b: Path) -> bool:
    try:
        return a.expanduser().resolve() == b.expanduser().resolve()
    except OSError:
        return a == b


def saved_for(state: WizardState, path: Path) -> SavedWork | None:
    """Work saved for the source ``path`` (not the session open on it now)."""
    source = path.expanduser().resolve()
    if state.session is not None and _same(state.session.source, source):
        return None
    return state.saved_work_for(source)


def ask(parent: QWidget | None, title: str, text: str,
        buttons: list[tuple[str, QMessageBox.ButtonRole, Choice]]) -> Choice:
    """A question with named buttons (the first is the default); Esc cancels."""
    box = QMessageBox(parent)
    box.setWindowTitle("Segmap")
    box.setIcon(QMessageBox.Icon.Question)
    box.setText(title)
    box.setInformativeText(text)
    made: dict[object, Choice] = {}
    for n, (label, role, choice) in enumerate(buttons):
        button = box.addButton(label, role)
        made[button] = choice
        if n == 0:
            box.setDefaultButton(button)
    box.exec()
    return made.get(box.clickedButton(), Choice.CANCEL)


def how_to_open(parent: QWidget | None, state: WizardState, path: Path) -> Choice:
    """Before opening ``path``: continue its saved work, rescan, or cancel."""
    session = state.session
    if session is not None and state.dirty and _same(session.source, path):
        return ask(parent, f"Open {path.name} again?",
                   "Your mapping work on it is not exported. Opening it again scans the "
                   "folder afresh and replaces that work.",
                   [("Keep my work", QMessageBox.ButtonRole.RejectRole, Choice.CANCEL),
                    ("Scan again, replacing my work", QMessageBox.ButtonRole.DestructiveRole,
                     Choice.SCAN)])
    work = saved_for(state, path)
    if work is None:
        return Choice.SCAN
    return ask(parent, "Continue your work?",
               f"Segmap kept work on this source that was not exported:\n{work.text()}",
               [("Continue my work", QMessageBox.ButtonRole.AcceptRole, Choice.CONTINUE),
                ("Start over", QMessageBox.ButtonRole.DestructiveRole, Choice.SCAN),
                ("Cancel", QMessageBox.ButtonRole.RejectRole, Choice.CANCEL)])


def offer_last(parent: QWidget | None, state: WizardState) -> Choice:
    """At start, without a source: offer the last session's unexported work."""
    work = state.saved_work_for(None)
    if work is None:
        return Choice.SCAN
    return ask(parent, "Continue your last session?",
               f"Segmap kept work that was not exported:\n{work.text()}\n\n"
               "Not now keeps it: it is offered again when you open that source.",
               [("Continue", QMessageBox.ButtonRole.AcceptRole, Choice.CONTINUE),
                ("Not now", QMessageBox.ButtonRole.RejectRole, Choice.CANCEL)])


def report_unreadable(parent: QWidget | None, state: WizardState) -> None:
    """At start: saved work that cannot be read is moved aside (kept, never deleted) and
    said so, once; the wizard then starts without it, and a new autosave cannot write
    over it."""
    folder = state.autosave_path.parent
    kept = sorted((folder / "kept").glob("*.json")) if (folder / "kept").is_dir() else []
    found = set_aside_unreadable([state.autosave_path, *kept])
    if not found:
        return
    ask(parent, "Saved work could not be read",
        "\n\n".join(u.text() for u in found) + "\n\nSegmap starts without it.",
        [("OK", QMessageBox.ButtonRole.AcceptRole, Choice.CANCEL)])
