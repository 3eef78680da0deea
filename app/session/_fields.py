"""Each case's task fields and name: the name pattern, a name the user gives, a fields CSV.

The fields live in the case (``CaseState.fields``) and the pattern in the session, so they
are autosaved, undone and restored like a mapping; the task in the session's items list
keeps the case id as its name (every view finds the case by it). What RedBrick gets, the
list ``included_items`` gives validation and export, carries them (``task_fields``).
"""

from __future__ import annotations

import os
from pathlib import Path

from app.items import Task, with_fields
from app.mapping import (
    NamePlan,
    NameSource,
    name_values,
    placeholders,
    plan_names,
    read_task_fields,
)
from app.session._model import CaseState, Change, SessionData


class SessionFields(SessionData):
    """Task names and fields: the pattern, a case's own name, a fields CSV."""

    def _values(self, source: NameSource, wanted: list[str]) -> dict[str, str]:
        # Every placeholder's value is read once per case (one header), then remembered:
        # the names are planned again on every edit of a name or the pattern.
        key = (source.case, source.files)
        if key not in self._name_values:
            self._name_values[key] = name_values(source)
        return self._name_values[key]

    def task_names(self) -> NamePlan:
        """Every case's task name (by case id) and the notes on them; included cases are
        named first, so a case left out never takes a name from one that is exported."""
        order = sorted(self.cases, key=lambda c: not c.included)
        key = (self.name_pattern, tuple((c.name, c.fields.name, c.image.files) for c in order))
        if self._plan is None or self._plan[0] != key:
            sources = [NameSource(c.name, c.image.files, c.image.is_dicom) for c in order]
            given = {c.name: c.fields.name for c in order if c.fields.name}
            self._plan = (key, plan_names(sources, self.name_pattern, given, self._values))
        return self._plan[1]

    def task_name(self, case: CaseState, plan: NamePlan | None = None) -> str:
        """The name ``case``'s task gets in RedBrick (``plan``: ``task_names()``, asked once
        by a caller naming every case: checking the plan is up to date reads every case)."""
        return (plan or self.task_names()).names.get(case.name, case.name)

    def set_name_pattern(self, pattern: str | None) -> Change:
        """Name every task by ``pattern`` (None or "": by its case id); ``InputError`` for
        an unknown placeholder, and nothing changes."""
        pattern = (pattern or "").strip() or None
        if pattern == self.name_pattern:
            return Change()
        if pattern is not None:
            placeholders(pattern)
        self.name_pattern = pattern
        return Change.of([c.name for c in self.cases], count=len(self.cases))

    def set_task_name(self, case: CaseState, name: str | None) -> Change:
        """Give ``case``'s task its own name (a pattern of its own; None or "": named by
        the session's pattern again)."""
        name = (name or "").strip() or None
        if name == case.fields.name:
            return Change()
        if name is not None:
            placeholders(name, "the task name")
        case.fields.name = name
        return Change.of([case.name], count=1)

    def load_task_fields(self, path: str | os.PathLike[str]) -> Change:
        """Each case's fields from a fields CSV (``app.mapping.read_task_fields``, typed by
        the session's taxonomy); a case the file has no row for keeps its own, and a row
        without a name keeps the name the user gave. ``InputError`` and nothing changes
        when a cell is wrong."""
        read = read_task_fields(Path(path), [c.name for c in self.cases], self.taxonomy)
        changed = []
        for case in self.cases:
            new = read.get(case.name)
            if new is None:
                continue
            new.name = new.name or case.fields.name
            if new != case.fields:
                case.fields = new
                changed.append(case.name)
        return Change.of(changed, count=len(changed))

    def task_fields(self, case: CaseState, plan: NamePlan | None = None
                    ) -> tuple[Task, list[str]]:
        """A copy of ``case``'s task as RedBrick gets it: its name and fields set (``plan``
        as for ``task_name``)."""
        return with_fields(case.task, case.fields, self.task_name(case, plan))
