"""A CSV (or TSV) that says which remote task each mask file labels.

Columns ``task`` (a remote task's name or id) and ``mask_path`` (relative to the CSV's
folder, or absolute); other columns are allowed and ignored; column names are matched
without case or surrounding spaces. Tabs are the delimiter for ``.tsv`` / ``.tab``
files, else it is sniffed (comma, tab or semicolon). A file that cannot be used as a
whole (unreadable, a column missing, an empty cell, one mask on two rows, a mask the
items list does not hold) raises ``MatchCsvError`` naming the file and row; a row whose
task is not in the project only leaves its local task unmatched.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from app.errors import InputError

COLUMNS = ("task", "mask_path")
_TAB_SUFFIXES = (".tsv", ".tab")


class MatchCsvError(InputError):
    """A match CSV that cannot be used: the message names the file and row, the hint the fix."""


@dataclass(frozen=True)
class CsvRow:
    """One row: its line number in the file (the header is line 1), the task it names and
    the mask file, resolved."""

    line: int
    task: str
    mask: Path
    written: str  # mask_path as written in the file


def _delimiter(path: Path, text: str) -> str:
    if path.suffix.lower() in _TAB_SUFFIXES:
        return "\t"
    try:
        return csv.Sniffer().sniff(text[:4096].splitlines()[0] if text else "",
                                   delimiters=",\t;").delimiter
    except csv.Error:
        return ","


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # Excel writes a BOM
    except UnicodeDecodeError as exc:
        raise MatchCsvError(f"{path} is not UTF-8 text (byte {exc.start}).",
                            "Save the CSV as UTF-8 (Excel: CSV UTF-8).") from None
    except OSError as exc:
        raise MatchCsvError(f"Cannot read the match CSV {path}: {exc.strerror or exc}.",
                            "Check the path and that you can read the file.") from None


def read_match_csv(path: Path) -> list[CsvRow]:
    """The rows of a match CSV, each mask resolved (see the module docstring)."""
    text = _text(path)
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(path, text))
    try:
        rows = list(reader)
    except csv.Error as exc:
        raise MatchCsvError(f"{path} is not a readable CSV (line {reader.line_num}): {exc}.",
                            "Save it again as plain CSV.") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise MatchCsvError(f"{path} is empty: it has no header row.",
                            "Write a header row `task,mask_path` and one row per mask file.")
    header = [cell.strip().lower() for cell in rows[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        found = ", ".join(repr(c) for c in rows[0]) or "none"
        raise MatchCsvError(
            f"{path} has no column {' or '.join(repr(c) for c in missing)} (its columns: {found}).",
            "The first row must name the columns `task` (a remote task's name or id) and "
            "`mask_path` (the mask file, relative to the CSV's folder).")
    at = {c: header.index(c) for c in COLUMNS}
    out: list[CsvRow] = []
    first_line: dict[Path, int] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line (often the last)
        values = {c: row[i].strip() if i < len(row) else "" for c, i in at.items()}
        for column in COLUMNS:
            if not values[column]:
                raise MatchCsvError(f"{path}, row {line}: the `{column}` cell is empty.",
                                    f"Fill in `{column}` on row {line}, or delete the row.")
        written = values["mask_path"]
        given = Path(os.path.expanduser(written))
        mask = (given if given.is_absolute() else path.parent / given).resolve()
        if mask in first_line:
            raise MatchCsvError(
                f"{path}, rows {first_line[mask]} and {line} both name the mask {written}.",
                "A mask labels one task: keep one row per mask file.")
        first_line[mask] = line
        out.append(CsvRow(line, values["task"], mask, written))
    return out
