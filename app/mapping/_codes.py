"""Coded concepts for categories: the SNOMED CT type (and its category) a name means.

The codes are DICOM's own, as pydicom ships them (``pydicom.sr``: PS3.16's context
groups and their concepts): first the Segmentation Property Types (CID 7151, which
gathers the anatomic, tissue, lesion and device types of CIDs 7191-7199 and 7166),
then the anatomic CIDs (Anatomic Region, Vascular and Muscular Anatomy, ...). A type's
category is the CID 7150 category whose property-type CID lists it. Nothing here is
typed by hand except a few synonyms (``_SYNONYMS``) and the one category override
below.

``suggest_code("kidney_left")`` -> Kidney (SCT 64033007) with the modifier Left
(SCT 7771000), as DICOM SEG and Slicer code laterality; names are compared as
``app.mapping._names`` normalises them (``Kidney_L`` = ``left kidney``), so every
word must be accounted for: ``rib_left_1`` gets no code, rather than Rib, because no
code says which rib. None when nothing fits; the confidence says whether the name
matched a code's own words (exact) or only through a synonym.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any, cast

from app.errors import InputError
from app.export import CodeTriple
from app.mapping import _names as names
from app.readers import Code

SCT = "SCT"
LEFT = Code(SCT, "7771000", "Left")
RIGHT = Code(SCT, "24028007", "Right")
# DICOM's CID 7150 now codes Anatomical Structure as 91723000; 3D Slicer's terminology,
# dcmqi, TotalSegmentator and IDC write 123037004 (the SRT T-D000A mapping), and Slicer
# looks segments up in its terminology by that code. Both are read as the same category.
ANATOMICAL_STRUCTURE = Code(SCT, "123037004", "Anatomical Structure")
DICOM_ANATOMICAL_STRUCTURE = Code(SCT, "91723000", "Anatomical Structure")

# Property-type CIDs and the CID 7150 category (pydicom keyword) of their types, in the
# order a type listed in several takes its category.
_TYPE_CIDS = (
    (7192, "AnatomicalStructure"), (7191, "Tissue"), (7166, "Tissue"),
    (7194, "MorphologicallyAbnormalStructure"), (7199, "MorphologicallyAbnormalStructure"),
    (7193, "PhysicalObject"), (7197, "BodySubstance"), (7198, "Substance"),
    (7195, "Function"), (7196, "SpatialAndRelationalConcept"),
)
_SEGMENTATION_TYPES = 7151
# Anatomic CIDs whose concepts are body structures (not modifiers, findings or bases).
_ANATOMIC_CIDS = frozenset((4, 3010, 4030, 4031, 6116, 6117, 6149, 7600, 7602, 8134, 9514,
                            12140))
# Words a code's name carries that a category name leaves out.
_FILLER = frozenset({"of", "the", "structure", "entire"})
# Synonyms, word groups replaced before a second look-up (a name's words, normalised).
_SYNONYMS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("bowel",), ("intestine",)),
    (("atrial", "appendage"), ("auricular", "appendage")),
    (("thyroid", "gland"), ("thyroid",)),
    (("tumor",), ("neoplasm",)),
    (("neoplasia",), ("neoplasm",)),
)


class CodeConfidence(StrEnum):
    """How a code was found for a name."""

    EXACT = "exact"  # the name's words are the code's (laterality as its modifier)
    SYNONYM = "synonym"  # only after a synonym replaced some words


@dataclass(frozen=True)
class CodeSuggestion:
    """A code for a category name, and how sure the match is."""

    code: CodeTriple
    confidence: CodeConfidence
    name: str  # the name matched

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code.to_json(), "confidence": str(self.confidence),
                "name": self.name}


@dataclass(frozen=True)
class _Entry:
    type: Code
    category: Code
    primary: bool  # a Segmentation Property Type (CID 7151), not only an anatomic concept


def _bag(text: str, expand: bool) -> tuple[str, ...]:
    return tuple(sorted(t for t in names.normalise(text, expand).tokens if t not in _FILLER))


def _keyword_text(keyword: str) -> str:
    return " ".join(names.split_words(keyword))


_Concepts = dict[str, dict[str, dict[str, tuple[str, list[int]]]]]
_Cids = dict[int, dict[str, list[str]]]


def _dicts() -> tuple[_Concepts, _Cids]:
    """pydicom's PS3.16 tables: concepts by scheme and keyword, and the CIDs' keywords."""
    from pydicom.sr._cid_dict import cid_concepts
    from pydicom.sr._concepts_dict import concepts

    return cast(_Concepts, concepts), cid_concepts


@lru_cache(maxsize=1)
def _categories() -> dict[str, Code]:
    """CID 7150's categories by pydicom keyword (Anatomical Structure as Slicer codes it)."""
    concepts, _ = _dicts()

    out = {}
    for kw in {k for _c, k in _TYPE_CIDS}:
        value, (meaning, _cids) = next(iter(concepts[SCT][kw].items()))
        out[kw] = Code(SCT, value, meaning)
    return out | {"AnatomicalStructure": ANATOMICAL_STRUCTURE}


