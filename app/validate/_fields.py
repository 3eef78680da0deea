"""Checks of a task's own fields: priority, metaData, preAssign, the study classification,
and the value of every attribute against its taxonomy definition.

RedBrick's types (redbrick-sdk 2.35.4 ``types/task.py``; reference redbrick.md §2.1, §6):
``priority`` a number in [0, 1]; ``metaData`` {string: string}; ``preAssign``
{stage name: email or [emails]}, the stages the project's; ``classification``
``{attributes: {name: value}}`` naming the taxonomy's ``studyClassify`` attributes; a value
fits its attribute's type (NUMBER within min..max, SELECT / MULTISELECT among its options,
BOOL true or false, TEXT text).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from app.items import AttributeInfo, Task, Taxonomy
from app.validate._codes import Code
from app.validate._findings import Finding, finding

# One @, something on each side, a dot in the domain, no space: what every mail system
# takes; anything stricter refuses real addresses.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def attribute_pairs(attributes: Any) -> list[tuple[str, Any]] | None:
    """(name, value) of an ``attributes`` value: the object form, or the taxonomy v2 list
    form ``[{name, value}]``; None when it is neither."""
    if isinstance(attributes, dict):
        return [(str(k), v) for k, v in attributes.items()]
    if isinstance(attributes, list):
        return [(str(a["name"]), a.get("value")) for a in attributes
                if isinstance(a, dict) and "name" in a]
    return None


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def value_problem(attribute: AttributeInfo, value: Any) -> tuple[Code, str] | None:
    """What is wrong with ``value`` for ``attribute`` (a code and the words), or None."""
    kind = attribute.attr_type.upper()
    options = ", ".join(repr(o) for o in attribute.options) or "none"
    if kind == "NUMBER":
        if not _number(value):
            return Code.ATTRIBUTE_NUMBER, f"{value!r} is not a number"
        lo, hi = attribute.min_value, attribute.max_value
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            return Code.ATTRIBUTE_NUMBER, (f"{value!r} is outside "
                                           f"{'-inf' if lo is None else f'{lo:g}'}.."
                                           f"{'inf' if hi is None else f'{hi:g}'}")
    elif kind == "BOOL" and not isinstance(value, bool):
        return Code.ATTRIBUTE_TYPE, f"{value!r} is not true or false (a BOOL)"
    elif kind == "TEXT" and not isinstance(value, str):
        return Code.ATTRIBUTE_TYPE, f"{value!r} is not text (a TEXT)"
    elif kind == "SELECT":
        if not isinstance(value, str):
            return Code.ATTRIBUTE_TYPE, f"{value!r} is not one option's name (a SELECT)"
        if attribute.options and value not in attribute.options:
            return Code.ATTRIBUTE_OPTION, f"{value!r} is not one of its options ({options})"
    elif kind == "MULTISELECT":
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            return Code.ATTRIBUTE_TYPE, f"{value!r} is not a list of option names (a MULTISELECT)"
        bad = [v for v in value if attribute.options and v not in attribute.options]
        if bad:
            return Code.ATTRIBUTE_OPTION, (f"{', '.join(map(repr, bad))} not among its options "
                                           f"({options})")
    return None


def check_fields(tasks: Sequence[tuple[Task, str | None]], taxonomy: Taxonomy | None,
                 stages: Sequence[str] | None = None) -> Iterator[Finding]:
    """Findings about each task's priority, metaData, preAssign and classification;
    ``tasks`` pairs each task with the name findings give it."""
    for task, label in tasks:
        yield from _priority(task, label)
        yield from _metadata(task, label)
        yield from _pre_assign(task, label, stages)
        yield from _classification(task, label, taxonomy)


def _priority(task: Task, label: str | None) -> Iterator[Finding]:
    p = task.extra.get("priority")
    if p is None:
        return
    if not _number(p) or not 0 <= p <= 1:
        yield finding(Code.PRIORITY_RANGE, (
            f"`priority` is {p!r}; RedBrick expects a number from 0 to 1 and refuses the items "
            "list otherwise. Use a value such as 0.5 (or remove it)."), task=label)


def _metadata(task: Task, label: str | None) -> Iterator[Finding]:
    meta = task.series[0].meta_data if task.legacy and task.series else task.extra.get("metaData")
    if meta is None:
        return
    if not isinstance(meta, dict):
        yield finding(Code.METADATA_VALUE, (
            f"`metaData` is {type(meta).__name__}, not an object; RedBrick takes "
            "{\"key\": \"text\", ...} and refuses the task otherwise. Write it as an object of "
            "text values."), task=label)
        return
    bad = [k for k, v in meta.items() if not isinstance(v, str)]
    if bad:
        shown = ", ".join(f"{k!r}: {meta[k]!r}" for k in bad[:5])
        yield finding(Code.METADATA_VALUE, (
            f"`metaData` values must be text, and {shown} {'is' if len(bad) == 1 else 'are'} "
            "not; RedBrick refuses the task ({string: string}). Write the values in quotes, "
            "e.g. \"12\"."), task=label)


def _pre_assign(task: Task, label: str | None, stages: Sequence[str] | None
                ) -> Iterator[Finding]:
    pre = task.extra.get("preAssign")
    if pre is None:
        return
    if not isinstance(pre, dict) or not all(
            isinstance(v, str) or (isinstance(v, list) and all(isinstance(e, str) for e in v))
            for v in pre.values()):
        yield finding(Code.PREASSIGN_INVALID, (
            f"`preAssign` is {pre!r}; RedBrick takes {{\"stage name\": \"email\" or "
            "[\"email\", ...]}. Write it so."), task=label)
        return
    for stage, who in pre.items():
        if stages is not None and stage not in stages:
            yield finding(Code.PREASSIGN_STAGE, (
                f"`preAssign` names stage {stage!r}, which the project does not have (its "
                f"stages: {', '.join(map(repr, stages)) or 'none'}); RedBrick cannot assign the "
                "task there. Use one of the project's stage names."), task=label)
        for email in [who] if isinstance(who, str) else who:
            if not _EMAIL.fullmatch(email):
                yield finding(Code.PREASSIGN_EMAIL, (
                    f"`preAssign` {stage!r}: {email!r} is not an email address; RedBrick "
                    "assigns a task to a project member by their email. Write the member's "
                    "email, e.g. name@hospital.org."), task=label)


def _classification(task: Task, label: str | None, taxonomy: Taxonomy | None
                    ) -> Iterator[Finding]:
    value = task.extra.get("classification")
    if value is None:
        return
    pairs = attribute_pairs(value.get("attributes", {})) if isinstance(value, dict) else None
    if pairs is None:
        yield finding(Code.FORMAT, (
            f"`classification` is {value!r}; RedBrick takes {{\"attributes\": {{\"name\": "
            "value}}}} for the study's classification and refuses the batch otherwise. Write "
            "it so."), task=label)
        return
    if taxonomy is None:
        return
    defined = {a.name: a for a in taxonomy.study_attributes}
    for name, v in pairs:
        attribute = defined.get(name)
        if attribute is None:
            known = ", ".join(map(repr, defined)) or "none"
            yield finding(Code.CLASSIFICATION_UNKNOWN, (
                f"Study classification attribute {name!r} is not in the taxonomy's "
                f"studyClassify (its attributes: {known}); RedBrick may refuse it or drop it. "
                "Fix the name, or add the attribute to the taxonomy."), task=label)
        elif (problem := value_problem(attribute, v)) is not None:
            code, words = problem
            yield finding(code, (
                f"Study classification {name!r}: {words}; RedBrick refuses a value its "
                "attribute does not allow. Give a value the taxonomy allows."), task=label)
