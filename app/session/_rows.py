"""The mapping rows of a case: one per value of its label maps, or per binary mask.

Rows are computed from the items list, the censuses and the suggestions every time
they are asked for, so they can never disagree with what will be exported.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from app.discover import segment_info
from app.items import Category, category_label
from app.mapping import Suggestion
from app.preview import RGB, default_colour
from app.session._model import CaseState, Change, SessionData


class RowStatus(StrEnum):
    """The state of a row, worst first; members compare by how bad they are (ABSENT < OK)."""

    ABSENT = "absent"  # mapped, but the value is in no file: RedBrick rejects it
    NOT_IN_TAXONOMY = "not-in-taxonomy"  # the category is not a usable taxonomy category
    UNMAPPED = "unmapped"  # in the files, no category: a view-only annotation
    SUGGESTED = "suggested"  # mapped from a suggestion nobody has accepted yet
    EMPTY = "empty"  # a binary mask with no voxels (left out)
    OK = "ok"

    @property
    def rank(self) -> int:
        """0 for the worst status, up to 5 for OK."""
        return _RANK[self]

    @property
    def needs_attention(self) -> bool:
        """True for statuses the user must act on (worse than EMPTY)."""
        return _RANK[self] < _RANK[RowStatus.EMPTY]

    def __lt__(self, other: str) -> bool:
        return _RANK[self] < _RANK[RowStatus(other)]

    def __le__(self, other: str) -> bool:
        return _RANK[self] <= _RANK[RowStatus(other)]

    def __gt__(self, other: str) -> bool:
        return _RANK[self] > _RANK[RowStatus(other)]

    def __ge__(self, other: str) -> bool:
        return _RANK[self] >= _RANK[RowStatus(other)]


# Each status's place, worst first: asked for every row of every case a table sums up
# (making the list of members each time was a fifth of summing 10,000 cases up).
_RANK = {status: i for i, status in enumerate(RowStatus)}


@dataclass(frozen=True)
class Row:
    """One line of the mapping table: a value of the label maps, or one binary mask."""

    key: int | None  # the segmentMap key (instance id), None while unmapped (binary)
    value: int | None  # the voxel value in the files (label maps); None for binary rows
    files: tuple[Path, ...]
    voxels: int
    volume_ml: float
    category: Category | None
    suggestion: Suggestion | None
    status: RowStatus
    message: str

    @property
    def label_value(self) -> int | None:
        """The value this row has in the merged volume RedBrick receives (its instance id)."""
        return self.key if self.key is not None else self.value


@dataclass(frozen=True)
class Consequences:
    """What a case's mapping does on import, in words: ``level`` is "ok", "warning" or
    "error"; ``short`` fits a case list ("3 to map")."""

    text: str
    level: str
    short: str


def consequences(rows: list[Row], included: bool = True, structure_set: bool = False
                 ) -> Consequences:
    """Spell out what the rows of a case do on import. No rows is never "all is well".
    ``structure_set``: the case's mask is an RT Structure Set, whose unmapped ROIs
    RedBrick's --rt-struct leaves out entirely."""
    if not included:
        return Consequences("This case is left out of the export (include it on the Cases "
                            "page).", "warning", "left out")
    if not rows:
        return Consequences("This case has no labels: its masks hold no values or could not be "
                            "read (see the Cases page). Nothing of it would be imported.",
                            "warning", "no labels")
    n = {s: sum(1 for r in rows if r.status == s) for s in RowStatus}
    parts, short = [], []
    if n[RowStatus.ABSENT]:
        parts.append(f"{n[RowStatus.ABSENT]} mapped value(s) occur in no file: RedBrick rejects "
                     "the task.")
    if n[RowStatus.NOT_IN_TAXONOMY]:
        parts.append(f"{n[RowStatus.NOT_IN_TAXONOMY]} categor(y/ies) are not in the taxonomy: "
                     "RedBrick refuses the task.")
    if errors := n[RowStatus.ABSENT] + n[RowStatus.NOT_IN_TAXONOMY]:
        short.append(f"{errors} problem(s)")
    if n[RowStatus.UNMAPPED]:
        values = ", ".join(str(r.label_value) for r in rows if r.status == RowStatus.UNMAPPED
                           and r.label_value is not None)
        parts.append(
            (f"ROI(s) {values} are not mapped: RedBrick's --rt-struct leaves them out, so "
             "they will not be imported." if values and structure_set else
             f"Value(s) {values} are not mapped: they will import as uneditable, view-only "
             "annotations." if values else
             f"{n[RowStatus.UNMAPPED]} mask(s) are not mapped: they will not be imported."))
        short.append(f"{n[RowStatus.UNMAPPED]} to map")
    if n[RowStatus.SUGGESTED]:
        parts.append(f"{n[RowStatus.SUGGESTED]} suggestion(s) to review: check them, then Accept.")
        short.append(f"{n[RowStatus.SUGGESTED]} to review")
    if not parts:
        if not any(r.status == RowStatus.OK for r in rows):
            return Consequences("Every mask of this case is empty: nothing would be imported.",
                                "warning", "empty")
        return Consequences("Every label is mapped to a category.", "ok", "mapped")
    level = "error" if errors else "warning"
    return Consequences(" ".join(parts), level, ", ".join(short))


@dataclass(frozen=True)
class LegendEntry:
    """One label value of the merged volume as the preview shows it (``name`` None:
    not mapped, a view-only annotation in RedBrick)."""

    value: int
    name: str | None
    colour: RGB
    voxels: int
    status: RowStatus


