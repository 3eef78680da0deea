"""Label tables other tools read: 3D Slicer's colour table (CSV, with terminology) and
ITK-SNAP's label description file, written atomically and read back.

Also the coded concepts both carry: ``Code`` (scheme, value, meaning) and ``CodeTriple``
(category, type and optional modifier, as DICOM SEG and Slicer's terminology describe a
segment). They live here, the lowest package that writes them, so ``app.export`` and
``app.mapping`` (which suggests codes) share one type.

Formats, as the tools write them:

* Slicer ``.csv`` (``vtkMRMLColorTableStorageNode``, Slicer's Colors module docs):
  ``LabelValue,Name,Color_R,Color_G,Color_B,Color_A,`` then scheme / value / meaning
  columns for Category, Type, TypeModifier, Region and RegionModifier. Values holding a
  comma are quoted; Slicer's reader cannot hold a quotation mark, so ``"`` becomes ``'``.
* ITK-SNAP ``.txt`` (``ColorLabelTable::SaveToFile``): the 14-line ``#`` header, then
  ``IDX R G B A VIS MSH "LABEL"`` in fixed-width columns, alpha as 0..1, index 0 the
  "Clear Label". A label cannot hold ``"`` (ITK-SNAP reads to the next one).
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import InputError
from app.export._own import guard_output, record_output
from app.jsonio import atomic_path, read_bytes_checked
from app.readers import Code

RGB = tuple[int, int, int]

_TABLE_LIMIT = 16 * 1024 * 1024  # a label table is a few kB; refuse to slurp anything huge


@dataclass(frozen=True)
class CodeTriple:
    """What a segment is: its category (CID 7150), its type and an optional modifier
    (laterality, as DICOM's Segmented Property Type Modifier)."""

    category: Code
    type: Code
    modifier: Code | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"category": self.category.to_json(), "type": self.type.to_json()}
        if self.modifier is not None:
            out["modifier"] = self.modifier.to_json()
        return out

    @classmethod
    def from_json(cls, obj: Any, where: str = "code") -> CodeTriple:
        """The triple ``to_json`` wrote; InputError naming ``where`` when malformed."""
        if not isinstance(obj, Mapping):
            raise InputError(f"{where} must be an object with a category and a type "
                             f"(got {obj!r}).")
        modifier = obj.get("modifier")
        return cls(Code.from_json(obj.get("category"), f"{where}.category"),
                   Code.from_json(obj.get("type"), f"{where}.type"),
                   None if modifier is None else Code.from_json(modifier, f"{where}.modifier"))


@dataclass(frozen=True)
class LabelRow:
    """One label of a table: its value in the label map, name, colour, opacity (0..255)
    and, when known, what it is (``code``)."""

    value: int
    name: str
    rgb: RGB
    code: CodeTriple | None = None
    alpha: int = 255


# --- 3D Slicer colour table (.csv) -------------------------------------------------------

_PARTS = ("Category", "Type", "TypeModifier", "Region", "RegionModifier")
_FIELDS = ("CodingScheme", "CodeValue", "CodeMeaning")
SLICER_COLUMNS: tuple[str, ...] = (
    "LabelValue", "Name", "Color_R", "Color_G", "Color_B", "Color_A",
    *(f"{p}_{f}" for p in _PARTS for f in _FIELDS))


def _no_quotes(text: str) -> str:
    return text.replace('"', "'").replace("\r", " ").replace("\n", " ")


def _code_cells(code: Code | None) -> list[str]:
    if code is None:
        return ["", "", ""]
    return [_no_quotes(code.scheme), _no_quotes(code.value), _no_quotes(code.meaning)]


def _checked(rows: Iterable[LabelRow]) -> list[LabelRow]:
    out = sorted(rows, key=lambda r: r.value)
    seen: set[int] = set()
    for r in out:
        if r.value < 0:
            raise InputError(f"Label {r.name!r} has the negative value {r.value}.",
                             "Label tables hold values from 0.")
        if r.value in seen:
            raise InputError(f"Label value {r.value} is listed twice.",
                             "Give every label value one row.")
        if not all(0 <= c <= 255 for c in (*r.rgb, r.alpha)):
            raise InputError(f"Label {r.name!r} has a colour outside 0..255: {r.rgb}.")
        seen.add(r.value)
    return out


def slicer_colour_table(rows: Iterable[LabelRow]) -> str:
    """3D Slicer's colour table (``.csv``) with terminology columns; background (0) is
    left out unless a row gives it, as Slicer's docs advise."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(SLICER_COLUMNS)
    for r in _checked(rows):
        c = r.code
        writer.writerow([r.value, _no_quotes(r.name), *r.rgb, r.alpha,
                         *_code_cells(c.category if c else None),
                         *_code_cells(c.type if c else None),
                         *_code_cells(c.modifier if c else None),
                         "", "", "", "", "", ""])
    return buf.getvalue()


def _text_of(path: Path, what: str) -> str:
    data = read_bytes_checked(path, what, _TABLE_LIMIT)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _int_cell(row: Mapping[str, str | None], key: str, default: int | None, where: str) -> int:
    text = (row.get(key) or "").strip()
    if not text:
        if default is None:
            raise InputError(f"{where}: no {key}.")
        return default
    try:
        return int(float(text))  # Slicer may write 255.0
    except ValueError:
        raise InputError(f"{where}: {key} is {text!r}, not a number.") from None


def _code_of(row: Mapping[str, str | None], part: str) -> Code | None:
    scheme, value, meaning = ((row.get(f"{part}_{f}") or "").strip() for f in _FIELDS)
    return Code(scheme, value, meaning) if scheme and value else None


def parse_slicer_colour_table(text: str, where: str = "colour table") -> list[LabelRow]:
    """The rows of a Slicer ``.csv`` colour table (``slicer_colour_table``'s or Slicer's)."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "LabelValue" not in reader.fieldnames:
        raise InputError(f"{where} is not a 3D Slicer colour table: its first line has no "
                         "LabelValue column.", "Save the colour table from Slicer as .csv.")
    rows = []
    for n, row in enumerate(reader, start=2):
        at = f"{where}, line {n}"
        value = _int_cell(row, "LabelValue", None, at)
        rgb = (_int_cell(row, "Color_R", 0, at), _int_cell(row, "Color_G", 0, at),
               _int_cell(row, "Color_B", 0, at))
        category, type_ = _code_of(row, "Category"), _code_of(row, "Type")
        code = CodeTriple(category, type_, _code_of(row, "TypeModifier")) \
            if category is not None and type_ is not None else None
        rows.append(LabelRow(value, (row.get("Name") or "").strip(), rgb, code,
                             _int_cell(row, "Color_A", 255, at)))
    return _checked(rows)


