"""A task's own fields at creation: name, priority, metaData, preAssign, classification,
and the attributes of its labels (reference redbrick.md §2.1, §2.3).

``TaskFields`` holds what a user gives for one task (a fields CSV, the wizard's edits);
``with_fields`` writes it into a copy of the task as RedBrick reads it:

* ``priority``: a number in [0, 1];
* ``metaData``: {string: string}, merged into the task's own (other keys are kept);
* ``preAssign``: {stage name: email or [emails]}, merged the same way;
* ``classification``: ``{"attributes": {name: value}}``, the study-level classification
  (taxonomy ``studyClassify``; redbrick-sdk 2.35.4 ``types/task.py`` ``InputTask.classification``);
* label attributes: the ``attributes`` of every segmentMap entry of that category.

Whether the values fit the project (ranges, options, stages, emails) is validation's
job (``app.validate``), so a list written by anyone is checked the same way.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from app.items._model import Segment, Task, category_label

# Characters a task name must not hold: control characters (C0, DEL, C1) and path
# separators. RedBrick's export writes each task's files under its name, and its CLI
# keeps uploaded names in a line-based cache: a "/" makes a folder, a newline two names.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f/\\]+")
_SPACES = re.compile(r"\s+")


def safe_task_name(text: str) -> str:
    """``text`` as a task name RedBrick and its exports take: Unicode in NFC, each run of
    control characters or path separators as one ``_``, runs of white space as one space,
    no space at either end."""
    name = _UNSAFE.sub("_", unicodedata.normalize("NFC", text))
    return _SPACES.sub(" ", name).strip()


@dataclass
class TaskFields:
    """The fields a user gives one task; empty ones are left as the task has them.

    ``name`` is a name pattern for this task (placeholders allowed, see
    ``app.mapping.NAME_FIELDS``); ``labels`` maps a category (as people read it,
    ``Organs / Liver``) to its attributes.
    """

    name: str | None = None
    priority: float | None = None
    meta: dict[str, str] = field(default_factory=dict)
    pre_assign: dict[str, str | list[str]] = field(default_factory=dict)
    classification: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """True when nothing is set."""
        return self == TaskFields()

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "priority": self.priority, "meta": self.meta,
                "pre_assign": self.pre_assign, "classification": self.classification,
                "labels": self.labels}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TaskFields:
        return cls(d.get("name"), d.get("priority"), dict(d.get("meta") or {}),
                   dict(d.get("pre_assign") or {}), dict(d.get("classification") or {}),
                   {str(k): dict(v) for k, v in (d.get("labels") or {}).items()})


def _merged(old: Any, new: dict[str, Any]) -> dict[str, Any]:
    """``new`` over ``old`` when ``old`` is an object; ``new`` alone otherwise (validation
    reports an ``old`` of the wrong type before anyone writes over it)."""
    return {**(old if isinstance(old, dict) else {}), **copy.deepcopy(new)}


def _segments(task: Task) -> list[Segment]:
    maps = [s.segment_map for s in task.series] + [task.segment_map]
    return [seg for m in maps if m is not None for seg in m.segments.values()]


def with_fields(task: Task, fields: TaskFields, name: str | None = None
                ) -> tuple[Task, list[str]]:
    """A copy of ``task`` carrying ``fields`` (``name``, when given, as its name), and
    notes on what could not be placed (a label category the task has no entry of)."""
    task = copy.deepcopy(task)
    notes: list[str] = []
    if name is not None:
        task.name = name
    if fields.priority is not None:
        task.extra["priority"] = fields.priority
    if fields.meta:
        if task.legacy and task.series:  # a flat task keeps metaData in its one series
            task.series[0].meta_data = _merged(task.series[0].meta_data, fields.meta)
        else:
            task.extra["metaData"] = _merged(task.extra.get("metaData"), fields.meta)
    if fields.pre_assign:
        task.extra["preAssign"] = _merged(task.extra.get("preAssign"), fields.pre_assign)
    if fields.classification:
        old = task.extra.get("classification")
        old = old if isinstance(old, dict) else {}
        task.extra["classification"] = {
            **old, "attributes": _merged(old.get("attributes"), fields.classification)}
    segments = _segments(task)
    for category, attributes in fields.labels.items():
        hits = [s for s in segments if s.category is not None
                and (category_label(s.category) == category or s.category == category)]
        if not hits:
            notes.append(f"no label of category {category!r}; its attributes "
                         f"({', '.join(attributes)}) are not used")
        for seg in hits:
            seg.attributes = _merged(seg.attributes, attributes)
            seg.compact = False
    return task, notes
