"""The wizard's shared state: the session, the taxonomy, the current case, autosave.

Pages read the session through this object and change it only through ``edit``:
every session edit returns a ``Change``, and ``edit`` turns it into the signals
every page and model listens to, so no page announces a change by hand and no
view can go stale. Nothing else holds domain state. Every edit can be undone and
redone (``undo_stack``: the cases it touched are snapshot before and after).
Autosave writes the session (never an API key) a moment after each change, so
nothing the user mapped is lost; only work not exported since is kept (an export
discards it), and opening another source keeps the last one's work aside, offered
again when that source is opened (``saved_work_for``). ``remote`` holds the tasks
already in RedBrick the labels may go onto, and what each included case matched
(``ui.remote_tasks``), kept in memory only.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from app.errors import SegmapError
from app.items import Taxonomy
from app.session import (
    CaseState,
    Change,
    SavedWork,
    Session,
    Snapshot,
    load_session,
    save_session,
    saved_work,
)
from ui.remote_tasks import RemoteTasks
from ui.settings import Settings

log = logging.getLogger("segmap")


def default_autosave_path() -> Path:
    """Where the session is autosaved (the platform's per-user data folder)."""
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".segmap") / "autosave.json"


class _EditCommand(QUndoCommand):
    """One edit on the undo stack: the touched cases before and after it."""

    def __init__(self, state: WizardState, label: str, before: Snapshot, after: Snapshot) -> None:
        super().__init__(label)
        self._state, self._before, self._after = state, before, after
        self._done = True  # pushed after the edit ran: the first redo() has nothing to do

    def redo(self) -> None:
        if self._done:
            self._done = False
            return
        self._state._put_back(self._after)

    def undo(self) -> None:
        self._state._put_back(self._before)