def read_slicer_colour_table(path: str | os.PathLike[str]) -> list[LabelRow]:
    """The rows of a Slicer ``.csv`` colour table file."""
    p = Path(path)
    return parse_slicer_colour_table(_text_of(p, "colour table"), str(p))


# --- ITK-SNAP label description (.txt) ---------------------------------------------------

# ITK-SNAP's header, as ColorLabelTable::SaveToFile writes it (trailing spaces included).
ITKSNAP_HEADER = (
    "################################################\n"
    "# ITK-SnAP Label Description File\n"
    "# File format: \n"
    "# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL\n"
    "# Fields: \n"
    "#    IDX:   Zero-based index \n"
    "#    -R-:   Red color component (0..255)\n"
    "#    -G-:   Green color component (0..255)\n"
    "#    -B-:   Blue color component (0..255)\n"
    "#    -A-:   Label transparency (0.00 .. 1.00)\n"
    "#    VIS:   Label visibility (0 or 1)\n"
    "#    IDX:   Label mesh visibility (0 or 1)\n"
    "#  LABEL:   Label description \n"
    "################################################\n"
)
CLEAR_LABEL = "Clear Label"
_ITK_LINE = re.compile(
    r'^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+([0-9.eE+-]+)\s+(\d+)\s+(\d+)\s+"([^"]*)"?\s*$')


def _itk_line(value: int, rgb: RGB, alpha: float, visible: bool, label: str) -> str:
    # C++ iostream: setw(3) fields, alpha with setprecision(2) in general format (%.2g).
    flag = 1 if visible else 0
    return (f"  {value:>3}   {rgb[0]:>3}  {rgb[1]:>3}  {rgb[2]:>3}  {alpha:>7.2g}"
            f"  {flag}  {flag}    \"{label}\"\n")


def itksnap_label_file(rows: Iterable[LabelRow]) -> str:
    """ITK-SNAP's label description file: its header, the Clear Label (0), then every row.

    Codes are not part of the format (a Slicer colour table carries them).
    """
    lines = [ITKSNAP_HEADER]
    checked = _checked(rows)
    if not checked or checked[0].value != 0:
        lines.append(_itk_line(0, (0, 0, 0), 0.0, False, CLEAR_LABEL))
    for r in checked:
        lines.append(_itk_line(r.value, r.rgb, r.alpha / 255.0, r.value != 0,
                               _no_quotes(r.name)))
    return "".join(lines)


def parse_itksnap_labels(text: str, where: str = "label file") -> list[LabelRow]:
    """The labels of an ITK-SNAP label description (the Clear Label, 0, left out)."""
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _ITK_LINE.match(line)
        if m is None:
            raise InputError(f"{where}, line {n} is not an ITK-SNAP label line: {line!r}.",
                             'Lines read: IDX R G B A VIS MSH "LABEL".')
        value = int(m.group(1))
        if value == 0:
            continue
        rgb = (int(m.group(2)), int(m.group(3)), int(m.group(4)))
        alpha = max(0, min(255, round(255 * float(m.group(5)))))
        rows.append(LabelRow(value, m.group(8).strip(), rgb, None, alpha))
    return _checked(rows)


def read_itksnap_labels(path: str | os.PathLike[str]) -> list[LabelRow]:
    """The labels of an ITK-SNAP label description file."""
    p = Path(path)
    return parse_itksnap_labels(_text_of(p, "label file"), str(p))


# --- writing -------------------------------------------------------------------------------

Inputs = Iterable[str | os.PathLike[str] | None]


def _write_text(path: str | os.PathLike[str], text: str, what: str, force: bool,
                inputs: Inputs) -> Path:
    target = Path(path).expanduser()
    guard_output(target, inputs, force=force)
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="")
    record_output(target, what)
    return target


def write_slicer_colour_table(path: str | os.PathLike[str], rows: Sequence[LabelRow], *,
                              force: bool = False, inputs: Inputs = ()) -> Path:
    """Write ``slicer_colour_table(rows)`` to ``path`` atomically.

    As every Segmap output: never over one of ``inputs`` (OutputError), a file Segmap
    did not write replaced only with ``force`` (``ReplaceRefused``), recorded as Segmap's.
    """
    return _write_text(path, slicer_colour_table(rows), "Slicer colour table", force, inputs)


def write_itksnap_labels(path: str | os.PathLike[str], rows: Sequence[LabelRow], *,
                         force: bool = False, inputs: Inputs = ()) -> Path:
    """Write ``itksnap_label_file(rows)`` to ``path`` atomically (as
    ``write_slicer_colour_table``)."""
    return _write_text(path, itksnap_label_file(rows), "ITK-SNAP label file", force, inputs)
