"""The wizard's shared state: the session, the taxonomy, the current case, autosave.

Pages read the session through this object and change it only through ``edit``:
every session edit returns a ``Change``, and ``edit`` turns it into the signals
every page and model listens to, so no page announces a change by hand and no
view can go stale. Nothing else holds domain state. Autosave writes the session
(never an API key) a moment after each change, so nothing the user mapped is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, QTimer, Signal

from app.errors import SegmapError
from app.items import Taxonomy
from app.session import CaseState, Change, Session, save_session
from ui.settings import Settings

log = logging.getLogger("segmap")


def default_autosave_path() -> Path:
    """Where the session is autosaved (the platform's per-user data folder)."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".segmap") / "autosave.json"


class WizardState(QObject):
    """What every page shares."""

    sessionChanged = Signal()  # a new session was opened (or closed)
    mappingChanged = Signal(str)  # the mapping of a case changed (case name)
    casesChanged = Signal()  # cases included/excluded, masks moved
    currentCaseChanged = Signal(str)
    taxonomyChanged = Signal()

    def __init__(self, settings: Settings, autosave_path: Path | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.session: Session | None = None
        self.taxonomy: Taxonomy | None = None
        self.taxonomy_path: Path | None = None
        self.autosave_path = autosave_path or default_autosave_path()
        self._current: str | None = None
        self._autosave = QTimer(self)
        self._autosave.setSingleShot(True)
        self._autosave.setInterval(800)
        self._autosave.timeout.connect(self.save_now)
        for signal in (self.mappingChanged, self.casesChanged, self.sessionChanged):
            signal.connect(self._schedule_autosave)

    # ---------------------------------------------------------------- session
    def set_session(self, session: Session | None) -> None:
        self.session = session
        if session is not None:
            if session.taxonomy is None and self.taxonomy is not None:
                session.taxonomy, session.taxonomy_path = self.taxonomy, self.taxonomy_path
            elif session.taxonomy is not None:
                self.taxonomy, self.taxonomy_path = session.taxonomy, session.taxonomy_path
        self._current = session.cases[0].name if session and session.cases else None
        self.sessionChanged.emit()
        if self._current:
            self.currentCaseChanged.emit(self._current)

    def set_taxonomy(self, taxonomy: Taxonomy | None, path: Path | None) -> None:
        self.taxonomy, self.taxonomy_path = taxonomy, path
        if self.session is not None:
            self.session.taxonomy, self.session.taxonomy_path = taxonomy, path
        self.taxonomyChanged.emit()
        self._schedule_autosave()

    def edit(self, do: Callable[[Session], Change]) -> Change:
        """Run an edit of the session and announce what it changed.

        ``do`` is a session method call, e.g. ``lambda s: s.accept(case)``; with no
        session open nothing happens.
        """
        if self.session is None:
            return Change()
        change = do(self.session)
        if change.cases:
            self.casesChanged.emit()
        for name in sorted(change.mapping):
            self.mappingChanged.emit(name)
        return change

    def current_case(self) -> CaseState | None:
        if self.session is None or self._current is None:
            return None
        return next((c for c in self.session.cases if c.name == self._current), None)

    def set_current_case(self, name: str) -> None:
        if name != self._current:
            self._current = name
            self.currentCaseChanged.emit(name)

    # --------------------------------------------------------------- autosave
    def _schedule_autosave(self, *_: object) -> None:
        if self.session is not None:
            self._autosave.start()

    def save_now(self) -> None:
        """Write the autosave file now (also called on close)."""
        self._autosave.stop()
        if self.session is None:
            return
        try:
            save_session(self.session, self.autosave_path)
        except (OSError, SegmapError) as exc:  # a full disk must not stop the work
            log.warning("autosave failed: %s", exc)

    def discard_autosave(self) -> None:
        """Forget the autosaved session (after an export, or when the user declines it)."""
        self._autosave.stop()
        self.autosave_path.unlink(missing_ok=True)