class WizardState(QObject):
    """What every page shares."""

    sessionChanged = Signal()  # a new session was opened (or closed)
    mappingChanged = Signal(str)  # the mapping of a case changed (case name)
    casesChanged = Signal()  # cases included/excluded, masks moved
    reviewChanged = Signal(str)  # the sign-off of a case changed (case name)
    currentCaseChanged = Signal(str)
    taxonomyChanged = Signal()
    # once after an edit's mappingChanged of each case it changed (an edit of every case
    # announces each one: what looks at the whole list listens here, once)
    mappingsChanged = Signal()

    def __init__(self, settings: Settings, autosave_path: Path | None = None,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.session: Session | None = None
        self.taxonomy: Taxonomy | None = None
        self.taxonomy_path: Path | None = None
        self.autosave_path = autosave_path or default_autosave_path()
        self.dirty = False  # changed since opened, restored or exported
        self._current: str | None = None
        self._places: dict[str, int] = {}  # a case name -> its place in the session (a hint)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(200)
        self._autosave = QTimer(self)
        self._autosave.setSingleShot(True)
        self._autosave.setInterval(800)
        self._autosave.timeout.connect(self.save_now)
        for signal in (self.mappingChanged, self.casesChanged, self.reviewChanged):
            signal.connect(self._on_work_changed)
        # Tasks already in RedBrick the labels may go onto, and what each case matched.
        self.remote = RemoteTasks(lambda: self.session, self)
        for signal in (self.sessionChanged, self.casesChanged):
            signal.connect(self.remote.rematch)

    # ---------------------------------------------------------------- session
    def set_session(self, session: Session | None) -> None:
        """Show ``session``; unexported work on another source is kept aside, not lost."""
        self._autosave.stop()
        if self.dirty and self.session is not None:
            self.save_now()
        self._keep_aside(session.source if session is not None else None)
        self.dirty = False
        self.session = session
        if session is not None:
            if session.taxonomy is None and self.taxonomy is not None:
                session.taxonomy, session.taxonomy_path = self.taxonomy, self.taxonomy_path
            elif session.taxonomy is not None:
                self.taxonomy, self.taxonomy_path = session.taxonomy, session.taxonomy_path
        self.undo_stack.clear()
        self._current = None
        self._current = self._included_name(None)
        self.sessionChanged.emit()
        if self._current:
            self.currentCaseChanged.emit(self._current)

    def set_taxonomy(self, taxonomy: Taxonomy | None, path: Path | None) -> None:
        self.taxonomy, self.taxonomy_path = taxonomy, path
        if self.session is not None:
            self.session.taxonomy, self.session.taxonomy_path = taxonomy, path
        self.taxonomyChanged.emit()
        if self.dirty:  # kept with the work; choosing a taxonomy alone is no work to keep
            self._autosave.start()

    def edit(self, do: Callable[[Session], Change], label: str = "Edit",
             cases: Iterable[CaseState] | None = None) -> Change:
        """Run an edit of the session, announce what it changed, and make it undoable.

        ``do`` is a session method call, e.g. ``lambda s: s.accept(case)``; ``label``
        names it in the Edit menu ("Undo map value 3 to Liver"); ``cases`` are the
        cases it can touch (None: any, so all are snapshot). With no session open
        nothing happens.
        """
        session = self.session
        if session is None:
            return Change()
        before = session.snapshot(None if cases is None else [c.name for c in cases])
        change = do(session)
        if not change.nothing:
            after = session.snapshot(before.names)
            self.undo_stack.push(_EditCommand(self, label, before, after))
        self._announce(change)
        return change

    def _announce(self, change: Change) -> None:
        if change.cases:
            self._keep_current_included()
            self.casesChanged.emit()
        for name in sorted(change.mapping):
            self.mappingChanged.emit(name)
        if change.mapping:
            self.mappingsChanged.emit()
        for name in sorted(change.reviews):
            self.reviewChanged.emit(name)

    def _put_back(self, snapshot: Snapshot) -> None:
        if self.session is not None:
            self._announce(self.session.restore(snapshot))

    def current_case(self) -> CaseState | None:
        """The case the Mapping and Preview pages show: the chosen one while it is
        included, else the first included case (None when no case is included)."""
        if self.session is None:
            return None
        if self._current is not None:  # asked at each case an edit of every case changes
            case = self._case_named(self._current)
            if case is not None and case.included:
                return case
        name = self._included_name(None)
        return self._case_named(name) if name is not None else None

    def _case_named(self, name: str) -> CaseState | None:
        """The session's (first) case named ``name``: found by its place, remembered and
        checked against the list as it is now (an edit may add, drop or reorder cases)."""
        assert self.session is not None
        cases = self.session.cases
        i = self._places.get(name)
        if i is None or i >= len(cases) or cases[i].name != name:
            self._places = {}
            for k, c in enumerate(cases):
                self._places.setdefault(c.name, k)
            i = self._places.get(name)
        return cases[i] if i is not None else None

    def _included_name(self, preferred: str | None) -> str | None:
        cases = self.session.cases if self.session is not None else []
        included = [c.name for c in cases if c.included]
        if preferred in included:
            return preferred
        return included[0] if included else None

    def _keep_current_included(self) -> None:
        name = self._included_name(self._current)
        if name != self._current:
            self._current = name
            if name is not None:
                self.currentCaseChanged.emit(name)

    def set_current_case(self, name: str) -> None:
        if name != self._current and self.session is not None:
            self._current = name
            self.currentCaseChanged.emit(name)

    # --------------------------------------------------------------- autosave
    def _on_work_changed(self, *_: object) -> None:
        if self.session is not None:
            self.dirty = True
            self._autosave.start()

    def save_now(self) -> None:
        """Write the autosave file now, when there is unexported work (also on close)."""
        self._autosave.stop()
        if self.session is None or not self.dirty:
            return
        try:
            save_session(self.session, self.autosave_path)
        except (OSError, SegmapError) as exc:  # a full disk must not stop the work
            log.warning("autosave failed: %s", exc)

    def discard_autosave(self) -> None:
        """Forget the autosaved session (after an export, or when the user starts over)."""
        self._autosave.stop()
        self.dirty = False
        self.autosave_path.unlink(missing_ok=True)

    def _kept_path(self, source: Path) -> Path:
        key = hashlib.sha256(str(source).encode()).hexdigest()[:16]
        return self.autosave_path.parent / "kept" / f"{key}.json"

    def put_aside(self) -> None:
        """Keep the last session's work aside: offered when its source is opened again."""
        self._keep_aside(None, always=True)

    def _keep_aside(self, source: Path | None, always: bool = False) -> None:
        """Move the autosaved work of another source than ``source`` aside (kept/)."""
        try:
            work = saved_work(self.autosave_path) if self.autosave_path.is_file() else None
        except SegmapError as exc:
            log.warning("autosave unreadable, left aside: %s", exc)
            work = None
        if work is None or (not always and (source is None or work.source == source)):
            return  # no session next (closed): it stays the last session's work
        target = self._kept_path(work.source)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            self.autosave_path.replace(target)
        except OSError as exc:
            log.warning("could not keep the autosave aside: %s", exc)

    def saved_work_for(self, source: Path | None = None) -> SavedWork | None:
        """Unexported work saved for ``source`` (None: the last session's), if any."""
        candidates = [self.autosave_path]
        if source is not None:
            candidates.append(self._kept_path(source))
        for path in candidates:
            if not path.is_file():
                continue
            try:
                work = saved_work(path)
            except SegmapError as exc:
                log.warning("saved session unreadable: %s", exc)
                continue
            if source is None or work.source == source:
                return work
        return None

    def continue_work(self, work: SavedWork) -> Session:
        """Reopen saved work: it becomes the session (and the autosave) again."""
        session = load_session(work.path)
        if work.path != self.autosave_path:
            self._keep_aside(work.source)
            self.autosave_path.parent.mkdir(parents=True, exist_ok=True)
            work.path.replace(self.autosave_path)
        self.set_session(session)
        self.dirty = True  # still not exported
        return session

    def forget_work(self, work: SavedWork) -> None:
        """Drop saved work the user chose not to continue."""
        if work.path == self.autosave_path:
            self.discard_autosave()
        else:
            work.path.unlink(missing_ok=True)
