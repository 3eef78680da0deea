"""A fields CSV (or TSV): each case's task fields, joined by case id.

One row per case; a column ``case`` names it as Segmap's scan does (``segmap scan``
lists them). The other columns, each optional, an empty cell leaving the field unset:

| column | task field | value |
|---|---|---|
| ``name`` | ``name`` | a name pattern for this case (placeholders as ``--name-pattern``) |
| ``priority`` | ``priority`` | a number from 0 to 1 |
| ``meta.<key>`` | ``metaData.<key>`` | text |
| ``preassign.<stage>`` | ``preAssign.<stage>`` | an email; several separated by ``;`` |
| ``classification.<attr>`` | ``classification.attributes.<attr>`` | typed (below) |
| ``label.<category>.<attr>`` | that category's segmentMap entries' ``attributes`` | typed |

A value is typed by its attribute in the taxonomy when one is given: NUMBER a number,
BOOL true/false (yes/no, 1/0), MULTISELECT options separated by ``;``, other types text.
Without a taxonomy, a plain number is a number, true/false a boolean, the rest text.
A column whose name is none of these, a missing ``case`` column, a case twice, a case
the scan does not have, or a value that cannot be typed is an ``InputError`` naming the
file, row and column; nothing is used then. Whether a value fits the project (0..1,
options, min/max, stages, emails) is validation's word (``app.validate``).
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app.errors import InputError
from app.items import AttributeInfo, TaskFields, Taxonomy
from app.jsonio import open_regular
from app.mapping._task_names import placeholders

COLUMNS = ("case", "name", "priority", "meta.<key>", "preassign.<stage>",
           "classification.<attr>", "label.<category>.<attr>")
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")
_SHOWN = 8  # problems listed in one message


def _number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def typed(text: str, attribute: AttributeInfo | None) -> Any:
    """A cell's value as its attribute takes it; ``ValueError`` saying what it should be."""
    kind = attribute.attr_type.upper() if attribute is not None else None
    low = text.lower()
    if kind == "NUMBER":
        if (x := _number(text)) is None:
            raise ValueError(f"{text!r} is not a number (the attribute is a NUMBER)")
        return x
    if kind == "BOOL":
        if low not in _TRUE + _FALSE:
            raise ValueError(f"{text!r} is not true or false (the attribute is a BOOL)")
        return low in _TRUE
    if kind == "MULTISELECT":
        return [part.strip() for part in text.split(";") if part.strip()]
    if kind is not None:
        return text
    if low in ("true", "false"):
        return low == "true"
    x = _number(text)
    return text if x is None else x


def _study_attribute(taxonomy: Taxonomy | None, name: str) -> AttributeInfo | None:
    if taxonomy is None:
        return None
    return next((a for a in taxonomy.study_attributes if a.name == name), None)


def _label_attribute(taxonomy: Taxonomy | None, category: str, name: str
                     ) -> AttributeInfo | None:
    if taxonomy is None:
        return None
    info = taxonomy.lookup(category) or next(
        (c for c in taxonomy.categories if c.label == category), None)
    attributes = taxonomy.attributes_of(info) if info is not None else ()
    return next((a for a in attributes if a.name == name), None)


def _set(fields: TaskFields, column: str, text: str, taxonomy: Taxonomy | None,
         where: str) -> None:
    """Put one cell into ``fields`` (``ValueError`` when it cannot be typed)."""
    head, _, rest = column.partition(".")
    if column == "name":
        placeholders(text, f"{where}: the name")
        fields.name = text
    elif column == "priority":
        if (x := _number(text)) is None:
            raise ValueError(f"{text!r} is not a number (a priority is from 0 to 1)")
        fields.priority = float(x)
    elif head == "meta":
        fields.meta[rest] = text
    elif head == "preassign":
        emails = [e.strip() for e in text.split(";") if e.strip()]
        fields.pre_assign[rest] = emails[0] if len(emails) == 1 else emails
    elif head == "classification":
        fields.classification[rest] = typed(text, _study_attribute(taxonomy, rest))
    else:  # label.<category>.<attr>
        category, _, attr = rest.rpartition(".")
        fields.labels.setdefault(category, {})[attr] = typed(
            text, _label_attribute(taxonomy, category, attr))


def _column_ok(column: str) -> bool:
    head, dot, rest = column.partition(".")
    if column in ("case", "name", "priority"):
        return True
    if head in ("meta", "preassign", "classification"):
        return bool(dot and rest)
    if head == "label":
        category, dot2, attr = rest.rpartition(".")
        return bool(dot and dot2 and category and attr)
    return False


def _dialect(path: Path, sample: str) -> type[csv.Dialect] | csv.Dialect:
    if path.suffix.lower() in (".tsv", ".tab"):
        return csv.excel_tab
    try:
        return csv.Sniffer().sniff(sample.splitlines()[0] if sample else "", ",;\t")
    except csv.Error:
        return csv.excel


def _fail(path: Path, problems: list[str]) -> InputError:
    more = f"; and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
    return InputError(
        f"{path}: {len(problems)} problem(s) in the task fields, so none were used: "
        + "; ".join(problems[:_SHOWN]) + more + ".",
        f"Columns: {', '.join(COLUMNS)}; one row per case, `case` as `segmap scan` names it. "
        "Fix the cells named and run again.")


def read_task_fields(path: str | os.PathLike[str], cases: Sequence[str],
                     taxonomy: Taxonomy | None = None) -> dict[str, TaskFields]:
    """Each case's fields from the CSV/TSV at ``path`` (see the module), by case id;
    ``cases`` are the case ids the scan has."""
    p = Path(path)
    with open_regular(p, "task fields file") as fh:
        raw = fh.read()
    try:
        text = raw.decode("utf-8-sig")  # Excel writes a byte order mark
    except UnicodeDecodeError as exc:
        raise InputError(f"{p} is not UTF-8 text (byte {exc.start}).",
                         "Save the table as CSV UTF-8.") from None
    reader = csv.reader(io.StringIO(text, newline=""), _dialect(p, text[:4096]))
    header = [h.strip() for h in next(reader, [])]
    problems: list[str] = []
    if "case" not in header:
        raise _fail(p, [f"row 1 has no `case` column (its columns: {', '.join(header) or 'none'})"])
    for i, column in enumerate(header):
        if not _column_ok(column):
            problems.append(f"row 1, column {i + 1} {column!r} is not a field column")
        elif header.index(column) != i:
            problems.append(f"row 1, column {column!r} appears twice")
    if problems:
        raise _fail(p, problems)
    known = set(cases)
    out: dict[str, TaskFields] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        cells = dict(zip(header, (c.strip() for c in row), strict=False))
        case = cells.get("case", "")
        if not case:
            problems.append(f"row {line}: the `case` cell is empty")
            continue
        if case in out:
            problems.append(f"row {line}: case {case!r} is listed twice")
            continue
        if case not in known:
            near = ", ".join(sorted(known)[:5]) + (" ..." if len(known) > 5 else "")
            problems.append(f"row {line}: the scan has no case {case!r} (its cases: {near})")
            continue
        if len(row) > len(header):
            problems.append(f"row {line}: {len(row)} cells but {len(header)} columns")
        fields = TaskFields()
        for column, cell in cells.items():
            if column == "case" or not cell:
                continue
            try:
                _set(fields, column, cell, taxonomy, f"row {line}")
            except (ValueError, InputError) as exc:
                why = exc.message if isinstance(exc, InputError) else str(exc)
                problems.append(f"row {line}, column {column!r}: {why}")
        out[case] = fields
    if problems:
        raise _fail(p, problems)
    return out
