"""Mapping suggestions: a proposed category for every (file, value) or binary file.

Names come from sidecars and headers (:mod:`app.discover._sidecars`), from a binary mask's
file name (``kidney_left.nii.gz``) and, as a last resort, from known dataset
conventions (BraTS, KiTS). Each name is matched to the taxonomy's categories
(:class:`Matcher`, normalisation in :mod:`app.mapping._names`). Nothing is ever final by
itself: a :class:`Suggestion` carries its source and confidence and stays
``accepted=False`` until the user (or a template they saved) accepts it.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from app.discover import LabelTable, Layout, TableKind, structure_name
from app.items import Taxonomy, load_taxonomy
from app.mapping import _names as names
from app.readers import Census, split_suffix, value_text

CONFIDENT = 0.8  # suggestions at or above this are used by `segmap build`
Candidate = str | tuple[str, ...]  # a category name, or a nested category path

# Source confidences: a name written down by a tool or a person is certain; a file
# name almost; a dataset convention guessed from a folder layout is only a hint.
_CONF_TABLE = 1.0
_CONF_NEAR_TABLE = 0.95  # a colour table in the mask's folder (not named after the mask)
_CONF_CODES = 0.92  # a DICOM segment's coded concept: its label, when it names one, first
_CONF_FILENAME = 0.9
# Share of the smaller of a text table's values and a mask's that both must hold.
_PLAIN_SHARE_NAMED, _PLAIN_SHARE_NEAR = 0.5, 0.8
_CONF_CONVENTION = 0.6
_CONF_PLACEHOLDER = 0.3

# Known label conventions (anchors.md §13.4), used only when nothing names the values.
_BRATS_2021 = {1: "Necrotic Tumor Core", 2: "Peritumoral Edema", 4: "Enhancing Tumor"}
_BRATS_2023 = {1: "Necrotic Tumor Core", 2: "Peritumoral Edema", 3: "Enhancing Tumor"}
_KITS = {1: "Kidney", 2: "Tumor", 3: "Cyst"}


@dataclass(frozen=True)
class Suggestion:
    """A proposed category, where it came from and how sure it is.

    ``category`` is a name or a nested path (tuple); None when the name matched
    nothing in the taxonomy. ``name`` is the name the source gave, ``how`` says how
    it was matched.
    """

    category: Candidate | None
    source: str
    confidence: float
    accepted: bool = False
    name: str = ""
    how: str = ""

    def usable(self, min_confidence: float = CONFIDENT) -> bool:
        """True when ``segmap build`` uses it without asking: it names a category, and was
        accepted (a template) or is at least ``min_confidence`` sure."""
        return self.category is not None and (self.accepted or self.confidence >= min_confidence)

    def accept(self) -> Suggestion:
        """The same suggestion, accepted."""
        return replace(self, accepted=True)

    def category_json(self) -> str | list[str] | None:
        """The category as an items list writes it (a path as a list)."""
        return list(self.category) if isinstance(self.category, tuple) else self.category

    def to_json(self) -> dict[str, object]:
        return {"category": self.category_json(), "source": self.source,
                "confidence": round(self.confidence, 3), "accepted": self.accepted,
                "name": self.name, "how": self.how}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Suggestion:
        """The suggestion ``to_json`` wrote."""
        cat = d.get("category")
        return cls(tuple(cat) if isinstance(cat, list) else cat, d.get("source", ""),
                   float(d.get("confidence", 0.0)), bool(d.get("accepted", False)),
                   d.get("name", ""), d.get("how", ""))


@dataclass(frozen=True)
class Match:
    """A taxonomy category a name matched, with a score in [0, 1]."""

    category: Candidate
    score: float
    how: str


def _text(c: Candidate) -> str:
    return c if isinstance(c, str) else " / ".join(c)


class Matcher:
    """Matches structure names to taxonomy categories.

    ``candidates`` are category names or nested paths; with None (no taxonomy)
    every name is its own category, in display form (``kidney_left`` -> ``Kidney Left``).
    """

    def __init__(self, candidates: Sequence[Candidate] | None = None) -> None:
        self.candidates = list(candidates) if candidates is not None else None
        # Each candidate is matched through its leaf and every tail of its path
        # (["Abdomen", "Kidney", "Left"] answers to "Left", "Kidney Left", ...).
        self._variants: list[tuple[Candidate, str, names.NormName]] = []
        # Exact and normalised forms are looked up; only names none of them fit are
        # compared with every category (difflib), which is what costs time.
        self._exact: dict[str, list[int]] = {}
        for c in self.candidates or []:
            parts = (c,) if isinstance(c, str) else tuple(c)
            for k in range(len(parts) - 1, -1, -1):
                text = " ".join(parts[k:])
                norm = names.normalise(text, expand=False)
                i = len(self._variants)
                self._variants.append((c, text, norm))
                for key in (f"t:{text}", f"l:{text.lower()}", f"b:{norm.bag}",
                            f"j:{norm.joined}"):
                    self._exact.setdefault(key, []).append(i)
        self.match = lru_cache(maxsize=16384)(self._match)

    def _match(self, name: str) -> Match | None:
        """The best category for ``name``, or None when nothing is close."""
        if self.candidates is None:
            return Match(names.display_name(name), 1.0, "no taxonomy: the name itself")
        ranked = self.ranked(name)
        if not ranked:
            return None
        best = ranked[0]
        rivals = [m for m in ranked[1:] if m.score == best.score and m.category != best.category]
        if rivals and best.score >= CONFIDENT:
            alt = ", ".join(_text(m.category) for m in rivals[:3])
            return Match(best.category, 0.7, f"ambiguous: also {alt}")
        return best

    def ranked(self, name: str, limit: int = 5) -> list[Match]:
        """The closest categories for ``name``, best first (for a picker)."""
        raw = name.strip()
        plain = names.normalise(raw, expand=False)
        expanded = names.normalise(raw, expand=True)
        keys = (f"t:{raw}", f"l:{raw.lower()}", f"b:{plain.bag}", f"j:{plain.joined}",
                f"b:{expanded.bag}")
        near = sorted({i for k in keys for i in self._exact.get(k, ())})
        best: dict[Candidate, Match] = {}
        for i in near or range(len(self._variants)):
            cand, text, norm = self._variants[i]
            m = self._score(raw, plain, expanded, cand, text, norm)
            if m and (cand not in best or m.score > best[cand].score):
                best[cand] = m
        return sorted(best.values(), key=lambda m: -m.score)[:limit]

    @staticmethod
    def _score(raw: str, plain: names.NormName, expanded: names.NormName, cand: Candidate,
               text: str, norm: names.NormName) -> Match | None:
        if raw == text:
            return Match(cand, 1.0, "exact")
        if raw.lower() == text.lower():
            return Match(cand, 0.98, "same name, other case")
        if plain.bag == norm.bag or (plain.joined == norm.joined and plain.joined):
            return Match(cand, 0.95, "same name after normalisation")
        if expanded.bag == norm.bag:
            return Match(cand, 0.9, "abbreviation")
        q = expanded
        if q.side and norm.side and q.side != norm.side:
            return None  # never match left to right
        q_num, c_num = names.numbers(q.core), names.numbers(norm.core)
        if q_num and c_num and q_num != c_num:
            return None  # lobule 3 is not lobule 10, nor vertebra L3 vertebra L4
        if q.core == norm.core and q.core:
            if q.side and not norm.side:
                return Match(cand, 0.6, f"the category has no side ({q.side})")
            return Match(cand, 0.55, f"the category is {norm.side}, the name has no side")
        # Similar but not the same: proposals for a person to confirm, never confident.
        union = q.core | norm.core
        jaccard = len(q.core & norm.core) / len(union) if union else 0.0
        sm = difflib.SequenceMatcher(None, q.joined, norm.joined)
        ratio = sm.ratio() if sm.real_quick_ratio() >= 0.85 and sm.quick_ratio() >= 0.85 else 0.0
        score = max(0.3 + 0.4 * jaccard if jaccard >= 0.5 else 0.0,
                    0.5 + 1.5 * (ratio - 0.85) if ratio >= 0.85 else 0.0)
        return Match(cand, min(score, 0.75), "similar name") if score else None


@dataclass(frozen=True)
class Target:
    """What gets a category: a value of a label map, or a whole binary file (value None)."""

    file: Path
    value: int | None
    voxels: int


@dataclass
class Proposal:
    """The suggestions for one target, best first."""

    target: Target
    suggestions: list[Suggestion]

    @property
    def best(self) -> Suggestion | None:
        """The accepted suggestion, else the most confident one."""
        accepted = [s for s in self.suggestions if s.accepted]
        return accepted[0] if accepted else (self.suggestions[0] if self.suggestions else None)

    def to_json(self, rel: str) -> dict[str, object]:
        best = self.best
        return {"file": rel, "value": self.target.value, "voxels": self.target.voxels,
                "suggestion": best.to_json() if best else None,
                "alternatives": [s.to_json() for s in self.suggestions[1:4]]}


def _stem(path: Path) -> str:
    stem = split_suffix(path.name)[0].lower()
    for volume in (".nii", ".nrrd"):  # MRIcron's aal.nii.txt names aal.nii(.gz)
        if stem.endswith(volume) and len(stem) > len(volume):
            stem = stem[: -len(volume)]
    for tail in ("_labels", "-labels", "_label", "-label", "_colors", "_colortable", "_lut"):
        if stem.endswith(tail) and len(stem) > len(tail):
            return stem[: -len(tail)]
    return stem


def _plain_fits(t: LabelTable, mstem: str, mask: Path, values: Collection[int] | None
                ) -> bool:
    """A plain "value name" text table (a note can look like one) names a mask only when
    it sits beside it and, when the mask's census is known, holds its values: half of them
    for a table named after the mask (``aal.nii.txt``), nearly all and more than one for
    any other (``labels.txt``)."""
    if t.path.parent != mask.parent:
        return False
    if values is None or not t.names:
        return True
    shared = len(set(t.names) & set(values))
    small = min(len(t.names), len(values))
    if _stem(t.path) == mstem:
        return shared >= max(1, _PLAIN_SHARE_NAMED * small)
    return shared >= max(2, _PLAIN_SHARE_NEAR * small)


def applicable_tables(mask: Path, tables: Iterable[LabelTable], root: Path,
                      structure: str = "", values: Collection[int] | None = None
                      ) -> list[tuple[LabelTable, dict[int, str], float]]:
    """The label tables that name the values of ``mask``, with a confidence each.

    A table named after the mask (``seg.nii.gz`` + ``seg.ctbl``) and the mask's own
    header are certain; ``dataset.json`` covers the masks under its folder; other
    colour tables cover their folder and below, nearer ones first. A plain text table
    covers only the masks beside it whose ``values`` (the census's, when known) it names.
    """
    out: list[tuple[LabelTable, dict[int, str], float]] = []
    mstem = split_suffix(mask.name)[0].lower()
    for t in tables:
        if t.kind == TableKind.ITEMS:
            continue
        if t.kind == TableKind.TEXT and not _plain_fits(t, mstem, mask, values):
            continue
        if t.path == mask:  # the mask's own header (a SEG's codes: after its labels)
            out.append((t, t.names, _CONF_CODES if t.kind == TableKind.DICOM_CODES
                        else _CONF_TABLE))
            continue
        folder = t.path.parent
        if folder != mask.parent and folder not in mask.parents:
            continue
        if t.kind in (TableKind.NNUNET, TableKind.MSD):
            out.append((t, t.names, _CONF_TABLE))
        elif t.kind == TableKind.DCMQI:
            out.append((t, _dcmqi_table(t, structure), _CONF_NEAR_TABLE))
        elif _stem(t.path) == mstem:
            out.append((t, t.names, _CONF_TABLE))
        else:
            depth = len(mask.parent.relative_to(folder).parts)
            out.append((t, t.names, _CONF_NEAR_TABLE - 0.05 * depth))
    return sorted(out, key=lambda x: -x[2])


def _dcmqi_table(t: LabelTable, structure: str) -> dict[int, str]:
    # dcmqi lists one table per input file, in an order the JSON alone cannot tie
    # to files: use the one whose names match the file's name, else the merge.
    if len(t.per_file) == 1:
        return t.per_file[0]
    if structure:
        s = names.normalise(structure).core
        for table in t.per_file:
            if any(names.normalise(n).core == s for n in table.values()):
                return table
    values = [v for table in t.per_file for v in table]
    return t.names if len(values) == len(set(values)) else {}


def _convention(layout: Layout, values: set[int]) -> tuple[str, dict[int, str]] | None:
    if layout == Layout.BRATS and values and 4 in values and values <= {1, 2, 4}:
        return "BraTS 2021 label convention", _BRATS_2021
    if layout == Layout.BRATS and values and values <= {1, 2, 3}:
        return "BraTS 2023 label convention", _BRATS_2023
    if layout == Layout.KITS and values and values <= {1, 2, 3}:
        return "KiTS label convention", _KITS
    return None


def _named(name: str, source: str, conf: float, matcher: Matcher) -> Suggestion:
    if names.is_placeholder(name):
        return Suggestion(None, source, _CONF_PLACEHOLDER, name=name,
                          how="a placeholder name, not a structure")
    m = matcher.match(name)
    if m is None:
        return Suggestion(None, source, 0.0, name=name, how="no category matches this name")
    return Suggestion(m.category, source, conf * m.score, name=name, how=m.how)


def _from_items(category: object, source: str, matcher: Matcher) -> Suggestion:
    # An items list already holds categories; with a taxonomy, check it is still there.
    cat: Candidate
    if isinstance(category, list) and all(isinstance(x, str) for x in category):
        cat = tuple(category)
    elif isinstance(category, str):
        cat = category
    else:
        return Suggestion(None, source, 0.0, name=str(category),
                          how="a class id or internal form; map it by name")
    if matcher.candidates is None or cat in matcher.candidates:
        return Suggestion(cat, source, _CONF_TABLE, name=_text(cat), how="as in the items list")
    return _named(_text(cat), source, _CONF_TABLE, matcher)


def _rank(suggestions: list[Suggestion]) -> list[Suggestion]:
    seen: set[object] = set()
    out = []
    for s in sorted(suggestions, key=lambda s: (not s.accepted, -s.confidence)):
        key = (s.category, s.source)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def suggest_file(path: Path, census: Census, tables: Sequence[LabelTable], root: Path,
                 matcher: Matcher, *, binary_file: bool, case_key: str = "",
                 layout: Layout = Layout.GENERIC) -> list[Proposal]:
    """Suggestions for one mask: the whole file (``binary_file``) or each of its values."""
    structure = structure_name(path, case_key)
    resolved = path.resolve()
    items = [(t, t.by_file[resolved]) for t in tables if t.kind == TableKind.ITEMS
             and resolved in t.by_file]
    values = sorted(int(v) for v in census.nonzero if float(v).is_integer())
    named = applicable_tables(path, tables, root, structure, values)
    targets = ([Target(path, None, sum(census.nonzero.values()))] if binary_file
               else [Target(path, v, census.values[v]) for v in values])
    convention = _convention(layout, set(values)) if not binary_file else None
    out = []
    for target in targets:
        found: list[Suggestion] = []
        for t, cats in items:
            if target.value in cats:
                found.append(_from_items(cats[target.value], t.source, matcher))
        keys = [target.value] if target.value is not None else values[:1]
        for t, table, conf in named:
            for v in keys:
                if v in table:
                    found.append(_named(table[v], t.source, conf, matcher))
        # A file holding one structure is named by its file name (TotalSegmentator).
        if structure and (binary_file or len(values) == 1):
            found.append(_named(structure, "file name", _CONF_FILENAME, matcher))
        if convention and target.value in convention[1]:
            found.append(_named(convention[1][target.value], convention[0],
                                _CONF_CONVENTION, matcher))
        for t, _, _ in named:
            if target.value in t.ignore:
                found.append(Suggestion(None, t.source, _CONF_TABLE, name="ignore",
                                        how="nnU-Net's ignore label: not a structure"))
        out.append(Proposal(target, _rank(found)))
    return out


def describe(p: Proposal) -> str:
    """One line for a person: ``liver.nii.gz value 5 -> Liver (dataset.json, 0.95)``."""
    what = p.target.file.name + ("" if p.target.value is None
                                 else f" value {value_text(p.target.value)}")
    best = p.best
    if best is None:
        return f"{what}: no name found"
    cat = "(no category)" if best.category is None else _text(best.category)
    return f"{what} -> {cat} ({best.source}, {best.confidence:.2f}; {best.how})"


def candidates_of(taxonomy: Taxonomy) -> list[Candidate]:
    """The segmentation categories of a taxonomy, as :class:`Matcher` candidates.

    A category is its name when the name is unique, else its full path.
    """
    infos = [c for c in taxonomy.segmentation_categories() if not c.archived]
    counts: dict[str, int] = {}
    for c in infos:
        counts[c.name] = counts.get(c.name, 0) + 1
    return [c.name if counts[c.name] == 1 or len(c.path) < 2 else tuple(c.path) for c in infos]


def taxonomy_candidates(path: str | Path) -> list[Candidate]:
    """The candidates of a taxonomy file (see :func:`candidates_of`)."""
    return candidates_of(load_taxonomy(path))