@dataclass
class _Gather:
    meaning: str
    texts: list[tuple[str, str]]  # (name, its meaning): a keyword's words, or a meaning
    primary: bool
    category: str | None  # a CID 7150 keyword, when a property-type CID lists the code


_TAG = re.compile(r"\s*\([^)]*\)\s*$")  # SNOMED's semantic tag: "(body structure)"


def _gather() -> dict[str, _Gather]:
    """The codes DICOM lists as segmentation types or anatomy, with every name pydicom
    gives them (a code's other keywords are names too: UrinaryBladderStructure)."""
    concepts, cid_concepts = _dicts()
    rank = {cat: i for i, (_cid, cat) in enumerate(_TYPE_CIDS)}
    member: dict[str, str] = {}  # keyword -> category keyword (the first CID listing it)
    for cid, cat in reversed(_TYPE_CIDS):
        for kw in cid_concepts.get(cid, {}).get(SCT, []):
            member[kw] = cat
    primary_kw = set(cid_concepts[_SEGMENTATION_TYPES][SCT])
    found: dict[str, _Gather] = {}
    for kw, entries in concepts[SCT].items():
        for value, (meaning, cids) in entries.items():
            primary = kw in primary_kw or _SEGMENTATION_TYPES in cids
            if not (primary or _ANATOMIC_CIDS.intersection(cids)):
                continue
            g = found.setdefault(value, _Gather(meaning, [], False, None))
            if primary and not g.primary:
                g.meaning, g.primary = meaning, True  # the segmentation type's own wording
            if (listed := member.get(kw)) is not None and (
                    g.category is None or rank[listed] < rank[g.category]):
                g.category = listed
    for kw, entries in concepts[SCT].items():
        if kw.endswith("_Inactive"):
            continue
        for value, (meaning, _cids) in entries.items():
            if (known := found.get(value)) is not None:
                plain = _TAG.sub("", meaning)
                known.texts += [(plain, plain), (_keyword_text(kw), plain)]
    return found


@lru_cache(maxsize=1)
def _index() -> dict[tuple[str, ...], tuple[tuple[_Entry, int], ...]]:
    """Every normalised name of every code -> the codes it names, with how many of each
    code's names it is (``pulmonary vein`` is both names of 122972007, one of 430757002's,
    the Pulmonary vein great vessel)."""
    cats = _categories()
    index: dict[tuple[str, ...], dict[str, tuple[_Entry, int]]] = {}
    for value, g in _gather().items():
        category = cats[g.category] if g.category else ANATOMICAL_STRUCTURE
        for text, meaning in g.texts:
            bag = _bag(text, expand=False)
            if not bag:
                continue
            # A segmentation type keeps DICOM's meaning; other anatomy the name that matched.
            entry = _Entry(Code(SCT, value, g.meaning if g.primary else meaning), category,
                           g.primary)
            hits = index.setdefault(bag, {})
            hits[value] = (hits[value][0], hits[value][1] + 1) if value in hits else (entry, 1)
    return {k: tuple(v.values()) for k, v in index.items()}


def _look(bag: tuple[str, ...], primary: bool) -> _Entry | None:
    found = sorted(((e, n) for e, n in _index().get(bag, ()) if e.primary == primary),
                   key=lambda en: -en[1])
    if not found or (len(found) > 1 and found[1][1] == found[0][1]):
        return None  # two codes as good for one name: no guess
    return found[0][0]


def _find(tokens: tuple[str, ...]) -> CodeTriple | None:
    bag = tuple(sorted(tokens))
    side = {t for t in tokens if t in (names.LEFT, names.RIGHT)}
    core = tuple(sorted(t for t in tokens if t not in side))
    for primary in (True, False):
        if (e := _look(bag, primary)) is not None:
            return CodeTriple(e.category, e.type)
        if len(side) == 1 and core and (e := _look(core, primary)) is not None:
            return CodeTriple(e.category, e.type, LEFT if side == {names.LEFT} else RIGHT)
    return None


def _replace(tokens: tuple[str, ...], old: tuple[str, ...], new: tuple[str, ...]
             ) -> tuple[str, ...]:
    n = len(old)
    for i in range(len(tokens) - n + 1):
        if tokens[i:i + n] == old:
            return tokens[:i] + new + tokens[i + n:]
    return tokens


