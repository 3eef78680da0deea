"""The journal's lines: what a record must hold, and a journal file read line by line.

A journal is a header line, then one JSON object per line, each of a known event
with fields of known types. Reading tells three things apart:

* a torn last line (no newline at its end, no complete record): what a kill
  during a write leaves, normal, left out;
* damage: any other line that is no JSON, a header that is not Segmap's, a record
  of an unknown event or of the wrong types: reported, never guessed at;
* the records that are whole and well-typed, which can be trusted as they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HEADER = {"journal": "segmap-upload", "version": 1}
# Written when a damaged journal was set aside and rebuilt from its trusted records:
# from then on a task with no record of its own is looked up before it is created.
DAMAGED = "damaged"


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _str(v: Any) -> bool:
    return isinstance(v, str)


def _str_or_none(v: Any) -> bool:
    return v is None or isinstance(v, str)


def _fingerprint(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 2 and all(_int(x) for x in v)


def _segments(v: Any) -> bool:
    return v is None or isinstance(v, dict) and all(
        isinstance(k, str) and k.isdigit() and (g is None or isinstance(g, list)
                                                and all(_int(x) for x in g))
        for k, g in v.items())


def _str_list(v: Any) -> bool:
    return v is None or isinstance(v, list) and all(isinstance(x, str) for x in v)


_Check = Callable[[Any], bool]
# event -> {field: (required, check)}
_EVENTS: dict[str, dict[str, tuple[bool, _Check]]] = {
    "file": {"path": (True, _str), "fp": (True, _fingerprint), "filePath": (True, _str)},
    "label": {"series": (True, _int), "key": (True, _str), "filePath": (False, _str_or_none),
              "segments": (False, _segments)},
    "creating": {},
    "created": {"dpId": (False, _str_or_none), "taskId": (False, _str_or_none),
                "taskIds": (False, _str_list)},
    "not_created": {},
    "reset": {},
}


def record_problem(rec: Any) -> str | None:
    """What is wrong with one journal record, in a few words; None when it is whole."""
    if not isinstance(rec, dict):
        return f"a {type(rec).__name__} where a record belongs"
    event = rec.get("e")
    if event == DAMAGED:
        return None if _str_or_none(rec.get("at")) else "a damage mark of the wrong form"
    if event not in _EVENTS:
        return f"an unknown event {str(event)[:40]!r}"
    if not _str(rec.get("d")):
        return f"a {event} record without its destination"
    if not (_str(rec.get("t")) or event == "reset" and rec.get("t") is None):
        return f"a {event} record without its task name"
    for name, (required, check) in _EVENTS[event].items():
        if name not in rec:
            if required:
                return f"a {event} record without {name}"
        elif not check(rec[name]):
            return f"a {event} record whose {name} is of the wrong type"
    return None


@dataclass
class Parsed:
    """A journal file read: its trusted records (with their lines), and what was wrong."""

    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    damage: str | None = None  # the first damaged line and how many more, for a person
    torn: str = ""  # a torn last line (to cut off)
    distrust: bool = False  # a damage mark: rebuilt earlier from a damaged journal


def parse(text: str) -> Parsed:
    """Read a journal's text (see the module docstring); never raises on its content."""
    out = Parsed()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    elif lines and _torn(lines[-1]):
        out.torn = lines.pop()
    problems: list[str] = []
    for n, line in enumerate(lines, 1):
        try:
            rec = json.loads(line)
            # Written back as UTF-8 when the journal is compacted: it must be UTF-8 text.
            json.dumps(rec, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            problems.append(f"line {n} is not UTF-8 text")
            continue
        except ValueError:
            problems.append(f"line {n} is not JSON")
            continue
        if n == 1:
            if rec != HEADER:
                problems.append("line 1 is not the header of a Segmap upload journal "
                                f"(version {HEADER['version']})")
            continue
        problem = record_problem(rec)
        if problem is not None:
            problems.append(f"line {n} holds {problem}")
        elif rec["e"] == DAMAGED:
            out.distrust = True
        else:
            out.records.append((line, rec))
    if problems:
        more = f", and {len(problems) - 1} more damaged line(s)" if len(problems) > 1 else ""
        out.damage = problems[0] + more
    return out


def _torn(line: str) -> bool:
    """A last line without its newline is torn when it is no JSON: a write cut short.
    (Whole JSON there is a record whose newline did not make it, judged like any other.)"""
    try:
        json.loads(line)
    except ValueError:
        return True
    return False
