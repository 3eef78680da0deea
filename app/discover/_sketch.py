"""The cases of a scan that has not ended: what a user can look through while the census runs.

Once the masks are paired with their images (a few percent of a scan's time), every case
is known but its import shape is not: that needs the census of each of its masks, the
long part. ``Sketches`` keeps one ``CaseSketch`` per image, filled in as each census
comes back (in the walk's order, :func:`app.parallel.map_work`'s ``on_done``), and the
scan yields them in a ``ScanProgress``: the wizard's Cases page shows them as rows that
fill in, then replaces them with the scan's real cases when it ends.

A sketch is a preview, never used to build anything: the names are the images' (the
cases an image splits into by shape get their own names at the end), and masks
converted from DICOM SEG / RTSTRUCT appear only in the final cases.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

from app.discover._cases import split_by_shape
from app.discover._pairing import ImageRef, Pair
from app.items import ImportShape
from app.progress import Progress, Work, relay
from app.readers import Census

T = TypeVar("T")
_FRESH_S = 0.1  # a step's rows are at most this old (the wizard shows 4 a second)


@dataclass(frozen=True)
class CaseSketch:
    """One image and its paired masks as the scan knows them so far."""

    name: str  # the image's case name (the final case may add a suffix)
    image: str  # the image's label
    is_dicom: bool
    slices: int
    masks: tuple[str, ...]  # the masks' labels, in pairing order
    counted: int = 0  # masks whose census is in
    failed: int = 0  # masks that could not be read (left out at the end)
    labels: int = 0  # distinct non-zero values in the counted masks
    empty: int = 0  # counted masks without a non-zero voxel
    shapes: tuple[ImportShape, ...] = ()  # once every mask is in: the import shape(s)

    @property
    def ready(self) -> bool:
        """Every mask's census is in (the row will not change before the scan ends)."""
        return self.counted + self.failed >= len(self.masks)

    def status(self) -> str:
        """What a row says of it: counting, or what the census found."""
        if not self.ready:
            return f"counting labels: {self.counted} of {len(self.masks)} mask(s)"
        if self.shapes == (ImportShape.BINARY_MASKS,):  # a value 1 in each: count masks
            words = [f"{self.counted - self.empty} structure(s)"]
        else:
            words = [f"{self.labels} label(s)"]
        if self.empty:
            words.append(f"{self.empty} empty mask(s)")
        if self.failed:
            words.append(f"{self.failed} unreadable mask(s)")
        if len(self.shapes) > 1:
            words.append(f"splits into {len(self.shapes)} cases")
        return ", ".join(words)


@dataclass(frozen=True)
class ScanProgress(Progress):
    """Progress of a scan, with its cases so far (in case-name order; empty before the
    masks are paired)."""

    cases: tuple[CaseSketch, ...] = ()


class Sketches:
    """The cases of a pairing, filled in one census at a time."""

    def __init__(self, pairs: Sequence[Pair]) -> None:
        by_image: dict[ImageRef, list[Pair]] = {}
        for p in pairs:
            by_image.setdefault(p.image, []).append(p)
        order = sorted(by_image, key=lambda im: im.name or im.label)
        self._pairs = [by_image[im] for im in order]
        self._rows = [CaseSketch(im.name or im.label, im.label, im.is_dicom, _slices(im),
                                 tuple(p.mask.label for p in by_image[im])) for im in order]
        self._case_of: dict[Path, int] = {p.mask.path: i for i, group in enumerate(self._pairs)
                                          for p in group}
        self._censuses: dict[Path, Census] = {}
        self._values: list[set[float]] = [set() for _ in order]
        self._shown: tuple[CaseSketch, ...] = tuple(self._rows)
        self._changed, self._made = False, time.monotonic()

    def counted(self, path: Path, found: Census | None) -> None:
        """The census of the mask at ``path`` is in (``None``: it could not be read)."""
        i = self._case_of.get(path)
        if i is None:  # a mask no image took
            return
        row = self._rows[i]
        if found is None:
            row = replace(row, failed=row.failed + 1)
        else:
            self._censuses[path] = found
            self._values[i].update(found.nonzero)
            row = replace(row, counted=row.counted + 1, labels=len(self._values[i]),
                          empty=row.empty + found.empty)
        if row.ready:
            group = [p for p in self._pairs[i] if p.mask.path in self._censuses]
            image = self._pairs[i][0].image
            row = replace(row, shapes=tuple(s for s, _, _ in
                                            split_by_shape(image, group, self._censuses)))
        self._rows[i] = row
        self._changed = True  # shown again at a next step

    def during(self, work: Work[T]) -> Work[T]:
        """Run ``work``, each of its steps with the cases as they are then; its result.
        Closing this (a cancel) closes ``work``."""
        return (yield from relay(work, self.step))

    def step(self, p: Progress, fresh: bool = False) -> ScanProgress:
        """``p`` with the cases as they are now (``fresh``), or as they were at most
        ``_FRESH_S`` ago: a copy of every row per case would grow as the square of the
        cases (0.7 s at 10,000 in one process)."""
        now = time.monotonic()
        if self._changed and (fresh or now - self._made >= _FRESH_S):
            self._shown, self._changed, self._made = tuple(self._rows), False, now
        return ScanProgress(p.done, p.total, p.message, self._shown)


def _slices(image: ImageRef) -> int:
    shape = image.grid.shape if image.grid is not None else ()
    return int(shape[2]) if len(shape) > 2 else 0