class SessionRows(SessionData):
    """Rows and colours of the session's cases."""

    def rows(self, case: CaseState) -> list[Row]:
        """The mapping rows of a case (see Row), in value order."""
        return self._binary_rows(case) if case.binary else self._labelmap_rows(case)

    def _status(self, case: CaseState, key: int | None, category: Category | None,
                present: bool, mapped: bool) -> tuple[RowStatus, str]:
        value = key
        if not mapped:
            return RowStatus.UNMAPPED, (
                f"Value {value} is not mapped: it will import as an uneditable, view-only "
                "annotation." if value is not None else
                "This mask is not mapped: it will not be imported.")
        if not present:
            return RowStatus.ABSENT, (
                f"Value {value} is mapped to {category_label(category)} but occurs in no file: "
                "RedBrick's label validation rejects it. Remove the mapping or fix the masks.")
        if self.taxonomy is not None:
            info = self.taxonomy.lookup(category)
            if info is None or info.archived or not info.is_segmentation:
                why = ("is not in the taxonomy" if info is None else
                       "is archived" if info.archived else "is not a segmentation category")
                return RowStatus.NOT_IN_TAXONOMY, (
                    f"{category_label(category)} {why}: RedBrick refuses the task. Choose a "
                    "category from the taxonomy.")
        if key in case.unreviewed:
            return RowStatus.SUGGESTED, "Suggested, not reviewed yet: check it and accept it."
        return RowStatus.OK, ""

    def _labelmap_rows(self, case: CaseState) -> list[Row]:
        smap = case.series.segment_map
        per_value: dict[int, list[tuple[Path, int, float]]] = {}
        for f in case.masks:
            c = self.census(f)
            if c is None:
                continue
            for v, n in c.nonzero.items():
                if float(v).is_integer():
                    per_value.setdefault(int(v), []).append((f, n, n * c.voxel_volume_ml))
        keys = set(smap.segments) if smap else set()
        rows = []
        for v in sorted(set(per_value) | keys):
            seg = smap.segments.get(v) if smap else None
            holders = per_value.get(v, [])
            files = tuple(f for f, _, _ in holders)
            sugg = next((case.suggestions[(f, v)] for f in files if (f, v) in case.suggestions),
                        None)
            status, msg = self._status(case, v, seg.category if seg else None, bool(holders),
                                       seg is not None)
            rows.append(Row(v, v, files, sum(n for _, n, _ in holders),
                            sum(ml for _, _, ml in holders), seg.category if seg else None,
                            sugg, status, msg))
        return rows

    def _binary_rows(self, case: CaseState) -> list[Row]:
        smap = case.series.segment_map
        rows = []
        seen: set[int] = set()
        keys = self.mask_keys(case)
        for f in case.masks:
            c = self.census(f)
            key = keys.get(self.real(f))
            seg = smap.segments[key] if smap is not None and key is not None else None
            voxels = sum(c.nonzero.values()) if c else 0
            ml = voxels * c.voxel_volume_ml if c else 0.0
            if key is not None:
                seen.add(key)
            if c is not None and c.empty and seg is None:
                status, msg = RowStatus.EMPTY, "Empty mask: nothing to import, left out."
            else:
                status, msg = self._status(case, key, seg.category if seg else None,
                                           voxels > 0, seg is not None)
            rows.append(Row(key, None, (f,), voxels, ml, seg.category if seg else None,
                            case.suggestions.get((f, None)), status, msg))
        for key, seg in (smap.segments.items() if smap else ()):
            if key in seen:
                continue
            why = (f"Instance {key}'s `mask` is a list ({', '.join(seg.mask)}): RedBrick's merge "
                   "fails on it. Write it as one path." if isinstance(seg.mask, list) else
                   f"Instance {key} names a mask that is not part of this case ({seg.mask}): "
                   "RedBrick rejects it.")
            rows.append(Row(key, None, (), 0, 0.0, seg.category, None, RowStatus.ABSENT, why))
        return rows

    def colour(self, row: Row) -> RGB:
        """The colour a row is drawn in: the one the user chose for its category, else its
        category's in the taxonomy (as RedBrick shows it), else the colour a DICOM SEG
        recommends for its segment, else a colour the session gives the category (the
        same in every case), else, unmapped, a distinct colour for its value."""
        if row.category is not None:
            chosen = self.chosen_colours.get(category_label(row.category))
            if chosen is not None:
                return chosen
            rgb = self.taxonomy.color_for(row.category) if self.taxonomy is not None else None
            if rgb is None and row.files:  # a segment of a DICOM SEG: its display colour
                info = segment_info(row.files[0], row.value)
                rgb = info.rgb if info is not None else None
            if rgb is not None:
                return (int(rgb[0]), int(rgb[1]), int(rgb[2]))
            return self.palette.colour(category_label(row.category))
        return default_colour(row.label_value or 0)

    def set_colour(self, category: str, rgb: RGB | None) -> Change:
        """Draw ``category`` (its label, ``Organs / Liver``) in ``rgb`` everywhere; None goes
        back to the taxonomy's (or the given) colour."""
        if rgb is None:
            self.chosen_colours.pop(category, None)
        else:
            self.chosen_colours[category] = (int(rgb[0]), int(rgb[1]), int(rgb[2]))
        return Change.of([c.name for c in self.cases], count=1)

    def colours(self, case: CaseState) -> dict[int, RGB]:
        """Colour per label value of the merged volume (instance ids)."""
        return {e.value: e.colour for e in self.legend(case)}

    def legend(self, case: CaseState) -> list[LegendEntry]:
        """What the preview names and colours: one entry per label value, in value order."""
        return sorted((LegendEntry(r.label_value, category_label(r.category)
                                   if r.category is not None else None,
                                   self.colour(r), r.voxels, r.status)
                       for r in self.rows(case) if r.label_value is not None),
                      key=lambda e: e.value)
