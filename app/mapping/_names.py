"""Structure names normalised for matching: ``Kidney_L``, ``left kidney`` and
``kidneys-left`` all mean the same thing (anchors.md §13, normalisation rules).

A name becomes a bag of canonical tokens: lower case; split on separators and
camelCase; laterality (``l``, ``lt``, ``sin``, ``lh`` ...) made ``left`` /
``right``; British and Latin spellings made one (``tumour`` -> ``tumor``,
``vena`` -> ``vein``); plurals made singular; whole-name abbreviations expanded
(``LV`` -> left ventricle, ``PZ`` -> peripheral zone, ``IVC`` -> inferior vena cava);
Roman numerals made numbers (``Vermis III`` = ``Vermis_3``, ``Lobule VIIb`` = ``lobule 7b``),
so a numeral is compared as a number and never as letters (3 is not X).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SPLIT = re.compile(r"[^0-9a-zA-Z]+")

LEFT, RIGHT = "left", "right"
_LATERALITY = {
    "l": LEFT, "lt": LEFT, "left": LEFT, "sin": LEFT, "sinister": LEFT, "lh": LEFT,
    "r": RIGHT, "rt": RIGHT, "right": RIGHT, "dx": RIGHT, "dexter": RIGHT, "rh": RIGHT,
}
# One spelling per word: British / American, Latin / English, common short forms.
_SPELLING = {
    "tumour": "tumor", "tumours": "tumor", "oesophagus": "esophagus", "haemorrhage": "hemorrhage",
    "oedema": "edema", "haematoma": "hematoma", "centre": "center", "foetal": "fetal",
    "vena": "vein", "venae": "vein", "clavicula": "clavicle", "arteria": "artery",
    "musculus": "muscle", "ant": "anterior", "post": "posterior", "sup": "superior",
    "inf": "inferior", "med": "medial", "lat": "lateral", "vert": "vertebra",
    "grey": "gray", "glands": "gland",
}
# Whole-name abbreviations (oncology, prostate, cardiac, neuro, RT, vessels, lungs).
ABBREVIATIONS = {
    "et": "enhancing tumor", "ed": "edema", "ncr": "necrotic tumor core",
    "net": "non enhancing tumor", "ncr net": "necrotic tumor core", "tc": "tumor core",
    "wt": "whole tumor", "pz": "peripheral zone", "tz": "transition zone", "cz": "central zone",
    "afs": "anterior fibromuscular stroma", "lv": "left ventricle", "rv": "right ventricle",
    "la": "left atrium", "ra": "right atrium", "myo": "myocardium", "ivc": "inferior vena cava",
    "svc": "superior vena cava", "csf": "cerebrospinal fluid", "wm": "white matter",
    "gm": "gray matter", "lul": "lung upper lobe left", "lll": "lung lower lobe left",
    "rul": "lung upper lobe right", "rml": "lung middle lobe right",
    "rll": "lung lower lobe right", "gb": "gallbladder", "sma": "superior mesenteric artery",
}
# Placeholder names that carry no meaning (Slicer's Segment_1, ROI_3, class2, "7").
_PLACEHOLDER = re.compile(
    r"^(?:label|segment|seg|roi|class|structure|region|object|mask|value|l)?[\s_\-]*\d*$", re.I)
# I to XXXIX (cerebellar lobules, cranial nerves, Couinaud segments, ribs), with an optional
# sub-part letter (VIIb); strict, so "mix" or "dim" stay words.
_ROMAN = re.compile(r"^(x{0,3})(ix|iv|v?i{0,3})([ab]?)$")
_UPPER_ROMAN = re.compile(r"^[IVX]+[ab]$")
_ROMAN_VALUE = {"": 0, "i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7,
                "viii": 8, "ix": 9}
_NOT_ROMAN = frozenset({"via"})
_SMALL_WORDS = frozenset({"and", "of", "the", "in", "with", "to", "or"})
_KEEP_S = ("ss", "us", "is", "as", "os")  # pancreas, humerus, iris, pelvis: not plurals


def is_placeholder(name: str) -> bool:
    """True for names that say nothing: ``Segment_1``, ``Label 3``, ``class2``, ``7``."""
    return bool(_PLACEHOLDER.match(name.strip()))


def split_words(name: str) -> list[str]:
    """Lower-case words of a name, split on separators and camelCase (``BrainStem``)."""
    words: list[str] = []
    for piece in _SPLIT.split(name):
        # "VIIb" is lobule 7b, not camelCase "VI Ib".
        parts = [piece] if _UPPER_ROMAN.match(piece) else _CAMEL.sub(" ", piece).split()
        words.extend(w.lower() for w in parts if w)
    return words


def roman_to_number(word: str) -> str:
    """A lower-case Roman numeral as Arabic digits (``iii`` -> ``3``, ``viib`` -> ``7b``);
    any other word unchanged."""
    m = _ROMAN.match(word)
    if not m or word in _NOT_ROMAN or not (m.group(1) or m.group(2)):
        return word
    return f"{10 * len(m.group(1)) + _ROMAN_VALUE[m.group(2)]}{m.group(3)}"


def numbers(tokens: tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    """The tokens of a normalised name that hold a number (``3``, ``7b``, ``l3``)."""
    return frozenset(t for t in tokens if any(c.isdigit() for c in t))


def _singular(word: str) -> str:
    if len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("ae"):
        return word[:-1]  # vertebrae -> vertebra
    if word.endswith("s") and not word.endswith(_KEEP_S):
        return word[:-1]
    return word


@dataclass(frozen=True)
class NormName:
    """A normalised name: its canonical tokens (in order) and what they mean together."""

    tokens: tuple[str, ...]

    @property
    def bag(self) -> tuple[str, ...]:
        """The tokens sorted: word order does not matter (``left kidney`` = ``kidney left``)."""
        return tuple(sorted(self.tokens))

    @property
    def joined(self) -> str:
        """The tokens run together (``gall bladder`` = ``gallbladder``)."""
        return "".join(self.tokens)

    @property
    def side(self) -> str | None:
        """``left``, ``right`` or None."""
        sides = {t for t in self.tokens if t in (LEFT, RIGHT)}
        return sides.pop() if len(sides) == 1 else None

    @property
    def core(self) -> frozenset[str]:
        """The tokens without laterality."""
        return frozenset(t for t in self.tokens if t not in (LEFT, RIGHT))


@lru_cache(maxsize=65536)
def normalise(name: str, expand: bool = True) -> NormName:
    """Normalise a structure name (see the module docstring)."""
    words = split_words(name)
    if expand:
        whole = " ".join(words)
        if whole in ABBREVIATIONS:
            words = ABBREVIATIONS[whole].split()
    out = []
    for w in words:
        w = _LATERALITY.get(w, w)
        w = _SPELLING.get(w, w)
        w = roman_to_number(w)
        out.append(_singular(w))
    return NormName(tuple(out))


def display_name(name: str) -> str:
    """A name as a category: ``kidney_L`` -> ``Kidney Left``, ``vertebrae_L3`` -> ``Vertebrae L3``.

    Used when there is no taxonomy to match against. Words already capitalised
    (``PZ``, ``L3``) keep their case; laterality abbreviations are spelled out.
    """
    words = [w for w in re.split(r"[\s_]+", name.strip()) if w]
    out = []
    for w in words:
        side = _LATERALITY.get(w.lower())
        if side and (len(words) > 1 or len(w) > 2):
            out.append(side.capitalize())
        elif w.islower() and (not out or w not in _SMALL_WORDS):
            out.append(w[0].upper() + w[1:])
        else:
            out.append(w)
    return " ".join(out)
