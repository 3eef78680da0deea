"""Label names written beside (or inside) mask files.

Readers for the tables tools write (anchors.md §13): nnU-Net v2 / MSD
``dataset.json`` (the ``labels`` mapping exists in both directions), 3D Slicer
colour tables (``.ctbl`` / ``.txt`` / ``.csv``, FreeSurfer LUTs share the format),
ITK-SNAP label descriptions, plain "value name" text tables (MRIcron's ``aal.nii.txt``,
FSL / JHU tab-separated ``.txt``, ``.lut``), dcmqi segment metadata JSON, BIDS ``dseg.tsv``,
Datature ``labels.json``, an existing RedBrick items list, TotalSegmentator's
NIfTI header extension and Slicer's ``.seg.nrrd`` header fields.

Each reader returns a :class:`LabelTable` (value -> name) or None when the file
is not such a table; a malformed table is reported as a problem, never raised,
since a scan must go on past a stray file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import nibabel as nib

from app.errors import SegmapError
from app.items import Category, parse_items
from app.jsonio import open_regular

SIDECAR_SUFFIXES = (".json", ".ctbl", ".txt", ".csv", ".tsv", ".lut")
_MAX_BYTES = 20 << 20  # larger files are data, not label tables



class TableKind(StrEnum):
    """Where a label table came from."""

    NNUNET = "nnU-Net v2 dataset.json"
    MSD = "MSD dataset.json"
    SLICER = "3D Slicer colour table"
    ITKSNAP = "ITK-SNAP label descriptions"
    DCMQI = "dcmqi segment metadata"
    ITEMS = "items list"
    BIDS = "BIDS dseg.tsv"
    DATATURE = "labels.json"
    NIFTI_EXT = "NIfTI header extension"
    SEG_NRRD = "Slicer .seg.nrrd header"
    DICOM_SEG = "DICOM SEG segment labels"
    RTSTRUCT = "RT Structure Set ROI names"
    DICOM_CODES = "DICOM segment codes"  # what a segment's coded concept means
    TEXT = "text label table"


@dataclass(frozen=True)
class LabelTable:
    """Names of label values from one file.

    ``per_file`` holds dcmqi's one table per input file (in the input order);
    ``by_file`` holds an items list's categories per segmentation file (value ->
    category; the key None is a binary mask's category); ``pairs`` holds MSD's
    ``training`` list (label file -> image file); ``ignore`` holds nnU-Net's
    ``ignore`` value.
    """

    path: Path
    kind: TableKind
    names: dict[int, str] = field(default_factory=dict)
    per_file: tuple[dict[int, str], ...] = ()
    by_file: dict[Path, dict[int | None, Category]] = field(default_factory=dict)
    pairs: dict[Path, Path] = field(default_factory=dict)
    ignore: frozenset[int] = frozenset()

    @property
    def source(self) -> str:
        """``dataset.json (nnU-Net v2 dataset.json)``: the file and what it is."""
        return f"{self.path.name} ({self.kind})"


def _read_text(path: Path) -> str | None:
    try:
        with open_regular(path, "label table") as fh:  # a FIFO is never waited on
            if os.fstat(fh.fileno()).st_size > _MAX_BYTES:
                return None
            return fh.read().decode("utf-8-sig", errors="replace")
    except (OSError, SegmapError):
        return None


def read_sidecar(path: Path) -> tuple[LabelTable | None, str | None]:
    """Read any sidecar; returns (table or None, problem text or None)."""
    text = _read_text(path)
    if text is None:
        return None, None
    low = path.name.lower()
    try:
        if low.endswith(".json"):
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                if low == "dataset.json":
                    return None, f"{path}: malformed JSON at line {exc.lineno}: {exc.msg}"
                return None, None
            return _from_json(path, obj), None
        if low.endswith(".tsv"):
            return _from_tsv(path, text), None
        if low.endswith(".csv"):
            return _from_slicer_csv(path, text), None
        return _from_text_table(path, text), None
    except (ValueError, TypeError, KeyError, AttributeError, SegmapError) as exc:
        return None, f"{path}: not a usable label table ({exc})"


def is_items_list(obj: Any) -> bool:
    """True for parsed JSON shaped as an items list (tasks with series, items or
    segmentations)."""
    return isinstance(obj, list) and bool(obj) and all(isinstance(t, dict) for t in obj) \
        and any("series" in t or "segmentations" in t or "items" in t for t in obj)


def _from_json(path: Path, obj: Any) -> LabelTable | None:
    if isinstance(obj, dict) and isinstance(obj.get("labels"), dict):
        return _dataset_json(path, obj)
    if isinstance(obj, dict) and isinstance(obj.get("segmentAttributes"), list):
        return _dcmqi(path, obj)
    if isinstance(obj, list) and obj and all(isinstance(t, dict) for t in obj):
        if all("id" in t and "name" in t and "series" not in t for t in obj):
            return LabelTable(path, TableKind.DATATURE,
                              {int(t["id"]): str(t["name"]) for t in obj if int(t["id"])})
        if is_items_list(obj):
            return _items_list(path, obj)
    return None


def _dataset_json(path: Path, obj: dict[str, Any]) -> LabelTable:
    labels: dict[str, Any] = obj["labels"]
    names: dict[int, str] = {}
    ignore: set[int] = set()
    # MSD v1 maps "1" -> "liver"; nnU-Net v2 maps "liver" -> 1 (or a list: a region).
    v1 = all(_is_int(k) for k in labels) and not all(_is_int(v) for v in labels.values())
    for k, v in labels.items():
        if v1:
            value, name = int(k), str(v)
        elif _is_int(v):
            value, name = int(v), str(k)
        else:
            continue  # nnU-Net region (a list of values): not a value of the file
        if name.lower() == "ignore":
            ignore.add(value)
        elif value != 0:
            names[value] = name
    pairs: dict[Path, Path] = {}
    for entry in obj.get("training") or []:
        if isinstance(entry, dict) and isinstance(entry.get("image"), str) \
                and isinstance(entry.get("label"), str):
            pairs[(path.parent / entry["label"]).resolve()] = \
                (path.parent / entry["image"]).resolve()
    kind = TableKind.MSD if v1 else TableKind.NNUNET
    return LabelTable(path, kind, names, pairs=pairs, ignore=frozenset(ignore))


def _is_int(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int):
        return True
    return isinstance(v, str) and v.strip().lstrip("-").isdigit()


def dcmqi_name(seg: dict[str, Any]) -> str:
    """A dcmqi segment's name: its label, else its type (with modifier, ``Kidney Left``)."""
    label = seg.get("SegmentLabel")
    if isinstance(label, str) and label.strip():
        return label.strip()
    typ = (seg.get("SegmentedPropertyTypeCodeSequence") or {}).get("CodeMeaning", "")
    mod = (seg.get("SegmentedPropertyTypeModifierCodeSequence") or {}).get("CodeMeaning", "")
    return f"{typ} {mod}".strip() or str(seg.get("SegmentDescription", "")).strip()


