"""`segmap validate ITEMS.json`: what RedBrick would reject or get wrong, before upload."""

from __future__ import annotations

import argparse
import os
import textwrap
from itertools import groupby

from app.cli._common import add_jobs_arguments, add_root_argument, drive, jobs_from, print_json
from app.items import load_items, load_taxonomy
from app.validate import Finding, Severity, counts, validate_work

NAME = "validate"
HELP = ("Check an items list before upload: files, label values, mapping, categories, "
        "geometry and overlaps, as RedBrick will see them.")
ORDER = 40
_WIDTH = 100


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("items", metavar="ITEMS.json", help="the items list")
    p.add_argument("--taxonomy", metavar="TAX.json",
                   help="the project's taxonomy (v1 or v2 JSON) to check categories against")
    add_root_argument(p)
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    add_jobs_arguments(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")


def _where(f: Finding) -> str:
    parts = []
    if f.series is not None:
        parts.append(f"series {f.series}")
    if f.file:
        parts.append(os.path.basename(f.file))
    if f.value is not None:
        parts.append(f"value {f.value}")
    return ", ".join(parts)


def _human(found: list[Finding]) -> str:
    lines: list[str] = []
    for task, group in groupby(found, key=lambda f: f.task):
        lines.append(f"Task {task!r}" if task is not None else "Items list")
        for f in group:
            where = _where(f)
            head = f"  {f.severity.upper():<7} {f.code}" + (f" ({where})" if where else "")
            lines.append(head)
            lines.extend(textwrap.wrap(f.message, _WIDTH, initial_indent="          ",
                                       subsequent_indent="          "))
        lines.append("")
    return "\n".join(lines)


def summary(found: list[Finding], tasks: int) -> str:
    """One line: how many errors, warnings and notes, and what that means for the upload."""
    n = counts(found)
    e, w, i = n[Severity.ERROR], n[Severity.WARNING], n[Severity.INFO]
    text = (f"{e} error{'s' * (e != 1)}, {w} warning{'s' * (w != 1)}, {i} note{'s' * (i != 1)} "
            f"in {tasks} task{'s' * (tasks != 1)}")
    if n[Severity.ERROR]:
        return text + ": fix the errors before uploading."
    if n[Severity.WARNING]:
        return text + ": the upload would work; check the warnings."
    return text + ": ready to upload."


def run(args: argparse.Namespace) -> int:
    items = load_items(args.items, args.root)
    taxonomy = load_taxonomy(args.taxonomy) if args.taxonomy else None
    found = drive(validate_work(items, taxonomy, jobs=jobs_from(args)), "validate",
                  enabled=not args.quiet)
    n = counts(found)
    if args.json:
        print_json({"findings": [f.to_json() for f in found], "errors": n[Severity.ERROR],
                    "warnings": n[Severity.WARNING]})
    else:
        if found:
            print(_human(found), end="")
        print(summary(found, len(items.tasks)))
    return 1 if n[Severity.ERROR] else 0