def suggest_code(category_name: str) -> CodeSuggestion | None:
    """The SNOMED CT type (with category, and laterality as modifier) a category name
    means, or None when no DICOM code fits every word of it.

    ``liver`` -> Liver (SCT 10200004, Anatomical Structure); ``kidney_left`` and
    ``left kidney`` -> Kidney + Left; ``tumor`` -> Neoplasm (Morphologically Abnormal
    Structure); ``small_bowel`` -> Small intestine (a synonym).
    """
    if not category_name.strip() or names.is_placeholder(category_name):
        return None
    tokens = tuple(t for t in names.normalise(category_name).tokens if t not in _FILLER)
    if not tokens:
        return None
    if (code := _find(tokens)) is not None:
        return CodeSuggestion(code, CodeConfidence.EXACT, category_name)
    swapped = tokens
    for old, new in _SYNONYMS:
        swapped = _replace(swapped, old, new)
    if swapped != tokens and (code := _find(swapped)) is not None:
        return CodeSuggestion(code, CodeConfidence.SYNONYM, category_name)
    return None


def suggest_codes(category_names: Iterable[str]) -> dict[str, CodeSuggestion | None]:
    """``suggest_code`` for each name."""
    return {n: suggest_code(n) for n in category_names}


# --- text and JSON ----------------------------------------------------------------------------

_CODE = re.compile(r"\s*([A-Za-z0-9_.\-]+):([^\s()+]+)(?:\s*\(([^)]*)\))?\s*")


def code_text(code: Code | CodeTriple) -> str:
    """``SCT:10200004``; a triple as its type and modifier, ``SCT:64033007+SCT:7771000``
    (the Mapping table's Code column; ``parse_code_text`` reads it back)."""
    if isinstance(code, Code):
        return str(code)
    return str(code.type) + (f"+{code.modifier}" if code.modifier is not None else "")


def code_label(code: CodeTriple) -> str:
    """What a triple means, for people: ``Kidney, Left``."""
    return code.type.meaning + (f", {code.modifier.meaning}" if code.modifier else "")


@lru_cache(maxsize=1)
def _meanings() -> dict[tuple[str, str], str]:
    concepts, _ = _dicts()

    out: dict[tuple[str, str], str] = {}
    for scheme, by_kw in concepts.items():
        for entries in by_kw.values():
            for value, (meaning, _cids) in entries.items():
                out.setdefault((scheme, value), meaning)
    return out


def known_meaning(scheme: str, value: str) -> str | None:
    """DICOM's meaning for a code (pydicom's dictionaries), or None when not listed."""
    return _meanings().get((scheme, value))


def _category_of(type_: Code) -> Code | None:
    for entries in _index().values():
        for e, _hits in entries:
            if e.type == type_:
                return e.category
    return None


def _parse_one(text: str, where: str) -> Code:
    m = _CODE.fullmatch(text)
    if m is None:
        raise InputError(f"{where}: {text.strip()!r} is not a code.",
                         "Write a code as SCHEME:VALUE, e.g. SCT:10200004 (Liver).")
    scheme, value, meaning = m.group(1), m.group(2), (m.group(3) or "").strip()
    meaning = meaning or known_meaning(scheme, value) or ""
    if not meaning:
        raise InputError(f"{where}: {scheme}:{value} is not a code DICOM lists, and no "
                         "meaning is given.", f"Add its meaning: {scheme}:{value} (Name).")
    return Code(scheme, value, meaning)


def parse_code_text(text: str, category: Code | None = None, where: str = "code"
                    ) -> CodeTriple:
    """The triple ``code_text`` wrote (meanings in parentheses optional for DICOM's codes).

    The category is the type's own (CID 7150) unless ``category`` is given; an unlisted
    type needs it. Raises InputError naming ``where``.
    """
    parts = text.split("+")
    if not text.strip() or len(parts) > 2:
        raise InputError(f"{where}: {text!r} is not a code.",
                         "Write the type, then optionally + its modifier: "
                         "SCT:64033007+SCT:7771000.")
    type_ = _parse_one(parts[0], where)
    modifier = _parse_one(parts[1], where) if len(parts) == 2 else None
    cat = category or _category_of(type_)
    if cat is None:
        raise InputError(f"{where}: {type_} is not a segmentation type DICOM lists, so its "
                         "category is not known.", "Give the category with the code.")
    return CodeTriple(cat, type_, modifier)


def code_to_json(code: CodeTriple) -> dict[str, Any]:
    """A triple as a template stores it."""
    return code.to_json()


def code_from_json(obj: Any, where: str = "code") -> CodeTriple:
    """The triple ``code_to_json`` wrote (InputError naming ``where`` when malformed)."""
    return CodeTriple.from_json(obj, where)


def same_category(a: Code, b: Code) -> bool:
    """True when two category codes mean the same (Anatomical Structure has two)."""
    anat = {ANATOMICAL_STRUCTURE, DICOM_ANATOMICAL_STRUCTURE}
    return a == b or (a in anat and b in anat)
