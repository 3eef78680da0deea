"""Mapping templates: a mapping saved once, applied to every case with the same labels.

A template is a JSON file::

    {"format": "segmap-mapping-template", "version": 1,
     "values": {"1": "Liver", "2": ["Abdomen", "Liver Tumor"], "3": null},
     "files":  {"kidney_left": "Kidney Left", "liver": "Liver"},
     "codes":  {"Liver": {"category": {"scheme": "SCT", "value": "123037004", ...},
                          "type": {"scheme": "SCT", "value": "10200004", ...}}}}

``values`` maps label values of multi-label files (shapes I and II); ``files``
maps binary masks (shape III) by their structure name, normalised so
``case7_Kidney_Left_mask.nii.gz`` and ``kidney_left.nii.gz`` are the same entry.
``codes`` (optional) keeps the SNOMED CT codes confirmed for categories, by category
name (``null``: no code). ``null`` says "leave this out". A case whose values or files differ from the
template still gets the entries it shares; the differences are listed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.discover import structure_name
from app.errors import InputError
from app.export import CodeTriple
from app.items import instance_id
from app.jsonio import load_json, write_json_atomic
from app.mapping import _names as names
from app.mapping._suggest import Candidate, Proposal, Suggestion
from app.readers import split_suffix, value_text

FORMAT = "segmap-mapping-template"


def file_key(path: Path, case_key: str = "") -> str:
    """The template key of a binary mask: its structure name, normalised (``kidney_left``)."""
    structure = structure_name(path, case_key) or split_suffix(path.name)[0]
    return "_".join(names.normalise(structure, expand=False).tokens)


@dataclass(frozen=True)
class Difference:
    """How a case's labels differ from a template's."""

    case: str
    missing: tuple[str, ...]  # in the template, not in the case
    extra: tuple[str, ...]  # in the case, not in the template

    def to_json(self) -> dict[str, object]:
        return {"case": self.case, "missing": list(self.missing), "extra": list(self.extra)}


@dataclass
class Template:
    """A saved mapping (see the module docstring)."""

    values: dict[int, Candidate | None] = field(default_factory=dict)
    files: dict[str, Candidate | None] = field(default_factory=dict)
    path: Path | None = None
    codes: dict[str, CodeTriple | None] = field(default_factory=dict)  # by category name

    @property
    def source(self) -> str:
        return f"template {self.path.name}" if self.path else "template"

    def to_json(self) -> dict[str, Any]:
        def cat(c: Candidate | None) -> Any:
            return list(c) if isinstance(c, tuple) else c

        out = {"format": FORMAT, "version": 1,
               "values": {str(v): cat(c) for v, c in sorted(self.values.items())},
               "files": {k: cat(c) for k, c in sorted(self.files.items())}}
        if self.codes:
            out["codes"] = {k: c.to_json() if c is not None else None
                            for k, c in sorted(self.codes.items())}
        return out

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the template atomically."""
        write_json_atomic(path, self.to_json())
        return Path(path)

    def file_entry(self, key: str) -> tuple[bool, Candidate | None]:
        """(found, category) of a binary mask's key; word order does not matter."""
        if key in self.files:
            return True, self.files[key]
        bag = _bag(key)
        for k, cat in self.files.items():
            if _bag(k) == bag:
                return True, cat
        return False, None

    def difference(self, case: str, keys: Iterable[str], binary: bool) -> Difference | None:
        """The difference between a case's label set and the template's, or None."""
        if binary:
            mine = {_bag(k): k for k in self.files}
            theirs = {_bag(k): k for k in keys}
        else:
            mine = {(v,): v for v in map(value_text, self.values)}
            theirs = {(k,): k for k in keys}
        if mine.keys() == theirs.keys():
            return None
        return Difference(case,
                          tuple(sorted((mine[b] for b in mine.keys() - theirs.keys()),
                                       key=_sort_key)),
                          tuple(sorted((theirs[b] for b in theirs.keys() - mine.keys()),
                                       key=_sort_key)))

    def apply(self, proposals: list[Proposal], case_key: str = "") -> None:
        """Put the template's entry first, accepted, in each proposal it covers."""
        for p in proposals:
            t = p.target
            if t.value is None:
                found, cat = self.file_entry(file_key(t.file, case_key))
                if not found:
                    continue
            else:
                if t.value not in self.values:
                    continue
                cat = self.values[t.value]
            how = "left out by the template" if cat is None else "saved mapping"
            p.suggestions.insert(0, Suggestion(cat, self.source, 1.0, accepted=True,
                                               name=_text(cat), how=how))


