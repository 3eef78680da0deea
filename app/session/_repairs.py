"""Repairs of the pairing: a mask moved to the image it was drawn on."""

from __future__ import annotations

from pathlib import Path

from app.errors import InputError
from app.geometry import Grid, compare_grids
from app.items import ImportShape
from app.session._edits import SessionEdits
from app.session._model import CaseState, Change


class SessionRepairs(SessionEdits):
    """What the user fixes on the Cases page when a mask was paired with the wrong image."""

    def move_mask(self, mask: Path, source: CaseState, target: CaseState) -> Change:
        """Move a mask to another case's image (re-pairing); ``Change.notes`` say what moved.

        The mask must sit on the target image in world space (same grid, or the same
        voxels reoriented), and fit the target's shape: a binary case takes binary
        masks; a label-map case takes label maps (and becomes shape II with two files).
        """
        if mask not in source.masks:
            raise InputError(f"{mask.name} is not a mask of case {source.name}.")
        if source is target:
            return Change()
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
        done = self._take_from(mask, source)
        moved = {k: v for k, v in source.suggestions.items() if k[0] == mask}
        for k in moved:
            del source.suggestions[k]
        target.masks.append(mask)
        target.suggestions.update(moved)
        if not target.binary and len(target.masks) > 1:
            target.shape = ImportShape.LABEL_MAPS
        self.sync_segmentations(source)
        self.sync_segmentations(target)
        done.insert(0, f"{mask.name} moved from {source.name} to {target.name}")
        return Change.of([source.name, target.name], cases=True, notes=tuple(done), count=1)

    def _take_from(self, mask: Path, source: CaseState) -> list[str]:
        """Remove ``mask`` and the mapping only it carried from ``source``."""
        done = []
        key = self.mapped_key_of(source, mask) if source.binary else None
        if key is not None and source.series.segment_map is not None:
            source.series.segment_map.remove(key)
            source.unreviewed.discard(key)
        source.masks.remove(mask)
        if not source.binary and source.series.segment_map is not None:
            left = {int(v) for f in source.masks if (cf := self.census(f)) is not None
                    for v in cf.nonzero if float(v).is_integer()}
            for k in [k for k in source.series.segment_map.segments if k not in left]:
                source.series.segment_map.remove(k)
                source.unreviewed.discard(k)
                done.append(f"value {k} left {source.name} with the mask")
            if len(source.masks) == 1:
                source.shape = ImportShape.LABEL_MAP
        return done
