"""Findings as data: what validation found, where, and what to do about it."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypedDict

from app.items import ItemsList, json_safe, task_label
from app.validate._codes import Code, Severity


class Where(TypedDict):
    """Where a finding is: the task's name and the series' index (None for the whole list)."""

    task: str | None
    series: int | None


@dataclass(frozen=True)
class Finding:
    """One thing validation found: severity, stable code, where, and what to do."""

    severity: Severity
    code: Code
    task: str | None
    series: int | None
    file: str | None
    value: int | None
    message: str

    def to_json(self) -> dict[str, Any]:
        """The finding as the CLI prints it; a file name that is not UTF-8 (read through
        the file system's escapes) is written with its bytes escaped, ``case\\udcff``,
        as JSON cannot carry it."""
        return {k: json_safe(v) if isinstance(v, str) else v
                for k, v in dataclasses.asdict(self).items()}

    @property
    def is_error(self) -> bool:
        """True for findings that make the upload fail or store wrong labels."""
        return self.severity is Severity.ERROR


def finding(code: Code | str, message: str, task: str | None = None, series: int | None = None,
            file: str | os.PathLike[str] | None = None, value: int | None = None) -> Finding:
    """A finding with the severity of its code (a ``Code`` or its text)."""
    c = code if isinstance(code, Code) else Code.of(code)
    return Finding(c.severity, c, task, series, None if file is None else str(file), value,
                   message)


def sort_findings(items: ItemsList, found: Iterable[Finding]) -> list[Finding]:
    """Findings of the whole list first, then task by task; errors first within each."""
    order: dict[str | None, int] = {None: -1}
    for i, t in enumerate(items.tasks):
        order.setdefault(task_label(t), i)
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda f: (order.get(f.task, len(order)), f.severity.rank,
                                         -1 if f.series is None else f.series))


def counts(found: Iterable[Finding]) -> dict[Severity, int]:
    """Number of findings per severity."""
    out = dict.fromkeys(Severity, 0)
    for f in found:
        out[f.severity] += 1
    return out