def _dcmqi(path: Path, obj: dict[str, Any]) -> LabelTable:
    per_file = []
    for entries in obj["segmentAttributes"]:
        table = {int(s["labelID"]): dcmqi_name(s) for s in entries
                 if isinstance(s, dict) and "labelID" in s}
        per_file.append({v: n for v, n in table.items() if n})
    merged: dict[int, str] = {}
    for t in per_file:
        merged.update(t)
    return LabelTable(path, TableKind.DCMQI, merged, per_file=tuple(per_file))


def _items_list(path: Path, obj: list[Any]) -> LabelTable | None:
    items = parse_items(obj, path=path)
    by_file: dict[Path, dict[int | None, Category]] = {}
    for task in items.tasks:
        for i, series in enumerate(task.series):
            smap = task.segment_map_of(i)
            if smap is None:
                continue
            files = [items.resolve(p) for p in series.segmentation_paths]
            for inst, seg in smap.segments.items():
                if seg.category is None or inst == 0:
                    continue
                if series.is_binary and isinstance(seg.mask, str):
                    mask = items.resolve(seg.mask)
                    if mask is not None:
                        by_file.setdefault(mask.resolve(), {})[None] = seg.category
                    continue
                for f in files:
                    if f is not None:
                        by_file.setdefault(f.resolve(), {})[inst] = seg.category
    return LabelTable(path, TableKind.ITEMS, by_file=by_file) if by_file else None


_ITKSNAP = re.compile(r'^\s*(\d+)\s+\d+\s+\d+\s+\d+\s+[\d.eE+-]+\s+\d+\s+\d+\s+"(.*)"\s*$')
_CTBL = re.compile(r"^\s*(\d+)\s+(\S+)(?:\s+\d+){3,4}\s*$")


# MRIcron "1 Precentral_L 2001", FSL/JHU "1<TAB>Genu_of_corpus_callosum", "3 Left Hippocampus".
_PLAIN = re.compile(r"^\s*(\d+)[\s,;:=]+(.*?)\s*$")
_PLAIN_HEADER = re.compile(r"^\W*(index|value|label|key|id|no)\b.*\b(name|label|structure)",
                           re.IGNORECASE)
PLAIN_MIN_SHARE = 0.8  # of a plain table's data lines that must read as "value name"


def _plain_name(rest: str) -> str | None:
    """The name in the rest of a "value name [more]" line: the next tab-separated field,
    or the words before trailing numbers (MRIcron's index, an RGB colour); None unless it
    holds a letter."""
    name = rest.split("\t", 1)[0].strip() if "\t" in rest else rest
    words = name.split()
    while len(words) > 1 and re.fullmatch(r"[-+]?[\d.]+", words[-1]):
        words.pop()
    name = " ".join(words).strip("\"'")
    return name if any(c.isalpha() for c in name) else None