def _text(c: Candidate | None) -> str:
    if c is None:
        return ""
    return c if isinstance(c, str) else " / ".join(c)


def _bag(key: str) -> tuple[str, ...]:
    return tuple(sorted(key.split("_")))


def _sort_key(k: str) -> tuple[int, float, str]:
    try:
        return (0, float(k), "")
    except ValueError:
        return (1, 0.0, k)


def _category(v: Any, where: str, path: Path) -> Candidate | None:
    if v is None or isinstance(v, str) and v.strip():
        return v
    if isinstance(v, list) and v and all(isinstance(x, str) and x for x in v):
        return tuple(v)
    raise InputError(f"{path}: {where} must be a category name, a path of names or null, "
                     f"not {v!r}.", 'Write e.g. "Liver" or ["Abdomen", "Liver"].')


def load_template(path: str | os.PathLike[str]) -> Template:
    """Read a template file, checking every entry."""
    p = Path(path)
    obj = load_json(p, "mapping template")
    if not isinstance(obj, dict) or not ({"values", "files"} & set(obj)):
        raise InputError(f"{p} is not a mapping template: it needs a `values` or `files` object.",
                         'Write {"values": {"1": "Liver"}} or save one with '
                         "`segmap build ... --save-template`.")
    t = Template(path=p)
    values, files = obj.get("values") or {}, obj.get("files") or {}
    if not isinstance(values, dict) or not isinstance(files, dict):
        raise InputError(f"{p}: `values` and `files` must be objects.")
    for k, v in values.items():
        value = instance_id(str(k))  # "01" or "1_0" would be read as another value
        if value is None:
            raise InputError(f"{p}: values key {k!r} is not a whole number written plainly.",
                             "Keys of `values` are the label values in the files, written "
                             'as plain numbers ("1", not "01" or " 1").')
        t.values[value] = _category(v, f"values[{k!r}]", p)
    for k, v in files.items():
        t.files["_".join(names.normalise(str(k), expand=False).tokens)] = \
            _category(v, f"files[{k!r}]", p)
    codes = obj.get("codes") or {}
    if not isinstance(codes, dict):
        raise InputError(f"{p}: `codes` must be an object of category name -> code.")
    for k, v in codes.items():
        t.codes[str(k)] = None if v is None else CodeTriple.from_json(v, f"{p}: codes[{k!r}]")
    return t


def template_from(mappings: Iterable[tuple[bool, Path, int | None, Candidate | None]],
                  case_keys: dict[Path, str] | None = None) -> tuple[Template, list[str]]:
    """A template from decided mappings ``(binary, file, value, category)``.

    Returns the template and the conflicts (one value or structure mapped to two
    categories in different cases); conflicting entries are left out.
    """
    t = Template()
    conflicts: list[str] = []
    seen_v: dict[int, set[Candidate | None]] = {}
    seen_f: dict[str, set[Candidate | None]] = {}
    for binary, file, value, cat in mappings:
        if binary or value is None:
            seen_f.setdefault(file_key(file, (case_keys or {}).get(file, "")), set()).add(cat)
        else:
            seen_v.setdefault(value, set()).add(cat)
    for v, cats in sorted(seen_v.items()):
        if len(cats) == 1:
            t.values[v] = next(iter(cats))
        else:
            conflicts.append(f"value {v}: {', '.join(sorted(_text(c) for c in cats))}")
    for k, cats in sorted(seen_f.items()):
        if len(cats) == 1:
            t.files[k] = next(iter(cats))
        else:
            conflicts.append(f"file {k}: {', '.join(sorted(_text(c) for c in cats))}")
    return t, conflicts
