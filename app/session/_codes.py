"""What each category is, in DICOM's words: the SNOMED CT code a DICOM SEG and a Slicer
colour table carry for it.

A category's code is suggested from its name (``app.mapping.suggest_code``) until the user
confirms or changes it in the Mapping table's Code column; the confirmed code is kept on
every case that maps the category (so undo, autosave and templates keep it with them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from app.discover import derived_mask, segment_info
from app.errors import InputError
from app.export import CodeTriple
from app.items import Category, category_label
from app.mapping import code_text, parse_code_text, suggest_code
from app.session._edits import SessionEdits
from app.session._model import CaseState, Change


@dataclass(frozen=True)
class CodeChoice:
    """A category's code (None: none known or none wanted), whether it is more than a guess
    (the user confirmed it, or the DICOM SEG it came from says it) and where it came from."""

    code: CodeTriple | None
    confirmed: bool
    origin: str = ""  # "you", the SEG's file name, or "" for a suggestion from the name

    @property
    def text(self) -> str:
        """As the Code column shows and edits it: ``SCT:10200004`` (empty for none)."""
        return code_text(self.code) if self.code is not None else ""


def category_key(category: Category) -> str:
    """The name codes are kept under: the category as people read it."""
    return category_label(category)


def _leaf(category: Category) -> str:
    return category_label(category).rsplit(" / ", 1)[-1]


class SessionCodes(SessionEdits):
    """Codes of the categories the cases map."""

    def code_of(self, case: CaseState, category: Category | None,
                files: Iterable[Path] = (), value: int | None = None) -> CodeChoice:
        """The code ``category`` has in ``case``: the user's, else the one the DICOM SEG
        gives the segment (``files`` converted from it, or segment ``value`` of a SEG
        used as it is), else one suggested from the category's name."""
        if category is None:
            return CodeChoice(None, False)
        key = category_key(category)
        if key in case.codes:
            return CodeChoice(case.codes[key], True, "you")
        for f in files:
            info = segment_info(f, value)
            if info is not None and info.code:
                source = derived_mask(f)
                try:
                    return CodeChoice(CodeTriple.from_json(info.code), True,
                                      source[0] if source else Path(f).name)
                except InputError:
                    continue  # a manifest Segmap did not write: the name decides
        found = suggest_code(_leaf(category))
        return CodeChoice(found.code if found is not None else None, False)

    def _mapping(self, case: CaseState, key: str) -> bool:
        return any(c is not None and category_key(c) == key
                   for c in self.mapping_of(case).values())

    def set_code(self, category: Category, text: str) -> Change:
        """Confirm ``text`` (``SCT:10200004``, ``SCT:64033007+SCT:7771000``; empty: no code)
        as the code of ``category`` in every case that maps it. InputError when the text is
        not a code."""
        key = category_key(category)
        code = parse_code_text(text, where=f"the code of {key}") if text.strip() else None
        changed = []
        for case in self.cases:
            if self._mapping(case, key) and (key not in case.codes or case.codes[key] != code):
                case.codes[key] = code
                changed.append(case.name)
        if not changed:
            if not any(self._mapping(c, key) for c in self.cases):
                raise InputError(f"No case maps {key!r}.", "Map a value to it first.")
            return Change()
        what = "no code" if code is None else code_text(code)
        return Change.of(changed, notes=(f"{key}: {what}",), count=len(changed))