def _from_text_table(path: Path, text: str) -> LabelTable | None:
    itk: dict[int, str] = {}
    ctbl: dict[int, str] = {}
    plain: dict[int, str] = {}
    data_lines = 0
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith(("#", "//", "%")):
            continue
        data_lines += 1
        if m := _ITKSNAP.match(line):
            itk[int(m.group(1))] = m.group(2).strip()
        elif m := _CTBL.match(line):
            ctbl[int(m.group(1))] = m.group(2).strip()
        elif (m := _PLAIN.match(line)) and (name := _plain_name(m.group(2))):
            if plain.get(int(m.group(1)), name) != name:
                return None  # one value, two names: not a label table
            plain[int(m.group(1))] = name
        elif data_lines == 1 and _PLAIN_HEADER.match(line):
            data_lines = 0  # "index<TAB>name": a header row
        elif len(itk) + len(ctbl) + len(plain) == 0:
            return None  # the first data line decides: not a label table
    if itk:
        return LabelTable(path, TableKind.ITKSNAP, {v: n for v, n in itk.items() if v and n})
    if ctbl and len(ctbl) >= len(plain):
        return LabelTable(path, TableKind.SLICER, {v: n for v, n in ctbl.items() if v and n})
    # Plain tables are common notes too: most lines must read as "value name".
    if plain and len(plain) + len(ctbl) >= PLAIN_MIN_SHARE * data_lines:
        names = {**plain, **ctbl}
        return LabelTable(path, TableKind.TEXT, {v: n for v, n in names.items() if v and n})
    return None


def _from_slicer_csv(path: Path, text: str) -> LabelTable | None:
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows or "LabelValue" not in rows[0] or "Name" not in rows[0]:
        return None
    names = {int(r["LabelValue"]): r["Name"].strip() for r in rows
             if _is_int(r.get("LabelValue")) and (r.get("Name") or "").strip()}
    return LabelTable(path, TableKind.SLICER, {v: n for v, n in names.items() if v})


def _from_tsv(path: Path, text: str) -> LabelTable | None:
    rows = list(csv.DictReader(io.StringIO(text), delimiter="\t"))
    if not rows or "index" not in rows[0] or "name" not in rows[0]:
        return None
    names = {int(r["index"]): r["name"].strip() for r in rows
             if _is_int(r.get("index")) and (r.get("name") or "").strip()}
    return LabelTable(path, TableKind.BIDS, {v: n for v, n in names.items() if v})


_CARET_LABEL = re.compile(
    r'<Label\s+Key="(-?\d+)"[^>]*>\s*(?:<!\[CDATA\[)?(.*?)(?:\]\]>)?\s*</Label>', re.DOTALL)


def nifti_label_table(path: Path) -> LabelTable | None:
    """Label names in a NIfTI header extension (TotalSegmentator ``--ml`` writes them).

    Reads the header and its extensions only, never the voxels.
    """
    from app.readers import read_head

    try:
        head = read_head(path, 352)[0]
        if len(head) < 352 or head[348] == 0:
            return None  # no extensions announced
        hdr = nib.Nifti1Header.from_fileobj(io.BytesIO(head[:348]))
        offset = int(hdr["vox_offset"])
        if offset > 352:
            head = read_head(path, min(offset, 16 << 20))[0]
        hdr = nib.Nifti1Header.from_fileobj(io.BytesIO(head))
    except (SegmapError, OSError, EOFError, ValueError, nib.spatialimages.HeaderDataError):
        return None
    names: dict[int, str] = {}
    for ext in hdr.extensions:
        content = ext.get_content()
        if isinstance(content, bytes) and b"<Label" in content:
            for key, name in _CARET_LABEL.findall(content.decode("utf-8", "replace")):
                if int(key) and name.strip():
                    names[int(key)] = name.strip()
    return LabelTable(path, TableKind.NIFTI_EXT, names) if names else None


def seg_nrrd_table(path: Path) -> LabelTable | None:
    """Segment names and label values in a Slicer ``.seg.nrrd`` header (text part only)."""
    try:
        with open_regular(path, "NRRD file") as fh:
            head = fh.read(1 << 20)
    except (OSError, SegmapError):
        return None
    text = head.split(b"\n\n", 1)[0].decode("latin-1")
    fields = dict(re.findall(r"^(Segment\d+_\w+):=(.*)$", text, re.MULTILINE))
    names: dict[int, str] = {}
    for key, name in fields.items():
        if key.endswith("_Name"):
            value = fields.get(key[: -len("_Name")] + "_LabelValue", "")
            if _is_int(value) and int(value):
                names[int(value)] = name.strip()
    return LabelTable(path, TableKind.SEG_NRRD, names) if names else None
