"""Repairs of the pairing: a mask moved to the image it was drawn on.

A move says first what it would change in what RedBrick stores (``move_plan``), and
the mask takes its mapping along: a binary mask keeps its category in a binary case
(or, coming from a label-map case, gets its own suggestion back); in a label-map case
its values take the categories they had where the target has none. Undo is the
wizard's (``app.session._history``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.errors import InputError
from app.geometry import Grid, GridMatch, Relation, compare_grids
from app.items import Category, ImportShape, Segment, SegmentMap, category_label, relpath
from app.mapping import CONFIDENT
from app.readers import Census
from app.session._edits import SessionEdits, _free_key
from app.session._model import CaseState, Change


@dataclass(frozen=True)
class MovePlan:
    """What moving ``mask`` from ``source`` to ``target`` would do.

    ``changes`` are the consequences for what RedBrick stores beyond the move itself
    (a value that would take another category, values leaving a case); empty when the
    mask simply moves with its mapping. ``carried`` is the mapping it takes along.
    """

    mask: Path
    source: str
    target: str
    changes: tuple[str, ...]
    carried: dict[int, Category]
    match: GridMatch


def _values(c: Census) -> list[int]:
    return sorted(int(v) for v in c.nonzero if float(v).is_integer())


class SessionRepairs(SessionEdits):
    """What the user fixes on the Cases page when a mask was paired with the wrong image."""

    def _mask_categories(self, mask: Path, case: CaseState, c: Census) -> dict[int, Category]:
        """The categories ``mask`` carries in ``case``, by its value in the file."""
        smap = case.series.segment_map
        if smap is None:
            return {}
        if case.binary:
            key = self.mapped_key_of(case, mask)
            seg = smap.segments.get(key) if key is not None else None
            category = seg.category if seg is not None else None
            if category is None:
                return {}
            return dict.fromkeys(_values(c)[:1], category)
        # A label map's values share one mapping: a value is the mask's own only when no
        # other file of the case holds it.
        others = {v for f in case.masks if f != mask and (cf := self.census(f)) is not None
                  for v in _values(cf)}
        out: dict[int, Category] = {}
        for v in _values(c):
            seg = smap.segments.get(v)
            if seg is not None and seg.category is not None and v not in others:
                out[v] = seg.category
        return out

    def move_plan(self, mask: Path, source: CaseState, target: CaseState) -> MovePlan:
        """Check a move and say what it would change; raises ``InputError`` when it cannot be.

        The mask must sit on the target image in world space (same grid, or the same
        voxels reoriented), and fit the target's shape: a binary case takes binary
        masks; a label-map case takes label maps (and becomes shape II with two files).
        """
        if mask not in source.masks:
            raise InputError(f"{mask.name} is not a mask of case {source.name}.")
        c = self.census(mask)
        if c is None:
            raise InputError(f"{mask.name} cannot be read, so it cannot be moved.")
        if target.binary and not c.binary:
            raise InputError(f"{mask.name} holds several values; case {target.name} takes one "
                             "binary mask per structure.", "Move it to a label-map case.")
        match = compare_grids(self.cache.image_grid(list(target.image.files)),
                              Grid.of(c.shape, c.affine))
        if not match.aligned:
            raise InputError(f"{mask.name} does not lie on the image of {target.name}: "
                             f"{match.message}", "Choose the image the mask was drawn on.")
        carried = self._mask_categories(mask, source, c)
        changes: list[str] = []
        if not target.binary:
            tmap = target.series.segment_map
            for v in _values(c):
                there = tmap.segments.get(v) if tmap is not None else None
                mine = carried.get(v)
                if there is not None and there.category is not None and mine != there.category:
                    what = f"{category_label(mine)}, " if mine is not None else ""
                    changes.append(
                        f"{mask.name}'s value {v} ({what}{c.nonzero.get(v, 0):,} voxels) is "
                        f"{category_label(there.category)} in {target.name}: the label maps of a "
                        f"case share one mapping, so RedBrick would store it as "
                        f"{category_label(there.category)}.")
                    carried.pop(v, None)
                elif mine is None:
                    changes.append(f"{mask.name}'s value {v} has no category in {target.name}: "
                                   "it would import as a view-only annotation until you map it.")
        if not source.binary and source.series.segment_map is not None:
            left = {v for f in source.masks if f != mask and (cf := self.census(f)) is not None
                    for v in _values(cf)}
            for v in _values(c):
                seg = source.series.segment_map.segments.get(v)
                if v not in left and seg is not None and seg.category is not None:
                    changes.append(f"Value {v} ({category_label(seg.category)}) leaves "
                                   f"{source.name} with the mask.")
        return MovePlan(mask, source.name, target.name, tuple(changes), carried, match)

    def move_mask(self, mask: Path, source: CaseState, target: CaseState) -> Change:
        """Move a mask to another case's image (re-pairing), taking its mapping along.

        ``Change.notes`` say what moved and what changed (``move_plan``'s changes).
        """
        if source is target:
            return Change()
        plan = self.move_plan(mask, source, target)
        reviewed = self._reviewed(mask, source)
        self._take_from(mask, source)  # what leaves with it, the plan has said
        moved = {k: v for k, v in source.suggestions.items() if k[0] == mask}
        for k in moved:
            del source.suggestions[k]
        target.masks.append(mask)
        target.suggestions.update(moved)
        how = "same grid" if plan.match.relation is Relation.SAME else "same voxels, reoriented"
        target.pairing[mask] = f"moved here by you from {source.name}; {how}"
        source.pairing.pop(mask, None)
        if not target.binary and len(target.masks) > 1:
            target.shape = ImportShape.LABEL_MAPS
            target.note = f"{len(target.masks)} label maps, one mapping"
        self._carry(mask, target, plan.carried, reviewed and bool(plan.carried))
        self.sync_segmentations(source)
        self.sync_segmentations(target)
        moved_note = f"{mask.name} moved from {source.name} to {target.name}"
        return Change.of([source.name, target.name], cases=True,
                         notes=(moved_note, *plan.changes), count=1)

    def _reviewed(self, mask: Path, case: CaseState) -> bool:
        key = self.mapped_key_of(case, mask) if case.binary else None
        return key is None or key not in case.unreviewed

    def _carry(self, mask: Path, target: CaseState, carried: dict[int, Category],
               reviewed: bool) -> None:
        """Give the moved mask's values the categories they had (where the target has none),
        else their own suggestions (then unreviewed)."""
        if not carried:
            for (f, v), sugg in target.suggestions.items():
                category = sugg.category_json()
                if f == mask and category is not None and sugg.usable(CONFIDENT) \
                        and (v is None) == target.binary:
                    carried[v if v is not None else 1] = category
            if not carried:
                return
        if target.series.segment_map is None:
            target.series.segment_map = SegmentMap()
            if target.binary:
                target.series.segment_map.flags["binaryMask"] = True
        smap = target.series.segment_map
        if target.binary:
            key = _free_key(smap)
            smap.set(key, Segment(category=next(iter(carried.values())),
                                  mask=relpath(mask, self.base), compact=False))
            if not reviewed:
                target.unreviewed.add(key)
            return
        for value, cat in carried.items():
            if value not in smap.segments:
                smap.set(value, Segment(category=cat))
                if not reviewed:
                    target.unreviewed.add(value)

    def _take_from(self, mask: Path, source: CaseState) -> None:
        """Remove ``mask`` and the mapping only it carried from ``source``."""
        key = self.mapped_key_of(source, mask) if source.binary else None
        if key is not None and source.series.segment_map is not None:
            source.series.segment_map.remove(key)
            source.unreviewed.discard(key)
            source.by_hand.discard(key)
        source.masks.remove(mask)
        if not source.binary and source.series.segment_map is not None:
            left = {int(v) for f in source.masks if (cf := self.census(f)) is not None
                    for v in cf.nonzero if float(v).is_integer()}
            for k in [k for k in source.series.segment_map.segments if k not in left]:
                source.series.segment_map.remove(k)
                source.unreviewed.discard(k)
                source.by_hand.discard(k)
            if len(source.masks) == 1:
                source.shape = ImportShape.LABEL_MAP
                source.note = "one label map"
