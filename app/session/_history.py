"""Undo and redo: snapshots of the cases an edit touches, put back on request.

A snapshot deep-copies each named case with its task (the items list's entry),
so putting it back restores the mapping, the masks, the suggestions and what is
still unreviewed exactly. Copies are per case, so an edit of one case in a session
of a thousand costs one case's copy; an edit of every case (a template, "apply to
same labels") copies them all.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass

from app.items import Task
from app.session._model import CaseState, Change, SessionData


@dataclass(frozen=True)
class Snapshot:
    """Copies of some cases: (position in the session's cases, position of the task in
    the items list, the task, the case), the case's ``task`` being that task."""

    entries: tuple[tuple[int, int, Task, CaseState], ...]
    name_pattern: str | None = None  # the session's, when the snapshot was taken
    colours: tuple[tuple[str, tuple[int, int, int]], ...] = ()  # the colours chosen then

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(case.name for _, _, _, case in self.entries)


class SessionHistory(SessionData):
    """Snapshots of cases, and putting them back (``ui.state`` keeps the undo stack)."""

    def snapshot(self, names: Iterable[str] | None = None) -> Snapshot:
        """Copies of the cases ``names`` (all cases when None)."""
        wanted = None if names is None else set(names)
        tasks = {id(t): i for i, t in enumerate(self.items.tasks)}
        entries = []
        for i, case in enumerate(self.cases):
            if wanted is not None and case.name not in wanted:
                continue
            task, state = copy.deepcopy((case.task, case))
            entries.append((i, tasks[id(case.task)], task, state))
        return Snapshot(tuple(entries), self.name_pattern, tuple(self.chosen_colours.items()))

    def restore(self, snapshot: Snapshot) -> Change:
        """Put the cases of ``snapshot`` back as they were (the snapshot stays usable)."""
        for i, t, task, case in snapshot.entries:
            task, case = copy.deepcopy((task, case))  # the snapshot may be restored again
            self.items.tasks[t] = task
            self.cases[i] = case
        self.name_pattern = snapshot.name_pattern
        self.chosen_colours = dict(snapshot.colours)
        return Change.of(snapshot.names, cases=True, count=len(snapshot.entries),
                         reviews=frozenset(snapshot.names))
